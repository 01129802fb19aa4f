"""Sanad's settings: one typed object, read from the environment (and `.env`) by entry points."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval.embedding import DEFAULT_MODEL
from retrieval.errors import SettingsError


def _default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sanad" / "models"


# A Bot API token as @BotFather issues it: the bot's numeric id, a colon, a secret.
_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")


def _int_list(value: object, name: str) -> frozenset[int]:
    """Parse ids given as "1, -100200" (or a list): commas, semicolons or spaces between."""
    if value is None or value == "":
        return frozenset()
    items = re.split(r"[,;\s]+", value.strip()) if isinstance(value, str) else value
    if isinstance(items, int):
        items = [items]
    if not isinstance(items, list | tuple | set | frozenset):
        raise ValueError(f"{name} must be a comma-separated list of numeric ids")
    ids = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            ids.add(int(text))
        except ValueError:
            raise ValueError(f"{name}: {text!r} is not a numeric Telegram id") from None
    return frozenset(ids)


class Settings(BaseSettings):
    """Everything an operator can configure; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(Path("data"), alias="SANAD_DATA_DIR")
    source_dir: Path = Field(Path("seeds"), alias="SANAD_SOURCE_DIR")
    embedding_model: str = Field(DEFAULT_MODEL, alias="SANAD_EMBEDDING_MODEL")
    model_dir: Path = Field(default_factory=_default_model_dir, alias="SANAD_MODEL_DIR")
    allow_hub: bool = Field(False, alias="SANAD_ALLOW_HUB")
    chroma_url: str | None = Field(None, alias="SANAD_CHROMA_URL")
    chunk_chars: int = Field(700, alias="SANAD_CHUNK_CHARS", ge=200, le=2000)
    max_file_bytes: int = Field(20_000_000, alias="SANAD_MAX_FILE_BYTES", ge=1)
    top_k: int = Field(5, alias="SANAD_TOP_K", ge=1, le=100)

    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field("https://api.telegram.org", alias="TELEGRAM_API_BASE_URL")
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(frozenset(), alias="SANAD_ADMIN_IDS")
    allowed_chats: Annotated[frozenset[int], NoDecode] = Field(
        frozenset(), alias="SANAD_ALLOWED_CHATS"
    )
    webhook_listen: str = Field("0.0.0.0", alias="SANAD_WEBHOOK_LISTEN")
    webhook_port: int = Field(8443, alias="SANAD_WEBHOOK_PORT", ge=1, le=65535)
    webhook_url: str | None = Field(None, alias="SANAD_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(None, alias="SANAD_WEBHOOK_SECRET")
    rate_limit: int = Field(10, alias="SANAD_RATE_LIMIT", ge=0)
    rate_limit_seconds: float = Field(60.0, alias="SANAD_RATE_LIMIT_SECONDS", gt=0)
    context_minutes: float = Field(15.0, alias="SANAD_CONTEXT_MINUTES", ge=0)
    context_questions: int = Field(3, alias="SANAD_CONTEXT_QUESTIONS", ge=0, le=20)
    max_question_chars: int = Field(500, alias="SANAD_MAX_QUESTION_CHARS", ge=20, le=4000)
    bot_workers: int = Field(2, alias="SANAD_BOT_WORKERS", ge=1, le=64)
    queue_size: int = Field(32, alias="SANAD_QUEUE_SIZE", ge=0, le=10_000)
    watch_seconds: float = Field(0.0, alias="SANAD_WATCH_SECONDS", ge=0)

    # Optional generative answers; `none` keeps the extractive composer alone.
    llm: Literal["none", "openai", "ollama"] = Field("none", alias="SANAD_LLM")
    llm_base_url: str | None = Field(None, alias="SANAD_LLM_BASE_URL")
    llm_model: str | None = Field(None, alias="SANAD_LLM_MODEL")
    llm_api_key: SecretStr | None = Field(None, alias="SANAD_LLM_API_KEY")
    llm_timeout: float = Field(20.0, alias="SANAD_LLM_TIMEOUT", gt=0, le=600)
    llm_stream: bool = Field(True, alias="SANAD_LLM_STREAM")
    llm_rewrite: bool = Field(True, alias="SANAD_LLM_REWRITE")

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        # SettingsError, not ValueError: pydantic would copy the rejected token into its error.
        if value is not None and not _BOT_TOKEN.fullmatch(value.get_secret_value()):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is malformed: expected the form 123456789:AAE... "
                "that @BotFather gives"
            )
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> frozenset[int]:
        return _int_list(value, "SANAD_ADMIN_IDS")

    @field_validator("allowed_chats", mode="before")
    @classmethod
    def _parse_allowed_chats(cls, value: object) -> frozenset[int]:
        return _int_list(value, "SANAD_ALLOWED_CHATS")

    @field_validator("llm", mode="before")
    @classmethod
    def _llm_kind(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or "none"
        return value

    @field_validator("llm_base_url", "llm_model", "llm_api_key", mode="before")
    @classmethod
    def _blank_llm_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _api_root(cls, value: str) -> str:
        return value.strip().rstrip("/") or "https://api.telegram.org"

    @field_validator("chroma_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None

    @property
    def model_path(self) -> Path:
        """Return where the configured embedding model lives (or its hub id as a path)."""
        if self.embedding_model == DEFAULT_MODEL:
            return self.model_dir / DEFAULT_MODEL
        return Path(self.embedding_model).expanduser()
