"""Sanad's settings: one typed object, read from the environment (and `.env`) by entry points."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.embedding import DEFAULT_MODEL


def _default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "sanad" / "models"


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
