"""Item 3: re-indexing under load. While `sanad index` runs in another process, or an admin's
/reindex runs inside the bot, every question is answered from the previous index, without a
single failure; once the new build is complete the bot answers from it, with no restart.

A running bot learns of a build made by another process through the pointer file: it reads
the pointer's mtime before each question and reopens the index when it changed (README,
"Operating Sanad"). Each build is its own Chroma directory, written by one process only.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import replies
from tests.fakes.telegram_api import FakeTelegram, FakeTelegramThread
from tests.reliability.processes import (
    ADMIN,
    SEEDS,
    BotProcess,
    command,
    environment,
)

QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
MOSCOW_TITLES = (
    "روسيا تدعو قادة الفصائل الفلسطينية لمحادثات بموسكو",
    "روسيا تدعو الفصائل الفلسطينية إلى محادثات في غمرة توتر مع إسرائيل",
    "يدعو بوتين حماس لإجراء محادثات في موسكو بينما تتخذ الحرب منحىً عالميًّا",
)
READERS = range(2001, 2007)  # six readers asking at once
NEW_ARTICLES = {
    "sanad index": (
        "wheat.txt",
        "المغرب يعلن محصولا قياسيا من القمح\n\nأعلنت وزارة الفلاحة المغربية أن محصول القمح "
        "بلغ سبعة ملايين طن هذا العام، وهو أعلى محصول منذ عقد.\n",
        "كم بلغ محصول القمح في المغرب هذا العام؟",
    ),
    "/reindex": (
        "dam.txt",
        "إثيوبيا تنهي الملء الخامس لسد النهضة\n\nأعلنت الحكومة الإثيوبية انتهاء الملء الخامس "
        "لخزان سد النهضة بعد موسم أمطار غزيرة.\n",
        "ماذا أعلنت الحكومة الإثيوبية عن سد النهضة؟",
    ),
}
EMBED_SECONDS = "1.5"  # each embedding batch of a rebuild: the build stays in flight


@dataclass
class Served:
    bot: BotProcess
    source: Path
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, seeds_index: Path) -> Iterator[Served]:
    """One polling bot over an index of the seeds, its source folder writable."""
    root = tmp_path_factory.mktemp("reindex-under-load")
    source, data = root / "articles", root / "data"
    shutil.copytree(SEEDS, source)
    shutil.copytree(seeds_index, data)
    env = environment(data, source, SANAD_RATE_LIMIT="0", FAKESANAD_EMBED_DELAY=EMBED_SECONDS)
    with FakeTelegram.start_in_thread() as api:
        bot = BotProcess.launch(api, env, root / "bot.log")
        try:
            bot.wait_ready()
            yield Served(bot, source, root)
        finally:
            assert bot.stop() == 0, bot.log_text()[-3000:]


def replies_to(tg: FakeTelegramThread, chat: int) -> list[str]:
    return [m["plain_text"] for m in tg.sent_messages(chat)]


def is_answer(text: str) -> bool:
    sources = text.rpartition(replies.SOURCES_HEADING)[2]
    return replies.SOURCES_HEADING in text and any(t in sources for t in MOSCOW_TITLES)


@pytest.mark.parametrize("how", list(NEW_ARTICLES))
def test_questions_are_answered_throughout_a_rebuild_and_then_from_the_new_index(
    served: Served, how: str
) -> None:
    tg, bot = served.bot.fake, served.bot
    pid = bot.process.pid
    name, text, new_question = NEW_ARTICLES[how]
    (served.source / name).write_text(text, "utf-8")
    before = {chat: len(replies_to(tg, chat)) for chat in READERS}
    admin_before = len(replies_to(tg, ADMIN))

    builder: subprocess.Popen[bytes] | None = None
    if how == "sanad index":
        env = environment(bot_data(served), served.source, FAKESANAD_EMBED_DELAY=EMBED_SECONDS)
        builder = subprocess.Popen(
            command("index"), env=env, cwd=served.root, stdout=subprocess.DEVNULL
        )
    else:
        tg.send_text("/reindex", user_id=ADMIN)

    def rebuilding() -> bool:
        if builder is not None:
            return builder.poll() is None
        return not any("اكتملت" in t for t in replies_to(tg, ADMIN)[admin_before:])

    asked = dict.fromkeys(READERS, 0)
    started = time.monotonic()
    while rebuilding():
        assert time.monotonic() - started < 60, "the rebuild never finished"
        for chat in READERS:
            tg.send_text(QUESTION, user_id=chat)
            asked[chat] += 1
        time.sleep(0.2)
    if builder is not None:
        assert builder.wait() == 0, "sanad index failed"
    rebuild_seconds = time.monotonic() - started
    assert rebuild_seconds > 1.0, "the rebuild was too quick to overlap any question"

    for chat in READERS:
        tg.wait_for_messages(chat, count=before[chat] + asked[chat], timeout=30)
    got = {chat: replies_to(tg, chat)[before[chat] :] for chat in READERS}
    failed = [t for texts in got.values() for t in texts if not is_answer(t)]
    assert not failed, f"{len(failed)} of {sum(asked.values())} questions failed: {failed[:2]}"
    assert all(len(got[chat]) == asked[chat] for chat in READERS), "a reply was sent twice"

    # The new article answers at once: the same bot process, never restarted.
    asker = 3001 if how == "sanad index" else 3002
    tg.send_text(new_question, user_id=asker)
    [answer] = tg.wait_for_messages(asker, count=1, timeout=10)
    assert replies.SOURCES_HEADING in answer["plain_text"]
    assert text.splitlines()[0] in answer["plain_text"], answer["plain_text"]
    assert bot.process.poll() is None
    assert bot.process.pid == pid


def bot_data(served: Served) -> Path:
    return served.root / "data"
