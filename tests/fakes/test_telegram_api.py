"""The fake Bot API server, driven by the real python-telegram-bot (Bot and Application)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import DEFAULT_USER_ID, ApiError, FakeTelegram, parse_html

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
CHAT = DEFAULT_USER_ID


def make_bot(tg: FakeTelegram, token: str | None = None) -> Bot:
    return Bot(
        token or tg.token,
        base_url=f"{tg.base_url}/bot",
        base_file_url=f"{tg.base_url}/file/bot",
    )


def make_app(tg: FakeTelegram, *handlers: BaseHandler[Any, Any, Any]) -> AnyApplication:
    app = (
        Application.builder()
        .token(tg.token)
        .base_url(f"{tg.base_url}/bot")
        .base_file_url(f"{tg.base_url}/file/bot")
        .build()
    )
    app.add_handlers(list(handlers))
    return app


@contextlib.asynccontextmanager
async def polling(app: AnyApplication) -> AsyncIterator[None]:
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=2))
        await app.start()
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


def reply_with(text: str) -> Callback:
    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(text)

    return callback


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    await message.reply_text(
        f"<b>سؤالك:</b> {html.escape(message.text)}", parse_mode=ParseMode.HTML, do_quote=True
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the bot's identity and the token --------------------------------------------------------


async def test_get_me_describes_the_test_bot(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        me = await bot.get_me()

    assert me.username == "sanad_test_bot"
    assert me.is_bot
    assert me.supports_inline_queries
    assert not me.can_read_all_group_messages
    assert [call.method for call in tg.calls] == ["getMe", "getMe"]


async def test_unknown_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(tg, token="999:not-the-token"):
            pass


# --- messages through a polling Application --------------------------------------------------


async def test_user_text_reaches_message_handler_and_reply_is_recorded(tg: FakeTelegram) -> None:
    app = make_app(tg, MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with polling(app):
        question = tg.send_text("ما عاصمة <مصر>؟", user_id=42, first_name="أمينة")
        [reply] = await tg.wait_for_messages(chat_id=42, count=1)
        await tg.wait_for(lambda fake: not fake.pending_updates)

    assert reply["text"] == "<b>سؤالك:</b> ما عاصمة &lt;مصر&gt;؟"
    assert reply["plain_text"] == "سؤالك: ما عاصمة <مصر>؟"
    assert reply["parse_mode"] == "HTML"
    assert reply["reply_to_message_id"] == question["message"]["message_id"]
    assert reply["message_id"] == question["message"]["message_id"] + 1


@pytest.mark.parametrize(
    ("text", "chat_type"),
    [("/start", "private"), ("/start@sanad_test_bot", "supergroup"), ("/START", "private")],
)
async def test_command_handler_fires_for_start(
    tg: FakeTelegram, text: str, chat_type: Any
) -> None:
    app = make_app(tg, CommandHandler("start", reply_with("أهلاً بك في سند")))
    async with polling(app):
        sent = tg.send_text(text, chat_type=chat_type)
        [reply] = await tg.wait_for_messages(count=1)

    assert sent["message"]["entities"] == [
        {"type": "bot_command", "offset": 0, "length": len(text)}
    ]
    assert reply["text"] == "أهلاً بك في سند"
    assert reply["chat_id"] == sent["message"]["chat"]["id"]


async def test_each_kind_of_user_action_reaches_its_handler(tg: FakeTelegram) -> None:
    app = make_app(
        tg,
        CommandHandler("start", reply_with("start")),
        MessageHandler(filters.UpdateType.EDITED_MESSAGE, reply_with("edited")),
        MessageHandler(filters.PHOTO, reply_with("photo")),
        MessageHandler(filters.VOICE, reply_with("voice")),
        MessageHandler(filters.Sticker.ALL, reply_with("sticker")),
        MessageHandler(filters.Document.ALL, reply_with("document")),
        MessageHandler(filters.Entity("mention") & filters.ChatType.GROUPS, reply_with("mention")),
        MessageHandler(filters.TEXT & ~filters.COMMAND, reply_with("text")),
    )
    async with polling(app):
        first = tg.send_text("سؤال أول")
        tg.edit_text(first, "سؤال معدل")
        tg.send_photo(caption="صورة")
        tg.send_voice()
        tg.send_sticker()
        tg.send_document(file_name="مقال.pdf")
        tg.send_text("@sanad_test_bot ما الجديد؟", chat_type="group")
        tg.send_text("/start@other_bot", chat_type="group")  # another bot's command
        tg.send_text("/start@sanad_test_bot", chat_type="group")
        replies = await tg.wait_for_messages(count=8)

    expected = ["text", "edited", "photo", "voice", "sticker", "document", "mention", "start"]
    assert [reply["text"] for reply in replies] == expected


# --- validation like Telegram's --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>غامق", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<p>فقرة</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("٢ < ٣", 'Unsupported start tag "" at byte offset 3'),
        ("AT&T", 'character "&" at byte offset 2'),
        ("&nbsp;", 'character "&" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("", "message text is empty"),
        (" \n ", "message text is empty"),
        ("<b> </b>", "message text is empty"),
        ("ب" * 4097, "message is too long"),
        ("<i>" + "ب" * 4097 + "</i>", "message is too long"),
    ],
)
async def test_send_message_rejects_what_telegram_rejects(
    tg: FakeTelegram, text: str, error: str
) -> None:
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=f"(?i){re.escape(error)}"):
            await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)

    assert tg.sent_messages() == []


async def test_length_limit_counts_text_after_entity_parsing(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        await bot.send_message(CHAT, "&amp;" * 4096, parse_mode=ParseMode.HTML)
        await bot.send_message(CHAT, "<b>" + "ب" * 4096 + "</b>", parse_mode=ParseMode.HTML)

    assert [len(m["plain_text"]) for m in tg.sent_messages()] == [4096, 4096]


async def test_html_comes_back_as_message_entities(tg: FakeTelegram) -> None:
    text = (
        '  <b>سند</b> &lt;3 <a href="https://example.com/a?b=1&amp;c=2">مصدر</a> '
        '<tg-spoiler>سر</tg-spoiler>&#10;<pre><code class="language-python">x = 1</code></pre>'
    )
    async with make_bot(tg) as bot:
        message = await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)

    assert message.text == "سند <3 مصدر سر\nx = 1"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 3),
        ("text_link", 7, 4),
        ("spoiler", 12, 2),
        ("pre", 15, 5),
    ]
    assert message.entities[1].url == "https://example.com/a?b=1&c=2"
    assert message.entities[3].language == "python"
    assert message.from_user is not None
    assert message.from_user.username == "sanad_test_bot"


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("<i>أ<b>ب</b></i>", "أب", [("italic", 0, 2), ("bold", 1, 1)]),
        ("<blockquote expandable>نص</blockquote>", "نص", [("expandable_blockquote", 0, 2)]),
        ('<span class="tg-spoiler">😀x</span>', "😀x", [("spoiler", 0, 3)]),
        ("&#1587;&#x0646;&quot;", 'سن"', []),
        ("<B>x</B>", "x", [("bold", 0, 1)]),
        ("<a>no href</a>", "no href", []),
    ],
)
def test_parse_html_table(source: str, text: str, entities: list[tuple[str, int, int]]) -> None:
    parsed, found = parse_html(source)

    assert parsed == text
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


def test_parse_html_can_keep_a_bare_ampersand_like_telegram() -> None:
    assert parse_html("AT&T &amp; co", strict_ampersand=False) == ("AT&T & co", [])
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_html("AT&T")


async def test_edits_follow_telegram_rules(tg: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("المصادر", callback_data="src")]])
    async with make_bot(tg) as bot:
        await bot.send_chat_action(CHAT, ChatAction.TYPING)
        draft = await bot.send_message(
            CHAT, "<b>جارٍ البحث…</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text(
                "<b>جارٍ البحث…</b>",
                CHAT,
                draft.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
            )
        await bot.edit_message_text("الجواب: القاهرة", CHAT, draft.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("؟", CHAT, draft.message_id + 10)
        extra = await bot.send_message(CHAT, "رسالة مؤقتة")
        assert await bot.delete_message(CHAT, extra.message_id)

    [answer] = tg.sent_messages(CHAT)
    assert answer["text"] == "الجواب: القاهرة"
    assert answer["edits"] == 1
    assert answer["reply_markup"] is None
    assert [m["deleted"] for m in tg.sent_messages(include_deleted=True)] == [False, True]
    assert tg.chat_actions == [{"chat_id": CHAT, "action": "typing"}]


async def test_callback_data_over_64_bytes_is_rejected(tg: FakeTelegram) -> None:
    too_long = "ق" * 33  # 66 bytes in UTF-8
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("المزيد", callback_data=too_long)]])
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(CHAT, "اختر", reply_markup=keyboard)

    assert tg.sent_messages() == []


async def test_reply_to_a_missing_message_is_rejected_unless_allowed(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
            await bot.send_message(CHAT, "رد", reply_parameters=ReplyParameters(999))
        await bot.send_message(
            CHAT, "رد", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
        )

    assert [m["reply_to_message_id"] for m in tg.sent_messages()] == [None]


async def test_get_chat_returns_the_user_chat(tg: FakeTelegram) -> None:
    tg.send_text("مرحبا", user_id=77, first_name="سارة", username="sara")
    async with make_bot(tg) as bot:
        chat = await bot.get_chat(77)
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.get_chat(78)

    assert (chat.first_name, chat.username, chat.type) == ("سارة", "sara", "private")


# --- flood control and faults ----------------------------------------------------------------


async def test_429_raises_retry_after_and_loses_the_message(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", 429, retry_after=3)
    async with make_bot(tg) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "هل وصل؟")

    assert caught.value.retry_after == dt.timedelta(seconds=3)
    assert tg.sent_messages() == []
    assert len(tg.calls_to("sendMessage")) == 1


async def test_rate_limiter_waits_out_429_and_sends_once(tg: FakeTelegram) -> None:
    tg.fail_next("sendmessage", 429, retry_after=1)
    bot = ExtBot(
        tg.token,
        base_url=f"{tg.base_url}/bot",
        base_file_url=f"{tg.base_url}/file/bot",
        rate_limiter=AIORateLimiter(max_retries=3),
    )
    async with bot:
        await bot.send_message(CHAT, "وصل بعد الانتظار")

    assert len(tg.calls_to("sendMessage")) == 2
    assert [m["text"] for m in tg.sent_messages()] == ["وصل بعد الانتظار"]


@pytest.mark.parametrize("fault", ["502", "dropped connection", "outage"])
async def test_polling_survives_a_failed_get_updates(tg: FakeTelegram, fault: str) -> None:
    if fault == "502":
        tg.fail_next("getUpdates", 502)
    elif fault == "dropped connection":
        tg.drop_next("getUpdates")
    app = make_app(tg, MessageHandler(filters.TEXT, echo))
    async with polling(app):
        if fault == "outage":
            await tg.wait_for(lambda fake: bool(fake.calls_to("getUpdates")))
            await tg.set_down(True, refuse=True)  # kills the long poll in flight
            await asyncio.sleep(0.2)
            await tg.set_down(False)
        tg.send_text("هل ما زلت تعمل؟")
        [reply] = await tg.wait_for_messages(count=1, timeout=10)

    assert reply["plain_text"] == "سؤالك: هل ما زلت تعمل؟"
    assert len(tg.calls_to("getUpdates")) >= 2


async def test_faults_on_send_message_do_not_deliver(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        tg.fail_next("sendMessage", 500)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(CHAT, "1")
        tg.drop_next("sendMessage")
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "2")
        tg.hang_next("sendMessage", 0.5, deliver=False)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "3", read_timeout=0.1)
        await asyncio.sleep(0.6)  # past the pause: the abandoned call must not go through
        assert tg.sent_messages() == []

        # Delivered, but the answer comes too late: the bot sees a timeout.
        tg.hang_next("sendMessage", 0.5)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "4", read_timeout=0.1)

    assert [m["text"] for m in tg.sent_messages()] == ["4"]
    assert len(tg.calls_to("sendMessage")) == 4


async def test_api_down_then_back_up(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        await tg.set_down(True)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.get_me()
        await tg.set_down(True, refuse=True)
        with pytest.raises(NetworkError):
            await bot.get_me()
        await tg.set_down(False)
        me = await bot.get_me()

    assert me.username == "sanad_test_bot"


# --- long polling ----------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=dt.timedelta(seconds=10)))
        await tg.wait_for(lambda fake: bool(fake.calls_to("getUpdates")))
        tg.send_text("سؤال")
        updates = await asyncio.wait_for(poll, 2)
        confirmed = await bot.get_updates(offset=updates[-1].update_id + 1)

    assert [u.message.text for u in updates if u.message] == ["سؤال"]
    assert confirmed == ()
    assert tg.pending_updates == []


async def test_a_second_poller_terminates_the_first(tg: FakeTelegram) -> None:
    async with make_bot(tg) as first, make_bot(tg) as second:
        poll = asyncio.create_task(first.get_updates(timeout=dt.timedelta(seconds=5)))
        await tg.wait_for(lambda fake: bool(fake.calls_to("getUpdates")))
        await second.get_updates()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await poll


# --- buttons, inline mode, commands ----------------------------------------------------------


async def test_button_press_reaches_callback_query_handler(tg: FakeTelegram) -> None:
    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        button = InlineKeyboardButton("المصادر", callback_data="sources:1")
        await update.effective_message.reply_text(
            "القاهرة.", reply_markup=InlineKeyboardMarkup([[button]])
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("تم")
        await query.edit_message_text(f"المصادر لـ {query.data}")

    app = make_app(tg, CommandHandler("ask", ask), CallbackQueryHandler(on_button))
    async with polling(app):
        tg.send_text("/ask")
        [answer] = await tg.wait_for_messages(count=1)
        with pytest.raises(ValueError, match="no button"):
            tg.press_button(answer, "forged")
        tg.press_button(answer, "sources:1")
        await tg.wait_for(lambda fake: fake.sent_messages()[0]["edits"] == 1)

    assert [a["text"] for a in tg.callback_answers] == ["تم"]
    assert tg.sent_messages()[0]["text"] == "المصادر لـ sources:1"
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(tg.callback_answers[0]["callback_query_id"])


async def test_forged_callback_query_reaches_the_handler(tg: FakeTelegram) -> None:
    seen: list[str | None] = []

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        seen.append(update.callback_query.data)
        await update.callback_query.answer("بيانات غير صالحة", show_alert=True)

    app = make_app(tg, CallbackQueryHandler(on_button))
    user = {"id": 5, "is_bot": False, "first_name": "Mallory"}
    async with polling(app):
        tg.raw_update(
            {"callback_query": {"id": "q1", "from": user, "chat_instance": "1", "data": "x" * 64}}
        )
        await tg.wait_for(lambda fake: bool(fake.callback_answers))

    assert seen == ["x" * 64]
    assert tg.callback_answers[0]["show_alert"] is True


async def test_inline_query_reaches_inline_query_handler(tg: FakeTelegram) -> None:
    async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.inline_query is not None
        result = InlineQueryResultArticle(
            id="1", title="القاهرة", input_message_content=InputTextMessageContent("القاهرة")
        )
        await update.inline_query.answer([result], cache_time=0)

    app = make_app(tg, InlineQueryHandler(on_inline))
    async with polling(app):
        tg.inline_query("عاصمة مصر")
        await tg.wait_for(lambda fake: bool(fake.inline_answers))

    [answer] = tg.inline_answers
    assert answer["results"][0]["title"] == "القاهرة"
    assert answer["cache_time"] == 0


async def test_commands_accept_arabic_descriptions_but_not_arabic_names(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        assert await bot.set_my_commands(
            [BotCommand("start", "ابدأ المحادثة"), BotCommand("help", "كيف أستخدم سند؟")]
        )
        commands = await bot.get_my_commands()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("ابدأ", "ابدأ المحادثة")])
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "ابدأ")])

    assert [(c.command, c.description) for c in commands] == [
        ("start", "ابدأ المحادثة"),
        ("help", "كيف أستخدم سند؟"),
    ]
    assert tg.commands[0]["description"] == "ابدأ المحادثة"


# --- webhook ---------------------------------------------------------------------------------


async def test_webhook_delivers_updates_and_ptb_checks_the_secret(tg: FakeTelegram) -> None:
    port = free_port()
    webhook_url = f"http://127.0.0.1:{port}/telegram"
    app = make_app(tg, MessageHandler(filters.TEXT, echo))
    async with app:
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=webhook_url,
            secret_token="s3cret-token",
        )
        await app.start()
        try:
            tg.send_text("عبر الويب هوك")
            [reply] = await tg.wait_for_messages(count=1)
            with pytest.raises(Conflict, match="webhook is active"):
                await app.bot.get_updates()
            forged = tg.send_text("مزور")
            await tg.set_down(True)  # hold the fake's own delivery back
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    webhook_url,
                    json=forged,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                ) as response,
            ):
                assert response.status == 403
        finally:
            await app.updater.stop()
            await app.stop()

    assert reply["plain_text"] == "سؤالك: عبر الويب هوك"
    assert tg.webhook_info()["url"] == webhook_url
    assert len(tg.sent_messages()) == 1


# --- the thread handle, for synchronous tests and a bot in another process -------------------

ECHO_BOT = """
import datetime, os
from telegram.ext import Application, MessageHandler, filters

async def echo(update, context):
    await update.effective_message.reply_text("صدى: " + update.effective_message.text)

root = os.environ["TELEGRAM_API_BASE_URL"]
app = (
    Application.builder()
    .token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(root + "/bot")
    .base_file_url(root + "/file/bot")
    .build()
)
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling(poll_interval=0.0, timeout=datetime.timedelta(seconds=1))
"""


def test_thread_handle_serves_a_bot_in_another_process() -> None:
    with FakeTelegram.start_in_thread() as tg:
        env = {
            **os.environ,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_BOT_TOKEN": tg.token,
        }
        bot = subprocess.Popen(
            [sys.executable, "-c", ECHO_BOT], env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            tg.wait_for(lambda fake: bool(fake.calls_to("getUpdates")), timeout=20)
            tg.send_text("مرحبا", user_id=7)
            [reply] = tg.wait_for_messages(chat_id=7, count=1, timeout=10)
        finally:
            bot.terminate()
            _, stderr = bot.communicate(timeout=20)

    assert reply["text"] == "صدى: مرحبا"
    assert bot.returncode == 0, stderr


def test_thread_handle_timeout_explains_what_happened() -> None:
    with FakeTelegram.start_in_thread() as tg:
        tg.send_text("لا أحد يجيب")
        tg.fail_next("sendMessage", 502)
        with pytest.raises(TimeoutError, match="1 pending updates; 0 messages sent"):
            tg.wait_for(lambda fake: bool(fake.sent_messages()), timeout=0.1)
        assert tg.pending_updates[0]["message"]["text"] == "لا أحد يجيب"
