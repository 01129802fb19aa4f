"""Item 7: resource bounds. A per-user question limit, a cap on question length, a bounded
queue of work (the rest turned away politely at once), and memory that stays flat as
questions keep coming (tests/bench/soak.py measures it over 1,000 questions).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import replies
from retrieval.settings import Settings
from tests.bot.conftest import StubEngine, bot_settings, running
from tests.fakes.telegram_api import FakeTelegram
from tests.reliability.processes import SEEDS, BotProcess, environment

QUESTIONS = (
    "من دعا الفصائل الفلسطينية إلى موسكو؟",
    "متى تبدأ محادثات الفصائل في موسكو؟",
    "ما موقف إسرائيل من زيارة وفد حماس إلى موسكو؟",
    "كم عدد القتلى في غزة بحسب وزارة الصحة؟",
)


async def test_one_user_is_held_to_the_limit_and_the_length_cap(
    tg: FakeTelegram, settings: Settings
) -> None:
    stub = StubEngine(settings)
    limited = bot_settings(settings, tg, SANAD_RATE_LIMIT="10", SANAD_MAX_QUESTION_CHARS="500")
    async with running(stub, limited):
        tg.send_text("ما " * 5000)
        for _ in range(13):
            tg.send_text(QUESTIONS[0])
        await tg.wait_for(lambda fake: not fake.pending_updates, timeout=10)
        await tg.wait_for_messages(count=12, timeout=10)

    texts = [m["plain_text"] for m in tg.sent_messages()]
    assert texts[0] == replies.question_too_long(500)
    assert replies.SOURCES_HEADING in texts[1]
    assert sum(replies.SOURCES_HEADING in t for t in texts) == 10
    assert sum(t.startswith("تمهّل قليلًا") for t in texts) == 1  # said once, then silence
    assert len(texts) == 12
    assert len(stub.asked) == 10  # neither the long one nor those over the limit cost work


async def test_a_full_queue_turns_questions_away_at_once_and_frees_up(
    tg: FakeTelegram, settings: Settings
) -> None:
    stub = StubEngine(settings, delay=0.5)
    one_worker = bot_settings(settings, tg, SANAD_BOT_WORKERS="1", SANAD_QUEUE_SIZE="2")
    readers = range(3001, 3009)
    async with running(stub, one_worker):
        for reader in readers:
            tg.send_text(QUESTIONS[0], user_id=reader)
        for reader in readers:
            await tg.wait_for_messages(reader, count=1, timeout=10)
        tg.send_text(QUESTIONS[1], user_id=3100)  # once the queue drained, answered again
        [later] = await tg.wait_for_messages(3100, count=1, timeout=10)
        await tg.wait_for(lambda fake: not fake.pending_updates, timeout=5)

    got = {reader: [m["plain_text"] for m in tg.sent_messages(reader)] for reader in readers}
    assert all(len(texts) == 1 for texts in got.values()), got
    answered = [r for r, texts in got.items() if replies.SOURCES_HEADING in texts[0]]
    busy = [r for r, texts in got.items() if texts[0] == replies.BUSY]
    assert len(answered) == 3  # one answering, two waiting
    assert len(busy) == 5
    assert replies.SOURCES_HEADING in later["plain_text"]
    assert len(stub.asked) == 4


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, seeds_index: Path) -> Iterator[BotProcess]:
    root = tmp_path_factory.mktemp("memory")
    data = root / "data"
    shutil.copytree(seeds_index, data)
    env = environment(data, SEEDS, SANAD_RATE_LIMIT="0")
    with FakeTelegram.start_in_thread() as api:
        process = BotProcess.launch(api, env, root / "bot.log")
        try:
            process.wait_ready()
            yield process
        finally:
            assert process.stop() == 0


def ask_many(bot: BotProcess, count: int, first_user: int) -> None:
    tg = bot.fake
    users = range(first_user, first_user + 40)
    before = len(tg.sent_messages())
    for i in range(count):
        tg.send_text(QUESTIONS[i % len(QUESTIONS)], user_id=users[i % len(users)])
        if i % 40 == 39:  # in waves, as a busy bot sees them
            tg.wait_for(lambda fake, n=before + i + 1: len(fake.sent_messages()) >= n, 60)
    tg.wait_for(lambda fake: len(fake.sent_messages()) >= before + count, 60)


def test_memory_stays_flat_as_questions_keep_coming(bot: BotProcess) -> None:
    ask_many(bot, 60, first_user=10_000)  # warm-up: caches, pools, the index pages
    start = bot.rss_mb()
    started = time.monotonic()
    ask_many(bot, 240, first_user=20_000)
    end = bot.rss_mb()
    print(f"bot RSS {start:.0f} MB -> {end:.0f} MB over 240 questions", end=" ")
    print(f"({240 / (time.monotonic() - started):.0f} questions/s)")
    assert end - start < 30, f"RSS grew from {start:.0f} MB to {end:.0f} MB"
