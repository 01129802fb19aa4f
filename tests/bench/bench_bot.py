"""Benchmark the bot under load: 50 questions from 10 chats at once, through the fake Bot API.

The real bot (Application, handlers, rate limiter) and the real engine with the real model
answer questions from the dev set; the fake server records when each reply arrives. Prints
how many were answered, duplicates, p50/p95 from update to reply, and beside them the
engine's own time for one question asked alone.

    .venv/bin/python tests/bench/bench_bot.py [--data-dir DIR] [--chats 10] [--per-chat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.cli import prepare_environment

prepare_environment()

from bot.app import build_application
from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.fakes.telegram_api import FakeTelegram, FakeTelegramThread


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_questions(count: int) -> list[str]:
    rows = (REPO / "tests" / "data" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(row)["question"] for row in rows if row.strip()]
    return [questions[i % len(questions)] for i in range(count)]


def engine_alone(engine: Engine, questions: list[str]) -> list[float]:
    """Time the engine answering questions one at a time, after a warm-up."""
    engine.ask(questions[0])
    timings = []
    for question in questions:
        started = time.perf_counter()
        engine.ask(question)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def through_the_bot(
    engine: Engine, settings: Settings, api: FakeTelegramThread, questions: list[str], chats: int
) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], list[float]], float]:
    """Send every question at once; return when each was sent and when replies arrived."""
    app = build_application(engine, settings)
    arrived: dict[tuple[int, int], list[float]] = {}
    seen: set[tuple[int, int]] = set()

    def record(fake: FakeTelegram) -> bool:
        now = time.monotonic()
        for message in fake.sent_messages():
            key = (message["chat_id"], message["message_id"])
            if key in seen or not message["reply_markup"]:
                continue  # only the message carrying the buttons completes an answer
            seen.add(key)
            asked = (message["chat_id"], message["reply_to_message_id"] or -1)
            arrived.setdefault(asked, []).append(now)
        return len(arrived) >= len(questions)

    sent: dict[tuple[int, int], float] = {}
    async with app:
        assert app.post_init is not None
        assert app.updater is not None
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=1))
        await app.start()
        started = time.monotonic()
        for i, question in enumerate(questions):
            chat = 9000 + i % chats
            update = api.send_text(question, user_id=chat)
            sent[(chat, update["message"]["message_id"])] = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.to_thread(api.wait_for, record, 120.0)
        await asyncio.sleep(1.0)  # let late duplicates show up
        await asyncio.to_thread(api.wait_for, record, 0.1)
        wall = time.monotonic() - started
        await app.updater.stop()
        await app.stop()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    return sent, arrived, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="an existing index (default: index the seeds now)")
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--per-chat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("httpx", "bm25s", "chromadb", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    questions = load_questions(args.chats * args.per_chat)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(args.data_dir) if args.data_dir else Path(scratch) / "data"
        base = Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=REPO / "seeds")
        engine = Engine(base)
        if not args.data_dir:
            print("indexing the seeds with the real model ...", flush=True)
            engine.reindex()
        engine.embedder()
        alone = engine_alone(engine, questions[:20])
        refused = sum(engine.ask(q).refused for q in questions)
        with FakeTelegram.start_in_thread() as api:
            settings = Settings(
                SANAD_DATA_DIR=data,
                SANAD_SOURCE_DIR=REPO / "seeds",
                TELEGRAM_BOT_TOKEN=api.token,
                TELEGRAM_API_BASE_URL=api.base_url,
                SANAD_RATE_LIMIT=0,
            )
            sent, arrived, wall = asyncio.run(
                through_the_bot(engine, settings, api, questions, args.chats)
            )

    answered = [key for key in sent if key in arrived]
    duplicates = sum(len(arrived[key]) - 1 for key in answered)
    latencies = [(arrived[key][0] - sent[key]) * 1000 for key in answered]
    per_chat = Counter(chat for chat, _ in answered)
    print(
        f"bench_bot: {len(questions)} questions from {args.chats} chats at once "
        f"({args.per_chat} each), through the fake Bot API"
    )
    print(
        f"answered: {len(answered)}/{len(questions)}   duplicates: {duplicates}   "
        f"refusals among them: {refused}   chats served: {len(per_chat)}/{args.chats}"
    )
    if latencies:
        print(
            f"update -> reply: p50 {percentile(latencies, 0.5):.0f} ms   "
            f"p95 {percentile(latencies, 0.95):.0f} ms   max {max(latencies):.0f} ms   "
            f"(all done in {wall:.1f} s)"
        )
    print(
        f"engine alone, one question at a time: p50 {statistics.median(alone):.0f} ms   "
        f"p95 {percentile(alone, 0.95):.0f} ms   ({len(alone)} questions, "
        f"{settings.bot_workers} bot workers on {os.cpu_count()} cores)"
    )
    return 0 if len(answered) == len(questions) and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
