"""The real bot, end to end: `sanad bot` as a subprocess with the real model over an index
built by `sanad index`, talking to the fake Bot API server. One polling bot and one webhook
bot start together (model loads overlap) and serve every scenario of the module.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import replies
from tests.fakes.telegram_api import FakeTelegram, FakeTelegramThread
from tests.reliability.processes import (
    ADMIN,
    SEEDS,
    START_TIMEOUT,
    BotProcess,
    command,
)
from tests.reliability.processes import environment as base_environment

pytestmark = pytest.mark.model

QUESTION = "لماذا دعت روسيا الفصائل الفلسطينية إلى موسكو؟"
ANSWER_TIMEOUT = 30.0
NEW_ARTICLE = """\
المغرب يعلن محصولا قياسيا من القمح هذا العام

الرباط - أعلنت وزارة الفلاحة المغربية الاثنين أن محصول القمح بلغ سبعة ملايين طن هذا العام، \
وهو أعلى محصول منذ عقد، بفضل الأمطار الغزيرة التي شهدتها البلاد في الربيع.

وقال وزير الفلاحة إن الحكومة ستخفض واردات القمح بنسبة الثلث في الموسم المقبل.
"""


def environment(data: Path, source: Path, **extra: str) -> dict[str, str]:
    # The scenarios ask more questions per user than the default rate limit allows.
    return base_environment(data, source, SANAD_RATE_LIMIT="1000", **extra)


@dataclass
class Bots:
    polling: BotProcess
    webhook: BotProcess
    source: Path


@pytest.fixture(scope="module")
def bots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bots]:
    """Index the seeds with the real model, then start a polling bot and a webhook bot."""
    root = tmp_path_factory.mktemp("e2e-bot")
    source, data = root / "articles", root / "data"
    shutil.copytree(SEEDS, source)
    indexed = subprocess.run(
        command("index", "--json", real_model=True),
        env=environment(data, source),
        cwd=root,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert indexed.returncode == 0, indexed.stderr.decode()[-3000:]
    webhook_data = root / "webhook-data"
    shutil.copytree(data, webhook_data)

    with (
        FakeTelegram.start_in_thread() as polling_api,
        FakeTelegram.start_in_thread() as webhook_api,
    ):
        # The Bot API is down when the polling bot starts: it must wait for it.
        polling_api.set_down(True)
        polling = BotProcess.launch(
            polling_api, environment(data, source), root / "polling.log", real_model=True
        )
        webhook = BotProcess.launch(
            webhook_api,
            BotProcess.webhook_env(environment(webhook_data, source)),
            root / "webhook.log",
            "--webhook",
            real_model=True,
        )
        try:
            polling.wait_in_log(
                "Bootstrap Initialize Application): Failed run number 1", timeout=START_TIMEOUT
            )
            polling_api.set_down(False)
            polling.wait_ready()
            webhook.wait_ready()
            yield Bots(polling, webhook, source)
        finally:
            statuses = (polling.stop(), webhook.stop())
        for bot in (polling, webhook):
            log = bot.log_text()
            assert "TEST-token" not in log, "the token leaked into the log"
        assert statuses == (0, 0), (polling.log_text()[-2000:], webhook.log_text()[-2000:])


@pytest.fixture(scope="module")
def tg(bots: Bots) -> FakeTelegramThread:
    return bots.polling.fake


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def callback_data(message: dict[str, Any], prefix: str) -> list[str]:
    found = [b.get("callback_data", "") for b in buttons(message)]
    return [data for data in found if data.startswith(prefix)]


def ask(tg: FakeTelegramThread, text: str, user: int, count: int = 1) -> list[dict[str, Any]]:
    tg.send_text(text, user_id=user)
    return tg.wait_for_messages(chat_id=user, count=count, timeout=ANSWER_TIMEOUT)


@pytest.fixture(scope="module")
def answered(tg: FakeTelegramThread) -> dict[str, Any]:
    """The reply to the first Arabic question of the module."""
    [reply] = ask(tg, QUESTION, user=5001)
    return reply


# --- start-up -----------------------------------------------------------------------------------


def test_the_bot_waited_for_the_api_and_registered_its_arabic_menu(
    bots: Bots, tg: FakeTelegramThread
) -> None:
    assert "Failed run number 1" in bots.polling.log_text()
    commands = {c["command"]: c["description"] for c in tg.commands}
    assert list(commands) == ["start", "help", "sources", "new", "ask"]
    assert commands["sources"] == "المقالات المفهرسة ومصادرها"
    admin = tg.commands_for({"type": "chat", "chat_id": ADMIN})
    assert [c["command"] for c in admin][-2:] == ["reindex", "stats"]


# --- a private chat -----------------------------------------------------------------------------


def test_an_arabic_question_is_answered_with_citations(
    tg: FakeTelegramThread, answered: dict[str, Any]
) -> None:
    text = answered["plain_text"]
    assert answered["parse_mode"] == "HTML"
    assert replies.starts_rtl(text)
    assert "[1]" in text
    assert "\nالمصادر\n[1] " in text
    assert "موسكو" in text
    assert callback_data(answered, "c:")
    assert {"chat_id": 5001, "action": "typing"} in tg.chat_actions


def test_a_citation_button_opens_the_passage_with_the_quote_marked(
    tg: FakeTelegramThread, answered: dict[str, Any]
) -> None:
    tg.press_button(answered, callback_data(answered, "c:")[0])
    messages = tg.wait_for_messages(chat_id=5001, count=2, timeout=ANSWER_TIMEOUT)

    passage = messages[1]
    assert passage["reply_to_message_id"] == answered["message_id"]
    assert "<b><u>" in passage["text"]
    assert passage["plain_text"].startswith("[1] ")


def test_a_feedback_button_thanks_the_user(
    tg: FakeTelegramThread, answered: dict[str, Any]
) -> None:
    useful = callback_data(answered, "f:")[0]
    tg.press_button(answered, useful)
    tg.wait_for(
        lambda fake: any(a.get("text") == replies.FEEDBACK_USEFUL for a in fake.callback_answers),
        timeout=ANSWER_TIMEOUT,
    )


def test_a_sticker_gets_a_short_note(tg: FakeTelegramThread) -> None:
    tg.send_sticker(user_id=5002)
    [note] = tg.wait_for_messages(chat_id=5002, count=1, timeout=ANSWER_TIMEOUT)

    assert note["plain_text"] == replies.ONLY_TEXT


# --- admin --------------------------------------------------------------------------------------


def test_reindex_is_refused_to_a_non_admin(tg: FakeTelegramThread) -> None:
    [reply] = ask(tg, "/reindex", user=5003)

    assert reply["plain_text"] == replies.ADMIN_ONLY


def test_reindex_by_an_admin_reports_the_new_article_and_answers_from_it(
    bots: Bots, tg: FakeTelegramThread
) -> None:
    (bots.source / "100_wheat.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    started, report = ask(tg, "/reindex", user=ADMIN, count=2)

    assert started["plain_text"] == replies.REINDEX_STARTED
    assert "• مقالات جديدة: 1" in report["plain_text"]
    assert "أضيف: المغرب يعلن محصولا قياسيا من القمح هذا العام" in report["plain_text"]
    [*_, reply] = ask(tg, "كم بلغ محصول القمح في المغرب هذا العام؟", user=ADMIN, count=3)
    assert "المغرب يعلن محصولا قياسيا من القمح" in reply["plain_text"]


# --- groups and inline --------------------------------------------------------------------------


def test_a_group_mention_is_answered_and_plain_chatter_ignored(tg: FakeTelegramThread) -> None:
    group = -4005005
    tg.send_text("صباح الخير جميعا", chat_type="group", chat_id=group, user_id=5004)
    mention = tg.send_text(
        f"@sanad_test_bot {QUESTION}", chat_type="group", chat_id=group, user_id=5004
    )
    [reply] = tg.wait_for_messages(chat_id=group, count=1, timeout=ANSWER_TIMEOUT)
    time.sleep(0.5)

    assert reply["reply_to_message_id"] == mention["message"]["message_id"]
    assert "[1]" in reply["plain_text"]
    assert len(tg.sent_messages(group)) == 1


def test_an_inline_query_offers_the_answer_with_sources(tg: FakeTelegramThread) -> None:
    tg.inline_query(QUESTION, user_id=5005)
    tg.wait_for(lambda fake: bool(fake.inline_answers), timeout=ANSWER_TIMEOUT)

    [result] = tg.inline_answers[-1]["results"]
    assert result["title"] == QUESTION
    assert "<b>المصادر</b>" in result["input_message_content"]["message_text"]


# --- faults -------------------------------------------------------------------------------------


def test_a_429_on_send_message_still_delivers_the_reply_once(tg: FakeTelegramThread) -> None:
    tg.fail_next("sendMessage", 429, retry_after=1)
    [reply] = ask(tg, QUESTION, user=5006)
    time.sleep(0.5)

    assert "[1]" in reply["plain_text"]
    assert len(tg.sent_messages(5006)) == 1
    assert len([c for c in tg.calls_to("sendMessage") if c["chat_id"] == 5006]) == 2


def test_polling_recovers_from_502s_and_dropped_connections(tg: FakeTelegramThread) -> None:
    tg.fail_next("getUpdates", 502, times=2)
    tg.drop_next("getUpdates")
    before = len(tg.calls_to("getUpdates"))
    ask(tg, "/help", user=5007)  # ends the long poll in flight; the faults hit the next ones
    tg.wait_for(lambda fake: len(fake.calls_to("getUpdates")) >= before + 4, timeout=30)

    [reply] = ask(tg, QUESTION, user=5008)

    assert "[1]" in reply["plain_text"]


# --- webhook mode -------------------------------------------------------------------------------


def test_webhook_mode_answers_through_the_webhook(bots: Bots) -> None:
    api = bots.webhook.fake
    hook = api.webhook_info()
    assert hook["url"].endswith("/sanad-hook")

    api.send_text(QUESTION, user_id=5009)
    [reply] = api.wait_for_messages(chat_id=5009, count=1, timeout=ANSWER_TIMEOUT)

    assert "[1]" in reply["plain_text"]
    assert not api.calls_to("getUpdates")
