"""Fixtures for the bot's tests: the fake Bot API server, the real Application polling it, and
a stub engine whose answers a test chooses (for formatting edge cases)."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.feedback import FeedbackStore
from bot.handlers import Sanad
from retrieval.indexing import IndexReport
from retrieval.models import Answer, Citation, Passage
from retrieval.settings import Settings
from tests.fakes.telegram_api import DEFAULT_USER_ID, FakeTelegram

ADMIN_ID = 7007
USER_ID = DEFAULT_USER_ID

AnyApplication = Any


def bot_settings(base: Settings, tg: FakeTelegram, **overrides: Any) -> Settings:
    """Return settings pointing the bot at the fake server, with an admin."""
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "SANAD_ADMIN_IDS": str(ADMIN_ID),
        "SANAD_DATA_DIR": base.data_dir,
        "SANAD_SOURCE_DIR": base.source_dir,
        **overrides,
    }
    return Settings(**values)


@contextlib.asynccontextmanager
async def running(
    engine: Any, settings: Settings, *, warm: bool = True
) -> AsyncIterator[AnyApplication]:
    """Run the bot's real Application, polling the fake server, for the duration of a test."""
    app = build_application(engine, settings, warm=warm)
    async with app:
        assert app.post_init is not None
        await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=1))
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)


def sanad_of(app: AnyApplication) -> Sanad:
    sanad = app.bot_data["sanad"]
    assert isinstance(sanad, Sanad)
    return sanad


def citation(n: int = 1, **fields: Any) -> Citation:
    values: dict[str, Any] = {
        "n": n,
        "article_id": f"art{n}",
        "chunk_id": f"art{n}:0",
        "file": f"art{n}.txt",
        "title": "روسيا تدعو الفصائل الفلسطينية إلى محادثات",
        "quote": "دعت روسيا الفصائل إلى محادثات في موسكو.",
        "source": "الجزيرة",
        "date": "2024-02-16",
        "url": None,
        **fields,
    }
    return Citation(**values)


def answer(
    text: str = "دعت روسيا الفصائل إلى محادثات في موسكو. [1]",
    citations: Sequence[Citation] | None = None,
    *,
    refused: bool = False,
    question: str = "سؤال",
    language: str = "ar",
) -> Answer:
    cites = tuple(citations) if citations is not None else (citation(),)
    return Answer(question, text, refused, cites, (), {"total_ms": 5.0}, language)


class StubEngine:
    """Stands in for `retrieval.engine.Engine`: answers what the test says, records calls."""

    def __init__(
        self,
        settings: Settings,
        reply: Answer | Callable[[str, Sequence[str]], Answer] | None = None,
        *,
        passages: dict[str, Passage | None] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.settings = settings
        self.reply = reply or answer()
        self.passages = passages or {}
        self.delay = delay
        self.asked: list[tuple[str, list[str]]] = []
        self.reindexed = threading.Event()
        self.reindex_delay = 0.0
        self._lock = threading.Lock()

    def embedder(self) -> None:
        return None

    def index(self) -> None:
        return None

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        with self._lock:
            self.asked.append((question, list(history)))
        if self.delay:
            time.sleep(self.delay)
        if callable(self.reply):
            return self.reply(question, history)
        return Answer(
            question,
            self.reply.text,
            self.reply.refused,
            self.reply.citations,
            self.reply.passages,
            self.reply.timings_ms,
            self.reply.language,
        )

    def passage(self, chunk_id: str) -> Passage | None:
        return self.passages.get(chunk_id)

    def articles(self) -> list[dict[str, Any]]:
        rows = [
            {"id": "a1", "title": "مقال <أول>", "source": None, "date": None, "url": None},
            {"id": "a2", "title": "مقال ثان", "source": "BBC", "date": "2024-02-20", "url": None},
        ]
        if self.reindexed.is_set():
            rows.append({"id": "a3", "title": "مقال جديد", "source": None, "date": None})
        return rows

    def reindex(self, source_dir: Path | None = None) -> IndexReport:
        time.sleep(self.reindex_delay)
        self.reindexed.set()
        return IndexReport(
            added=["a3"], unchanged=["a1", "a2"], passages=12, embedded=3, switched=True
        )


@pytest.fixture
def store(settings: Settings) -> FeedbackStore:
    return FeedbackStore.in_data_dir(settings.data_dir)
