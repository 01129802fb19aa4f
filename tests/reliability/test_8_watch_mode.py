"""Item 8: watch mode. With SANAD_WATCH_SECONDS set, the running bot notices new, changed and
removed files in the source folder and re-indexes them by itself, incrementally and
atomically; an unchanged folder costs a stat() per file and nothing more. Off by default.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot import replies
from bot.app import build_application
from retrieval.settings import Settings
from tests.bot.conftest import bot_settings, running, sanad_of
from tests.fakes.telegram_api import FakeTelegram
from tests.reliability.conftest import fake_engine

TITLE = "المغرب يعلن محصولا قياسيا من القمح"
ARTICLE = (
    f"{TITLE}\n\nأعلنت وزارة الفلاحة المغربية أن محصول القمح بلغ سبعة ملايين طن هذا العام، "
    "وهو أعلى محصول منذ عقد.\n"
)
QUESTION = "كم بلغ محصول القمح في المغرب هذا العام؟"


async def until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "watch mode did not act in time"
        await asyncio.sleep(0.05)


async def test_the_bot_reindexes_new_changed_and_removed_files_by_itself(
    tg: FakeTelegram, data: Path, source: Path, settings: Settings
) -> None:
    engine = fake_engine(data, source)
    rebuilds: list[Any] = []
    reindex = engine.reindex
    engine.reindex = lambda *a, **k: rebuilds.append(reindex(*a, **k)) or rebuilds[-1]  # type: ignore[method-assign]
    watched = bot_settings(settings, tg, SANAD_SOURCE_DIR=source, SANAD_WATCH_SECONDS=0.2)

    async def ask(user: int) -> str:
        tg.send_text(QUESTION, user_id=user)
        [reply] = await tg.wait_for_messages(user, count=1, timeout=10)
        return str(reply["plain_text"])

    async with running(engine, watched) as app:
        sanad = sanad_of(app)
        # The first look compares the index with the folder: nothing changed, nothing built.
        await until(lambda: rebuilds and not sanad.reindexing)
        assert not rebuilds[0].switched
        await asyncio.sleep(1.0)  # five more looks at an unchanged folder
        assert len(rebuilds) == 1, "an unchanged folder was re-indexed"

        (source / "wheat.txt").write_text(ARTICLE, "utf-8")
        await until(lambda: len(rebuilds) == 2 and not sanad.reindexing)
        assert rebuilds[1].added == ["wheat"]
        assert rebuilds[1].embedded < 5, "unchanged articles were embedded again"
        assert TITLE in await ask(4001)

        (source / "wheat.txt").write_text(ARTICLE.replace("سبعة", "تسعة"), "utf-8")
        await until(lambda: len(rebuilds) == 3 and not sanad.reindexing)
        assert rebuilds[2].changed == ["wheat"]
        assert "تسعة ملايين طن" in await ask(4002)

        (source / "wheat.txt").unlink()
        await until(lambda: len(rebuilds) == 4 and not sanad.reindexing)
        assert rebuilds[3].removed == ["wheat"]
        gone = await ask(4003)
        assert TITLE not in gone.rpartition(replies.SOURCES_HEADING)[2]


def test_watch_mode_is_off_by_default(data: Path, source: Path, settings: Settings) -> None:
    values = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",  # never contacted: only built
        "SANAD_DATA_DIR": settings.data_dir,
        "SANAD_SOURCE_DIR": source,
    }
    app = build_application(fake_engine(data, source), Settings(**values), warm=False)
    assert app.job_queue is not None
    assert not app.job_queue.jobs()
