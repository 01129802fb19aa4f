"""Item 5: Bot API faults. 429s with retry_after, 500s and 502s, dropped connections, hung
requests, and the whole API down for a while: no reply is lost, none is sent twice, and both
long polling and the webhook recover by themselves.

"Down for a minute" is shortened to DOWN_SECONDS here; nothing in the bot depends on how
long (a reply is retried for up to three minutes, polling backs off to 30 s at most).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import replies
from tests.fakes.telegram_api import FakeTelegram, FakeTelegramThread
from tests.reliability.processes import SEEDS, BotProcess, environment

QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
SLOW = "⏳"  # questions carrying it take ASK_SECONDS: the API can fail while they are answered
ASK_SECONDS = "1.5"
DOWN_SECONDS = 5.0
HANG_SECONDS = 5.5  # longer than python-telegram-bot's default 5 s read timeout
MODES = ("polling", "webhook")

Fault = Callable[[FakeTelegramThread], None]
FAULTS: dict[str, Fault] = {
    "429 retry_after": lambda tg: tg.fail_next("sendMessage", 429, retry_after=1),
    "500 twice": lambda tg: tg.fail_next("sendMessage", 500, times=2),
    "502": lambda tg: tg.fail_next("sendMessage", 502),
    "dropped connection": lambda tg: tg.drop_next("sendMessage"),
    "hung, then delivered": lambda tg: tg.hang_next("sendMessage", HANG_SECONDS),
    "hung, delivered after": lambda tg: tg.hang_next("sendMessage", HANG_SECONDS, deliver=False),
}
POLLING_FAULTS: dict[str, Fault] = {
    "getUpdates 502": lambda tg: tg.fail_next("getUpdates", 502, times=2),
    "getUpdates dropped": lambda tg: tg.drop_next("getUpdates"),
}


@pytest.fixture(scope="module")
def bots(
    tmp_path_factory: pytest.TempPathFactory, seeds_index: Path
) -> Iterator[dict[str, BotProcess]]:
    """A polling bot and a webhook bot, each with its own fake Bot API and data."""
    root = tmp_path_factory.mktemp("bot-api-faults")
    with FakeTelegram.start_in_thread() as polling_api, FakeTelegram.start_in_thread() as hook_api:
        running: dict[str, BotProcess] = {}
        for mode, api in zip(MODES, (polling_api, hook_api), strict=True):
            data = root / mode / "data"
            shutil.copytree(seeds_index, data)
            env = environment(
                data,
                SEEDS,
                SANAD_RATE_LIMIT="0",
                FAKESANAD_ASK_DELAY=ASK_SECONDS,
                FAKESANAD_SLOW_MARK=SLOW,
            )
            if mode == "webhook":
                env = BotProcess.webhook_env(env)
            args = ("--webhook",) if mode == "webhook" else ()
            running[mode] = BotProcess.launch(api, env, root / mode / "bot.log", *args)
        try:
            for bot in running.values():
                bot.wait_ready()
            yield running
        finally:
            statuses = {mode: bot.stop() for mode, bot in running.items()}
            assert statuses == dict.fromkeys(MODES, 0), [
                b.log_text()[-2000:] for b in running.values()
            ]


def answers(tg: FakeTelegramThread, chat: int) -> list[str]:
    return [m["plain_text"] for m in tg.sent_messages(chat)]


def assert_each_answered_once(tg: FakeTelegramThread, chats: list[int]) -> None:
    for chat in chats:
        tg.wait_for_messages(chat, count=1, timeout=60)
    time.sleep(1.0)  # a duplicate from a late retry would land by now
    for chat in chats:
        got = answers(tg, chat)
        assert len(got) == 1, f"chat {chat} got {len(got)} replies"
        assert replies.SOURCES_HEADING in got[0], got[0]


def in_both_modes(
    bots: dict[str, BotProcess], scenario: Callable[[BotProcess, str], None]
) -> None:
    """Run a scenario against the polling bot and the webhook bot at once (half the wait)."""
    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        runs = {mode: pool.submit(scenario, bots[mode], mode) for mode in MODES}
    for mode, run in runs.items():
        error = run.exception()
        if error is not None:
            raise AssertionError(f"{mode}: {error}") from error


def test_failing_requests_lose_no_reply_and_send_none_twice(
    bots: dict[str, BotProcess],
) -> None:
    def scenario(bot: BotProcess, mode: str) -> None:
        tg = bot.fake
        faults = {**FAULTS, **(POLLING_FAULTS if mode == "polling" else {})}
        for inject in faults.values():
            inject(tg)
        chats = [5000 + i for i in range(len(FAULTS) + 2)]
        for chat in chats:
            tg.send_text(QUESTION, user_id=chat)
        assert_each_answered_once(tg, chats)
        assert not tg.pending_updates
        tg.clear_faults()

    in_both_modes(bots, scenario)


def test_the_api_down_for_a_while_loses_no_reply_and_both_modes_recover(
    bots: dict[str, BotProcess],
) -> None:
    def scenario(bot: BotProcess, mode: str) -> None:
        tg = bot.fake
        in_flight, during, after = 6001, 6002, 6003
        tg.send_text(f"{SLOW} {QUESTION}", user_id=in_flight)
        tg.wait_for(lambda fake: any(a["chat_id"] == in_flight for a in fake.chat_actions), 10)
        # Down while that answer is being written: refused connections for the polling bot
        # (as if Telegram's address went away), 502 to everything for the webhook bot.
        tg.set_down(True, refuse=mode == "polling")
        tg.send_text(QUESTION, user_id=during)  # Telegram keeps it until the bot can fetch it
        time.sleep(DOWN_SECONDS)
        tg.set_down(False)
        assert_each_answered_once(tg, [in_flight, during])
        tg.send_text(QUESTION, user_id=after)
        tg.wait_for_messages(after, count=1, timeout=30)
        assert bot.process.poll() is None

    in_both_modes(bots, scenario)
