"""Item 6: security. The token never shows in logs (DEBUG and tracebacks included), errors or
replies; admin commands refuse everyone else, in groups and through edited messages too; the
chat allowlist holds for messages, buttons and inline queries; forged button data reaches
no other chat's answers and crashes nothing; no file outside the source folder is read.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot import replies
from bot.feedback import FeedbackStore
from retrieval import articles
from retrieval.articles import load_folder
from retrieval.settings import Settings
from tests.bot.conftest import ADMIN_ID, StubEngine, bot_settings, running
from tests.fakes.telegram_api import DEFAULT_GROUP_ID, FakeTelegram
from tests.reliability.conftest import fake_engine
from tests.reliability.processes import SEEDS, BotProcess, environment

QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
BOOM = "💥"  # the fake engine fails on it with an error quoting the Bot API URL, token and all
ALICE, BOB = 1101, 1102


# --- the token -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def debug_bot(tmp_path_factory: pytest.TempPathFactory, seeds_index: Path) -> Iterator[BotProcess]:
    """`sanad -vv bot` (DEBUG logging) whose engine fails on BOOM with the token in the error."""
    root = tmp_path_factory.mktemp("token")
    data = root / "data"
    shutil.copytree(seeds_index, data)
    env = environment(data, SEEDS, FAKESANAD_EXPLODE=BOOM)
    with FakeTelegram.start_in_thread() as api:
        api.set_down(True)  # the bot starts while the API is down: bootstrap errors are logged
        bot = BotProcess.launch(api, env, root / "bot.log")
        try:
            bot.wait_in_log("Failed run number 1")
            api.set_down(False)
            bot.wait_ready()
            yield bot
        finally:
            bot.stop()


def test_the_token_never_shows_in_logs_tracebacks_or_replies(debug_bot: BotProcess) -> None:
    tg = debug_bot.fake
    tg.drop_next("sendMessage")
    tg.fail_next("sendMessage", 500)
    tg.send_text(QUESTION, user_id=ALICE)
    tg.send_text(f"{BOOM} {QUESTION}", user_id=BOB)
    tg.wait_for_messages(ALICE, count=1, timeout=20)
    [apology] = tg.wait_for_messages(BOB, count=1, timeout=20)
    assert apology["plain_text"] == replies.APOLOGY
    assert debug_bot.stop() == 0

    log = debug_bot.log_text()
    # The failure was logged in full, at DEBUG level, traceback and all...
    assert "DEBUG" in log
    assert "Traceback (most recent call last)" in log
    assert "ConnectionError: request to http://127.0.0.1" in log
    assert "[REDACTED]" in log
    # ... and neither the token nor its secret half is anywhere, in any encoding.
    secret = tg.token.partition(":")[2]
    everything = [log, *(str(m) for m in tg.sent_messages()), *map(str, tg.callback_answers)]
    for form in (tg.token, secret, quote(tg.token, safe="")):
        assert not [text for text in everything if form in text], form


# --- admin commands ------------------------------------------------------------------------


async def test_admin_commands_refuse_everyone_else_everywhere(
    tg: FakeTelegram, settings: Settings
) -> None:
    stub = StubEngine(settings)
    async with running(stub, bot_settings(settings, tg)):
        tg.send_text("/reindex", user_id=ALICE)
        tg.send_text("/stats", user_id=ALICE)
        tg.send_text("/reindex@sanad_test_bot", user_id=ALICE, chat_type="group")
        tg.send_text("/stats@sanad_test_bot", user_id=ALICE, chat_type="group")
        await tg.wait_for(lambda fake: len(fake.sent_messages()) == 4, timeout=10)
        # Edited into a command: edits never run commands, whoever makes them.
        for user in (ALICE, ADMIN_ID):
            sent = tg.send_text(
                "متى تبدأ المحادثات؟", user_id=user, chat_id=-4002000 - user, chat_type="group"
            )
            tg.edit_text(sent, "/reindex@sanad_test_bot")
        # An admin's /stats in a group would show users' questions to everyone there.
        tg.send_text("/stats@sanad_test_bot", user_id=ADMIN_ID, chat_type="group")
        await tg.wait_for(lambda fake: len(fake.sent_messages()) == 5, timeout=10)
        await tg.wait_for(lambda fake: not fake.pending_updates, timeout=10)

    texts = [m["plain_text"] for m in tg.sent_messages()]
    assert texts[:4] == [replies.ADMIN_ONLY] * 4
    assert texts[4] == replies.STATS_PRIVATE_ONLY
    assert not stub.reindexed.is_set()


# --- the allowlist -------------------------------------------------------------------------


async def test_the_allowlist_holds_for_messages_buttons_and_inline_queries(
    tg: FakeTelegram, settings: Settings
) -> None:
    stub = StubEngine(settings)
    async with running(stub, bot_settings(settings, tg, SANAD_ALLOWED_CHATS=str(ALICE))):
        tg.send_text(QUESTION, user_id=ALICE)
        [answer] = await tg.wait_for_messages(ALICE, count=1, timeout=10)
        asked = len(stub.asked)
        # Bob, outside the list: in private, in a group, by a button, inline.
        tg.send_text(QUESTION, user_id=BOB)
        tg.send_text(f"@sanad_test_bot {QUESTION}", user_id=BOB, chat_type="group")
        [refusal] = await tg.wait_for_messages(BOB, count=1, timeout=10)
        tg.raw_update({"callback_query": button_press(BOB, refusal, "c:1:1")})
        tg.inline_query(QUESTION, user_id=BOB)
        await tg.wait_for(lambda fake: len(fake.callback_answers) == 1, timeout=10)
        await tg.wait_for(lambda fake: len(fake.inline_answers) == 1, timeout=10)
        await tg.wait_for(lambda fake: not fake.pending_updates, timeout=10)

    assert refusal["plain_text"] == replies.CHAT_NOT_ALLOWED
    assert tg.callback_answers[0]["text"] == replies.CHAT_NOT_ALLOWED
    assert tg.inline_answers[0]["results"] == []
    assert not tg.sent_messages(DEFAULT_GROUP_ID)
    assert len(tg.sent_messages(BOB)) == 1, "a passage reached a chat outside the list"
    assert len(stub.asked) == asked, "the engine answered someone outside the list"
    assert answer["plain_text"] != replies.CHAT_NOT_ALLOWED


# --- forged buttons ------------------------------------------------------------------------


def button_press(user: int, message: dict[str, Any], data: str) -> dict[str, Any]:
    """A callback query as a modified client can send it: any data under a real message."""
    return {
        "id": f"forged-{user}-{abs(hash(data))}",
        "from": {"id": user, "is_bot": False, "first_name": "Forger"},
        "message": {
            "message_id": message["message_id"],
            "date": message["date"],
            "chat": {"id": message["chat_id"], "type": "private", "first_name": "Forger"},
            "text": message["plain_text"],
        },
        "chat_instance": "forged",
        "data": data,
    }


FORGED = (
    "c:{alice}:1",  # Alice's answer, pressed under Bob's message
    "f:{alice}:0",  # a vote on Alice's answer
    "c:99999999999999999999:1",
    "c:1:1'; DROP TABLE answers; --",
    "f:{alice}:7",
    "c:-1:1",
    "c::",
    "x" * 64,
    "💥" * 16,
    "",
)


async def test_forged_button_data_reaches_no_other_chat_and_crashes_nothing(
    tg: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    stub = StubEngine(settings, passages={})
    async with running(stub, bot_settings(settings, tg)) as app:
        tg.send_text(QUESTION, user_id=ALICE)
        tg.send_text(QUESTION, user_id=BOB)
        [alices] = await tg.wait_for_messages(ALICE, count=1, timeout=10)
        [bobs] = await tg.wait_for_messages(BOB, count=1, timeout=10)
        alice_id = answer_id(alices)
        for data in FORGED:
            tg.raw_update({"callback_query": button_press(BOB, bobs, data.format(alice=alice_id))})
        tg.send_text(f"/start c{alice_id}_1", user_id=BOB)  # a forged deep link
        await tg.wait_for(lambda fake: len(fake.callback_answers) == len(FORGED), timeout=10)
        [_, deep_link] = await tg.wait_for_messages(BOB, count=2, timeout=10)
        # Alice's own button still opens her citation.
        tg.press_button(alices, f"c:{alice_id}:1")
        await tg.wait_for_messages(ALICE, count=2, timeout=10)
        store: FeedbackStore = app.bot_data["sanad"].store
        votes = store.feedback()

    assert [a["text"] for a in tg.callback_answers[: len(FORGED)]] == [replies.STALE_BUTTON] * len(
        FORGED
    )
    assert deep_link["plain_text"] == replies.STALE_BUTTON
    assert len(tg.sent_messages(BOB)) == 2, "a forged button opened a passage"
    assert votes == [], "a forged button voted on another chat's answer"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def answer_id(message: dict[str, Any]) -> int:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return int(
        next(b["callback_data"] for b in buttons if b["callback_data"].startswith("c:")).split(
            ":"
        )[1]
    )


# --- files outside the source folder ---------------------------------------------------------

SECRET = "كلمةالسرالمخفية"


def test_no_file_outside_the_source_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"سر خارجي\n\nهذا نص سري فيه {SECRET} لا يجوز قراءته.\n")
    source = tmp_path / "articles"
    shutil.copytree(SEEDS, source)
    (source / "link.txt").symlink_to(outside / "secret.txt")
    (source / "folder").symlink_to(outside, target_is_directory=True)
    (source / "relative.md").symlink_to("../outside/secret.txt")
    front = "---\ntitle: مقال\ninclude: ../outside/secret.txt\nfile: {}\npath: /etc/passwd\n---\n"
    (source / "front.md").write_text(
        front.format(outside / "secret.txt") + "نص المقال عن الطقس في المدينة اليوم.\n", "utf-8"
    )
    (source / "swapped.txt").write_text("مقال عادي عن الزراعة والري في الريف.\n", "utf-8")
    read_bytes = articles._read_bytes

    def swap_before_reading(path: Path, max_bytes: int) -> bytes:
        # Listed as a regular file, then replaced by a link to the secret before it is read.
        if path.name == "swapped.txt" and not path.is_symlink():
            path.unlink()
            path.symlink_to(outside / "secret.txt")
        return read_bytes(path, max_bytes)

    monkeypatch.setattr(articles, "_read_bytes", swap_before_reading)
    loaded = load_folder(source)
    report = fake_engine(tmp_path / "data", source).reindex()

    reasons = {s.file: s.reason for s in report.skipped}
    for name in ("link.txt", "folder", "relative.md", "swapped.txt"):
        assert reasons.get(name) == "symlink points outside the source folder", (name, reasons)
    assert all(SECRET not in a.text for a in loaded.articles)
    texts = " ".join(a.text + a.title for a in load_folder(source).articles)
    assert SECRET not in texts
    assert "root:" not in texts  # /etc/passwd was not followed from front matter
