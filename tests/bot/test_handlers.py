"""The bot's handlers, run by the real python-telegram-bot Application against the fake API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from bot import replies
from bot.feedback import FeedbackStore
from bot.replies import FSI, PDI, RLM
from retrieval.engine import Engine
from retrieval.errors import SanadError
from retrieval.models import Answer, Passage
from retrieval.settings import Settings
from tests.bot.conftest import (
    ADMIN_ID,
    USER_ID,
    StubEngine,
    answer,
    bot_settings,
    citation,
    running,
)
from tests.fakes.telegram_api import MAX_TEXT_LENGTH, FakeTelegram, utf16_len

SEEDED_QUESTION = "متى تبدأ محادثات الفصائل الفلسطينية في موسكو؟"


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def data_of(message: dict[str, Any], prefix: str) -> list[str]:
    return [
        b["callback_data"]
        for b in buttons(message)
        if b.get("callback_data", "").startswith(prefix)
    ]


QUOTE = "دعت روسيا الفصائل إلى محادثات في موسكو."
PASSAGE = Passage(
    "art1:0",
    "art1",
    "art1.txt",
    "روسيا تدعو الفصائل الفلسطينية إلى محادثات",
    f"قالت وزارة الخارجية الجمعة. {QUOTE} وتستمر المحادثات يومين.",
    0.9,
    "الجزيرة",
    "2024-02-16",
)


@pytest.fixture
def seeded(fake_engine: Engine) -> Engine:
    fake_engine.reindex()
    return fake_engine


@pytest.fixture
def stub(settings: Settings) -> StubEngine:
    """An engine that answers every question with two citations and knows their passages."""
    two = answer(f"{QUOTE} [1] وأكدت مصادر أخرى الموعد. [2]", [citation(1), citation(2)])
    return StubEngine(settings, two, passages={"art1:0": PASSAGE})


# --- private chat: questions and answers --------------------------------------------------------


async def test_question_is_answered_with_citations_sources_and_buttons(
    tg: FakeTelegram, stub: StubEngine, settings: Settings
) -> None:
    async with running(stub, bot_settings(settings, tg)):
        sent = tg.send_text(SEEDED_QUESTION)
        [reply] = await tg.wait_for_messages(count=1, timeout=10)

    text = reply["plain_text"]
    assert reply["parse_mode"] == "HTML"
    assert reply["reply_to_message_id"] == sent["message"]["message_id"]
    assert "[1]" in text
    assert "\nالمصادر\n[1] " in text
    assert replies.starts_rtl(text)
    assert (
        "\nالمصادر\n[1] الجزيرة — روسيا تدعو الفصائل الفلسطينية إلى محادثات — 16 فبراير 2024\n[2] "
        in text
    )
    assert len(data_of(reply, "c:")) == 2
    assert [b["text"] for b in buttons(reply)] == [
        "📖 [1] الجزيرة",
        "📖 [2] الجزيرة",
        "👍 مفيد",
        "👎 غير مفيد",
    ]
    assert len(data_of(reply, "f:")) == 2
    assert {"chat_id": USER_ID, "action": "typing"} in tg.chat_actions


async def test_html_in_questions_and_sources_is_escaped(
    tg: FakeTelegram, settings: Settings
) -> None:
    cite = citation(source="<Agence & Co>", title="عنوان فيه <b>وسم</b> & رمز")
    engine = StubEngine(settings, answer("جواب عن <سؤالك> & غيره. [1]", [cite]))
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("ما معنى <b> و &amp; في السؤال؟")
        [reply] = await tg.wait_for_messages(count=1)

    assert engine.asked[0][0] == "ما معنى <b> و &amp; في السؤال؟"
    seen = reply["plain_text"].replace(FSI, "").replace(PDI, "")
    assert "جواب عن <سؤالك> & غيره. [1]" in seen
    assert "عنوان فيه <b>وسم</b> & رمز" in seen
    assert "<Agence & Co>" in seen


async def test_latin_answer_still_starts_right_to_left(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings, answer("Hamas قالت إن الوفد وصل. [1]"))
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("ماذا قالت Hamas؟")
        [reply] = await tg.wait_for_messages(count=1)

    assert reply["plain_text"].startswith(RLM)


async def test_answer_over_4096_characters_arrives_in_parts_with_buttons_last(
    tg: FakeTelegram, settings: Settings
) -> None:
    long = "وأوضح المسؤول أن جميع الفصائل الفلسطينية مدعوة إلى المحادثات في موسكو. [1] " * 120
    engine = StubEngine(settings, answer(long, [citation(1), citation(2)]))
    async with running(engine, bot_settings(settings, tg)):
        sent = tg.send_text("سؤال جوابه طويل")
        await tg.wait_for(lambda fake: len(fake.sent_messages()) >= 3, timeout=10)
        await asyncio.sleep(0.2)
        messages = tg.sent_messages()

    assert len(messages) == 3
    assert all(utf16_len(m["plain_text"]) <= MAX_TEXT_LENGTH for m in messages)
    assert messages[0]["reply_to_message_id"] == sent["message"]["message_id"]
    assert [bool(buttons(m)) for m in messages] == [False, False, True]
    assert "المصادر" in messages[-1]["plain_text"]
    assert sum(m["plain_text"].count("موسكو.") for m in messages) == 120


async def test_typing_is_shown_while_the_engine_works(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings, delay=0.5)
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("سؤال بطيء")
        await tg.wait_for(lambda fake: bool(fake.chat_actions), timeout=5)
        assert not tg.sent_messages()  # typing comes first, while the engine still works
        await tg.wait_for_messages(count=1)


# --- buttons ------------------------------------------------------------------------------------


async def test_citation_button_opens_the_passage_with_the_quote_marked(
    tg: FakeTelegram, stub: StubEngine, settings: Settings
) -> None:
    async with running(stub, bot_settings(settings, tg)):
        tg.send_text(SEEDED_QUESTION)
        [reply] = await tg.wait_for_messages(count=1, timeout=10)
        tg.press_button(reply, data_of(reply, "c:")[0])
        _, passage = await tg.wait_for_messages(count=2)
        await tg.wait_for(lambda fake: bool(fake.callback_answers))

    assert passage["reply_to_message_id"] == reply["message_id"]
    assert f"<b><u>{QUOTE}</u></b>" in passage["text"]
    assert "وتستمر المحادثات يومين." in passage["plain_text"]
    assert passage["plain_text"].startswith("[1] ")
    assert tg.callback_answers[0]["text"] == "المصدر [1]"


async def test_old_citation_button_after_a_reindex_explains_and_shows_the_quote(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings, passages={"art1:0": None})
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("سؤال")
        [reply] = await tg.wait_for_messages(count=1)
        tg.press_button(reply, data_of(reply, "c:")[0])
        _, gone = await tg.wait_for_messages(count=2)

    assert "لم يعد هذا المقطع موجودًا في الفهرس بعد تحديثه" in gone["plain_text"]
    assert "دعت روسيا الفصائل إلى محادثات في موسكو." in gone["plain_text"]


async def test_citation_button_survives_a_bot_restart(
    tg: FakeTelegram, settings: Settings
) -> None:
    passage = Passage(
        "art1:0", "art1", "art1.txt", "t", "دعت روسيا الفصائل إلى محادثات في موسكو.", 1.0
    )
    engine = StubEngine(settings, passages={"art1:0": passage})
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("سؤال")
        [reply] = await tg.wait_for_messages(count=1)
    async with running(engine, bot_settings(settings, tg)):
        tg.press_button(reply, data_of(reply, "c:")[0])
        _, opened = await tg.wait_for_messages(count=2)

    assert "<b><u>دعت روسيا الفصائل إلى محادثات في موسكو.</u></b>" in opened["text"]


async def test_forged_or_unknown_button_gets_a_polite_answer(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        tg.send_text("سؤال")
        [reply] = await tg.wait_for_messages(count=1)
        for data in ("c:999999:1", "نص غريب"):
            tg.raw_update(
                {
                    "callback_query": {
                        "id": f"q{len(data)}",
                        "from": {"id": USER_ID, "is_bot": False, "first_name": "T"},
                        "message": {
                            "message_id": reply["message_id"],
                            "date": 0,
                            "chat": {"id": USER_ID, "type": "private"},
                        },
                        "chat_instance": "1",
                        "data": data,
                    }
                }
            )
        await tg.wait_for(lambda fake: len(fake.callback_answers) == 2)

    assert [a["text"] for a in tg.callback_answers] == [replies.STALE_BUTTON] * 2
    assert len(tg.sent_messages()) == 1


async def test_feedback_buttons_thank_the_user_and_are_stored(
    tg: FakeTelegram, settings: Settings
) -> None:
    bot = bot_settings(settings, tg)
    async with running(StubEngine(settings), bot):
        tg.send_text("سؤال")
        [reply] = await tg.wait_for_messages(count=1)
        useful, not_useful = data_of(reply, "f:")
        tg.press_button(reply, not_useful)
        tg.press_button(reply, useful, user_id=55)
        await tg.wait_for(lambda fake: len(fake.callback_answers) == 2)

    assert [a["text"] for a in tg.callback_answers] == [
        replies.FEEDBACK_NOT_USEFUL,
        replies.FEEDBACK_USEFUL,
    ]
    store = FeedbackStore.in_data_dir(bot.data_dir)
    stats = store.stats()
    store.close()
    assert (stats.useful, stats.not_useful, stats.questions) == (1, 1, 1)


# --- follow-ups, limits and odd messages --------------------------------------------------------


async def test_follow_up_questions_carry_the_recent_ones_until_new(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg)):
        for n, text in enumerate(["السؤال الأول", "والثاني؟", "/new", "الثالث"], 1):
            tg.send_text(text)
            await tg.wait_for_messages(count=n)

    assert [history for _, history in engine.asked] == [[], ["السؤال الأول"], []]
    assert tg.sent_messages()[2]["plain_text"] == replies.CONTEXT_CLEARED


async def test_context_expires(tg: FakeTelegram, settings: Settings) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg, SANAD_CONTEXT_MINUTES=0.002)):
        tg.send_text("السؤال الأول")
        await tg.wait_for_messages(count=1)
        await asyncio.sleep(0.2)
        tg.send_text("سؤال بعد مدة")
        await tg.wait_for_messages(count=2)

    assert engine.asked[1][1] == []


async def test_too_many_questions_get_one_polite_message(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg, SANAD_RATE_LIMIT=2)):
        for n in range(4):
            tg.send_text(f"سؤال رقم {n}")
        await tg.wait_for_messages(count=3)
        tg.send_text("سؤال من مستخدم آخر", user_id=2002)
        await tg.wait_for_messages(chat_id=2002, count=1)
        await asyncio.sleep(0.1)

    mine = tg.sent_messages(USER_ID)
    assert len(mine) == 3
    assert mine[2]["plain_text"].startswith("تمهّل قليلًا من فضلك")
    assert len(engine.asked) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("   ", replies.EMPTY_QUESTION),
        ("😀😀👍", replies.NO_WORDS),
        ("؟؟ !!", replies.NO_WORDS),
        ("س" * 501, replies.question_too_long(500)),
    ],
)
async def test_empty_emoji_only_and_over_long_questions_get_a_clear_message(
    tg: FakeTelegram, settings: Settings, text: str, expected: str
) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text(text)
        [reply] = await tg.wait_for_messages(count=1)

    assert reply["plain_text"] == expected
    assert engine.asked == []


async def test_stickers_photos_voice_and_files_get_a_short_note(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        tg.send_sticker()
        tg.send_photo(caption="صورة")
        tg.send_voice()
        tg.send_document()
        messages = await tg.wait_for_messages(count=4)

    assert [m["plain_text"] for m in messages] == [replies.ONLY_TEXT] * 4


async def test_engine_failure_gets_an_apology_and_the_bot_keeps_answering(
    tg: FakeTelegram, settings: Settings
) -> None:
    calls = 0

    def flaky(question: str, history: Sequence[str]) -> Answer:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return answer()

    async with running(StubEngine(settings, flaky), bot_settings(settings, tg)):
        tg.send_text("سؤال أول")
        tg.send_text("سؤال ثان")
        first, second = await tg.wait_for_messages(count=2)

    assert first["plain_text"] == replies.APOLOGY
    assert "[1]" in second["plain_text"]


async def test_missing_index_is_explained(
    tg: FakeTelegram, fake_engine: Engine, settings: Settings
) -> None:
    async with running(fake_engine, bot_settings(settings, tg)):
        tg.send_text("سؤال")
        tg.send_text("/sources")
        first, second = await tg.wait_for_messages(count=2)

    assert first["plain_text"] == replies.INDEX_NOT_READY
    assert second["plain_text"] == replies.INDEX_NOT_READY


# --- commands -----------------------------------------------------------------------------------


async def test_command_menus_are_registered_with_arabic_descriptions(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        pass

    assert [c["command"] for c in tg.commands] == ["start", "help", "sources", "new", "ask"]
    assert all(replies.starts_rtl(c["description"]) for c in tg.commands)
    admin = tg.commands_for({"type": "chat", "chat_id": ADMIN_ID})
    assert [c["command"] for c in admin][-2:] == ["reindex", "stats"]
    groups = tg.commands_for({"type": "all_group_chats"})
    assert [c["command"] for c in groups] == ["ask", "help", "sources"]


async def test_start_help_sources_and_unknown_commands(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        for n, text in enumerate(["/start", "/help", "/sources", "/foo"], 1):
            tg.send_text(text)
            await tg.wait_for_messages(count=n)
        tg.send_text("/help", user_id=ADMIN_ID)
        await tg.wait_for_messages(chat_id=ADMIN_ID, count=1)

    start, help_, sources, unknown = (m["plain_text"] for m in tg.sent_messages(USER_ID))
    assert start.startswith("مرحبًا بك في سند!")
    assert all(example in start for example in replies.DEFAULT_EXAMPLES)
    assert "/new" in help_
    assert "@sanad_test_bot" in help_
    assert "/reindex" not in help_
    assert "/reindex" in tg.sent_messages(ADMIN_ID)[0]["plain_text"]
    assert "1. مصدر غير مذكور — مقال <أول> — تاريخ غير مذكور" in sources
    assert "20 فبراير 2024" in sources
    assert unknown == replies.UNKNOWN_COMMAND


async def test_admin_commands_refuse_non_admins_politely(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("/reindex")
        tg.send_text("/stats")
        messages = await tg.wait_for_messages(count=2)

    assert [m["plain_text"] for m in messages] == [replies.ADMIN_ONLY] * 2
    assert not engine.reindexed.is_set()


async def test_reindex_runs_in_the_background_and_reports_the_changes(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    engine.reindex_delay = 0.5
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("/reindex", user_id=ADMIN_ID)
        await tg.wait_for_messages(chat_id=ADMIN_ID, count=1)
        tg.send_text("/reindex", user_id=ADMIN_ID)
        tg.send_text("سؤال أثناء إعادة الفهرسة", user_id=ADMIN_ID)
        messages = await tg.wait_for_messages(chat_id=ADMIN_ID, count=4, timeout=10)
        tg.send_text("/stats", user_id=ADMIN_ID)
        messages = await tg.wait_for_messages(chat_id=ADMIN_ID, count=5)

    texts = [m["plain_text"] for m in messages]
    assert texts[0] == replies.REINDEX_STARTED
    assert texts[1] == replies.REINDEX_RUNNING
    assert "[1]" in texts[2]  # answered from the old index while rebuilding
    assert "اكتملت إعادة بناء الفهرس" in texts[3]
    assert "• مقالات جديدة: 1" in texts[3]
    assert "أضيف: مقال جديد" in texts[3]
    assert "• الأسئلة: 1" in texts[4]
    assert "• مرات إعادة الفهرسة: 1" in texts[4]


async def test_reindex_with_the_real_index(
    tg: FakeTelegram, seeded: Engine, settings: Settings
) -> None:
    async with running(seeded, bot_settings(settings, tg)):
        tg.send_text("/reindex", user_id=ADMIN_ID)
        _, report = await tg.wait_for_messages(chat_id=ADMIN_ID, count=2, timeout=20)

    assert "الفهرس محدَّث أصلًا" in report["plain_text"]


# --- groups -------------------------------------------------------------------------------------


async def test_groups_answer_mentions_replies_and_ask_only(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("كلام عادي بين الأعضاء", chat_type="group")
        mention = tg.send_text("@sanad_test_bot متى تبدأ المحادثات؟", chat_type="group")
        [first] = await tg.wait_for_messages(count=1)
        reply = tg.send_text(
            "ومن دعا إليها؟", chat_type="group", reply_to_message_id=first["message_id"]
        )
        await tg.wait_for_messages(count=2)
        ask = tg.send_text("/ask@sanad_test_bot ما موقف إسرائيل؟", chat_type="group")
        await tg.wait_for_messages(count=3)
        tg.send_text("@sanad_test_bot", chat_type="group")
        tg.send_sticker(chat_type="group")
        await tg.wait_for_messages(count=4)
        await asyncio.sleep(0.2)

    messages = tg.sent_messages()
    assert len(messages) == 4
    assert [q for q, _ in engine.asked] == [
        "متى تبدأ المحادثات؟",
        "ومن دعا إليها؟",
        "ما موقف إسرائيل؟",
    ]
    assert engine.asked[1][1] == ["متى تبدأ المحادثات؟"]
    assert [m["reply_to_message_id"] for m in messages[:3]] == [
        mention["message"]["message_id"],
        reply["message"]["message_id"],
        ask["message"]["message_id"],
    ]
    assert messages[3]["plain_text"].startswith("اكتب سؤالك بعد ذكر اسمي")
    assert all(a["action"] == "typing" for a in tg.chat_actions)


# --- inline mode --------------------------------------------------------------------------------


async def test_inline_query_offers_the_answer_with_sources(
    tg: FakeTelegram, stub: StubEngine, settings: Settings
) -> None:
    async with running(stub, bot_settings(settings, tg)):
        tg.inline_query("ab")
        tg.inline_query(SEEDED_QUESTION)
        await tg.wait_for(lambda fake: len(fake.inline_answers) == 2, timeout=10)
        [hint, offered] = tg.inline_answers
        [result] = offered["results"]
        link = result["reply_markup"]["inline_keyboard"][0][0]["url"]
        payload = link.split("start=")[1]
        tg.send_text(f"/start {payload}")
        [opened] = await tg.wait_for_messages(count=1)

    assert hint["results"] == []
    assert hint["button"]["text"] == replies.INLINE_HINT
    assert result["title"] == SEEDED_QUESTION
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "<b>المصادر</b>" in content["message_text"]
    assert link.startswith("https://t.me/sanad_test_bot?start=c")
    assert "<b><u>" in opened["text"]


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (502, None), (500, None)])
async def test_a_failed_send_is_retried_and_the_reply_arrives_once(
    tg: FakeTelegram, settings: Settings, status: int, retry_after: int | None
) -> None:
    tg.fail_next("sendMessage", status, retry_after=retry_after)
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        tg.send_text("سؤال")
        await tg.wait_for(lambda fake: len(fake.calls_to("sendMessage")) == 2, timeout=10)
        await asyncio.sleep(0.3)

    [reply] = tg.sent_messages()
    assert "[1]" in reply["plain_text"]


async def test_ten_chats_do_not_wait_for_each_others_network(
    tg: FakeTelegram, settings: Settings
) -> None:
    tg.hang_next("sendMessage", 3.0)  # the first reply sent is stuck on the network
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        started = time.monotonic()
        for chat in range(10):
            tg.send_text("سؤال", user_id=3000 + chat)
        await tg.wait_for(lambda fake: len(fake.sent_messages()) >= 10, timeout=10)
        nine = time.monotonic() - started
        await tg.wait_for(lambda fake: len(fake.calls_to("sendMessage")) >= 10, timeout=10)

    assert nine < 2.5, "the other chats waited for the stuck one"


async def test_one_chat_is_answered_in_order(tg: FakeTelegram, settings: Settings) -> None:
    def numbered(question: str, history: Sequence[str]) -> Answer:
        time.sleep(0.05 if question.endswith("1") else 0)
        return answer(f"جواب {question[-1]} [1]")

    async with running(StubEngine(settings, numbered), bot_settings(settings, tg)):
        for n in range(1, 4):
            tg.send_text(f"سؤال {n}")
        messages = await tg.wait_for_messages(count=3)

    assert [m["plain_text"].split("\n")[0] for m in messages] == [
        "جواب 1 [1]",
        "جواب 2 [1]",
        "جواب 3 [1]",
    ]


async def test_chats_outside_the_allowlist_are_turned_away(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)
    allow = bot_settings(settings, tg, SANAD_ALLOWED_CHATS="2002, -4001001")
    async with running(engine, allow):
        tg.send_text("سؤال")
        tg.send_text("سؤال مسموح", user_id=2002)
        tg.send_text("سؤال المشرف", user_id=ADMIN_ID)
        await tg.wait_for_messages(count=3)

    assert tg.sent_messages(USER_ID)[0]["plain_text"] == replies.CHAT_NOT_ALLOWED
    assert [q for q, _ in engine.asked] == ["سؤال مسموح", "سؤال المشرف"]


async def test_a_failed_reindex_is_reported_and_the_old_index_keeps_serving(
    tg: FakeTelegram, settings: Settings
) -> None:
    engine = StubEngine(settings)

    def broken(source_dir: object = None) -> None:
        raise SanadError("the source folder is gone")

    engine.reindex = broken  # type: ignore[method-assign,assignment]
    async with running(engine, bot_settings(settings, tg)):
        tg.send_text("/reindex", user_id=ADMIN_ID)
        await tg.wait_for_messages(chat_id=ADMIN_ID, count=2)
        tg.send_text("سؤال بعد الفشل", user_id=ADMIN_ID)
        messages = await tg.wait_for_messages(chat_id=ADMIN_ID, count=3)

    assert messages[1]["plain_text"] == replies.REINDEX_FAILED
    assert "[1]" in messages[2]["plain_text"]


async def test_a_deep_link_to_an_unknown_answer_is_explained(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with running(StubEngine(settings), bot_settings(settings, tg)):
        tg.send_text("/start c999_1")
        [reply] = await tg.wait_for_messages(count=1)

    assert reply["plain_text"] == replies.STALE_BUTTON
