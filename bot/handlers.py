"""The bot's handlers: unpack an update, call the engine off the event loop, reply.

Everything a handler needs (engine, settings, feedback store, each chat's recent questions,
the per-user question limit) lives in one `Sanad` object that app.py builds; its bound
methods are the callbacks. What the bot says comes from `bot.replies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot import replies
from bot.feedback import FeedbackStore
from bot.streaming import EDIT_INTERVAL, DraftMessage
from retrieval.engine import Engine
from retrieval.errors import IndexNotBuilt, SanadError
from retrieval.models import Answer, Citation, Passage
from retrieval.settings import Settings

logger = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
ChatKey = tuple[int, int]  # (chat id, user id): in groups each member has their own thread

# A reply is retried this long while the Bot API is down or failing (then it is given up,
# logged, and the user gets an apology if the API lets one through).
SEND_PATIENCE_SECONDS: Final = 180.0
SEND_BACKOFF_MAX_SECONDS: Final = 10.0
TYPING_EVERY_SECONDS: Final = 4.5  # Telegram shows "typing" for about 5 s per action
_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)


class Conversations:
    """Each chat's recent questions, for follow-ups; forgotten after a pause or on /new.

    A conversation expires `minutes` after its last question; it keeps the last `size`.
    """

    def __init__(
        self, minutes: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = minutes * 60
        self.size = size
        self._clock = clock
        self._turns: dict[ChatKey, tuple[float, deque[str]]] = {}

    def recent(self, key: ChatKey) -> list[str]:
        """Return the chat's recent questions, oldest first (empty once expired)."""
        entry = self._turns.get(key)
        if entry is None:
            return []
        last, questions = entry
        if self._clock() - last > self.seconds:
            del self._turns[key]
            return []
        return list(questions)

    def add(self, key: ChatKey, question: str) -> None:
        """Remember a question the chat asked."""
        if self.size <= 0 or self.seconds <= 0:
            return
        questions = deque(self.recent(key), maxlen=self.size)
        questions.append(question)
        self._turns[key] = (self._clock(), questions)
        if len(self._turns) > 10_000:
            self._prune()

    def forget(self, key: ChatKey) -> None:
        """Forget the chat's questions (/new)."""
        self._turns.pop(key, None)

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, (t, _) in self._turns.items() if now - t > self.seconds]:
            del self._turns[key]


class QuestionLimiter:
    """At most `limit` questions per user in any window of `seconds` (0 turns it off)."""

    def __init__(
        self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def wait_time(self, user_id: int) -> float | None:
        """Count a question and return None, or return the seconds until one is allowed."""
        if self.limit <= 0:
            return None
        now = self._clock()
        asked = self._asked.setdefault(user_id, deque())
        while asked and now - asked[0] >= self.seconds:
            asked.popleft()
        if len(asked) >= self.limit:
            return self.seconds - (now - asked[0])
        asked.append(now)
        if len(self._asked) > 10_000:
            self._prune(now)
        return None

    def warn_once(self, user_id: int) -> bool:
        """Return True the first time in a window that a user is told to slow down."""
        now = self._clock()
        last = self._warned.get(user_id)
        if last is not None and now - last < self.seconds:
            return False
        self._warned[user_id] = now
        return True

    def _prune(self, now: float) -> None:
        for user in [u for u, q in self._asked.items() if not q or now - q[-1] >= self.seconds]:
            del self._asked[user]
            self._warned.pop(user, None)


def _arabic_or_latin(char: str) -> bool:
    code = ord(char)
    return (
        char.isascii()
        or 0x00C0 <= code <= 0x024F  # Latin with accents
        or 0x0600 <= code <= 0x08FF  # Arabic, its supplement and extended forms
        or 0xFB50 <= code <= 0xFDFF  # Arabic presentation forms
        or 0xFE70 <= code <= 0xFEFF
    )


def question_problem(text: str, max_chars: int) -> str | None:
    """Return what is wrong with a question as the reply to send, or None if it is fine."""
    if not text:
        return replies.EMPTY_QUESTION
    if len(text) > max_chars:
        return replies.question_too_long(max_chars)
    letters = [char for char in text if char.isalpha()]
    if not letters:  # emoji, punctuation or a bare number: nothing to look up
        return replies.NO_WORDS
    # The model reads Arabic and English; in another script it would match passages at
    # random and quote them as if they answered.
    if 2 * sum(_arabic_or_latin(char) for char in letters) < len(letters):
        return replies.UNSUPPORTED_LANGUAGE
    return None


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


class Busy(Exception):
    """The work queue is full: the question is turned away, not queued."""


class WorkQueue:
    """Questions admitted to the engine: `workers` answered at once, at most `size` waiting.

    Past that a question is turned away at once with a polite "busy" reply: under a flood
    the bot answers what it can within seconds instead of piling up work, and memory, that
    it would answer long after anyone waits for it.
    """

    def __init__(self, workers: int, size: int) -> None:
        self.workers = asyncio.Semaphore(workers)
        self.limit = workers + size
        self.admitted = 0

    def full(self) -> bool:
        """Tell whether a new question would be turned away."""
        return self.admitted >= self.limit

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold a place in the queue for one question; raise Busy if there is none."""
        if self.full():
            raise Busy
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1


class Sanad:
    """The bot's behaviour: one instance per Application, its methods are the handlers."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        store: FeedbackStore,
        *,
        examples: Sequence[str] = replies.DEFAULT_EXAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.store = store
        self.examples = tuple(examples)
        self.conversations = Conversations(
            settings.context_minutes, settings.context_questions, clock
        )
        self.limiter = QuestionLimiter(settings.rate_limit, settings.rate_limit_seconds, clock)
        # The model is CPU-bound: a few questions at a time, and a bounded number waiting.
        self.queue = WorkQueue(settings.bot_workers, settings.queue_size)
        self.cpu = self.queue.workers
        self._reindexing: asyncio.Task[None] | None = None
        self._latest_inline: dict[int, str] = {}
        # With a chat model, private chats watch the answer being written (see streaming.py).
        self.generative = settings.llm != "none"
        self.edit_interval = EDIT_INTERVAL

    # ------------------------------------------------------------------ access

    def is_admin(self, user_id: int | None) -> bool:
        """Return whether a user may run admin commands."""
        return user_id is not None and user_id in self.settings.admin_ids

    def allowed(self, update: Update) -> bool:
        """Return whether the allowlist (if any) lets this update through."""
        allowed = self.settings.allowed_chats
        user = update.effective_user
        if not allowed or (user is not None and self.is_admin(user.id)):
            return True
        chat = update.effective_chat
        if chat is not None:
            return chat.id in allowed
        return user is not None and user.id in allowed  # inline queries have no chat

    async def gate(self, update: Update, context: Context) -> None:
        """Stop updates from chats outside the allowlist before any handler sees them."""
        if self.allowed(update):
            return
        chat = update.effective_chat
        logger.info("ignored an update from chat %s (not allowed)", chat.id if chat else None)
        with contextlib.suppress(TelegramError):
            if update.callback_query is not None:
                await update.callback_query.answer(replies.CHAT_NOT_ALLOWED)
            elif update.inline_query is not None:
                await update.inline_query.answer([], cache_time=60)
            elif chat is not None and chat.type == ChatType.PRIVATE and update.message:
                await self._send(context.bot, chat.id, replies.CHAT_NOT_ALLOWED)
        raise ApplicationHandlerStop

    # ------------------------------------------------------------------ sending

    async def _send(
        self,
        bot: Bot,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Message:
        """Send one HTML message, retrying network errors and 5xx answers for a while.

        429s are waited out by the AIORateLimiter (and here, should it give up); a reply
        whose HTML Telegram rejects goes out as plain text rather than not at all. An answer
        the request did not deliver is sent again, so the Bot API being down for a minute or
        two loses no reply; a request that hangs is given a long read timeout (app.py) rather
        than retried early, which would deliver it twice.
        """
        reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        )
        deadline = time.monotonic() + SEND_PATIENCE_SECONDS
        for attempt in itertools.count():
            try:
                return await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply,
                    reply_markup=markup,
                    link_preview_options=_NO_PREVIEW,
                )
            except BadRequest as exc:
                if "parse" not in exc.message.lower():
                    raise
                logger.error("Telegram rejected a reply's HTML (%s): sending plain text", exc)
                return await bot.send_message(
                    chat_id,
                    replies.plain_text(text),
                    reply_parameters=reply,
                    reply_markup=markup,
                    link_preview_options=_NO_PREVIEW,
                )
            except (NetworkError, RetryAfter) as exc:
                if isinstance(exc, RetryAfter):
                    wait = exc.retry_after
                    pause = wait.total_seconds() if isinstance(wait, dt.timedelta) else wait
                else:
                    pause = min(0.5 * 2**attempt, SEND_BACKOFF_MAX_SECONDS)
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning(
                    "sending to chat %s failed (%s); retrying in %.1f s", chat_id, exc, pause
                )
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_all(
        self,
        bot: Bot,
        chat_id: int,
        parts: Sequence[str],
        *,
        reply_to: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        """Send a split reply: the first part answers the message, the last carries buttons."""
        sent = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            sent.append(
                await self._send(
                    bot,
                    chat_id,
                    part,
                    reply_to=reply_to if i == 0 else None,
                    markup=markup if last else None,
                )
            )
        return sent

    async def _reply(self, update: Update, context: Context, text: str) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None:
            return
        quote = message.message_id if message and chat.type != ChatType.PRIVATE else None
        await self._send(context.bot, chat.id, text, reply_to=quote)

    @contextlib.asynccontextmanager
    async def _typing(self, bot: Bot, chat_id: int, *, repeat: bool) -> AsyncIterator[None]:
        """Show "typing" while the body runs (sent once only in groups, where it costs quota).

        The first action is sent alongside the work, not before it, but always lands before
        the reply: a late one would show "typing" under an answer already given.
        """
        first = asyncio.Event()

        async def keep_typing() -> None:
            while True:
                try:
                    await bot.send_chat_action(chat_id, ChatAction.TYPING)
                except TelegramError as exc:
                    logger.debug("chat action failed: %s", exc)
                finally:
                    first.set()
                if not repeat:
                    return
                await asyncio.sleep(TYPING_EVERY_SECONDS)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.wait(), timeout=2.0)
            task.cancel()

    # ------------------------------------------------------------------ questions

    async def _ask(
        self, question: str, history: Sequence[str] = (), draft: DraftMessage | None = None
    ) -> Answer:
        async with self.queue.place(), self.cpu:
            if draft is None:
                return await asyncio.to_thread(self.engine.ask, question, list(history))
            ask = functools.partial(self.engine.ask, on_text=draft.feeder())
            return await asyncio.to_thread(ask, question, list(history))

    async def answer_question(self, update: Update, context: Context, raw: str | None) -> None:
        """Answer a question in a chat: typing, the engine, the reply with sources and buttons."""
        started = time.perf_counter()
        chat, user, message = update.effective_chat, update.effective_user, update.message
        if chat is None or user is None or message is None:
            return
        question = _clean(raw)
        if problem := question_problem(question, self.settings.max_question_chars):
            await self._reply(update, context, problem)
            return
        wait = self.limiter.wait_time(user.id)
        if wait is not None:
            await asyncio.to_thread(self.store.count, "rate_limited")
            if self.limiter.warn_once(user.id):
                await self._reply(update, context, replies.slow_down(wait))
            return
        if self.queue.full():
            await self._turn_away(update, context)
            return
        key = (chat.id, user.id)
        history = self.conversations.recent(key)
        private = chat.type == ChatType.PRIVATE
        draft = None
        if private and self.generative and self.settings.llm_stream:
            draft = DraftMessage(
                context.bot, chat.id, reply_to=message.message_id, interval=self.edit_interval
            )
        try:
            async with self._typing(context.bot, chat.id, repeat=private):
                answer = await self._ask(question, history, draft)
        except IndexNotBuilt:
            if draft is not None:
                await draft.discard()
            await self._reply(update, context, replies.INDEX_NOT_READY)
            return
        except Busy:
            if draft is not None:
                await draft.discard()
            await self._turn_away(update, context)
            return
        except SanadError as exc:
            if draft is not None:
                await draft.discard()
            logger.warning("the engine could not answer in chat %s: %s", chat.id, exc)
            await self._reply(update, context, replies.ENGINE_FAILED)
            return
        except BaseException:
            if draft is not None:
                await draft.discard()
            raise
        self.conversations.add(key, question)
        engine_ms = answer.timings_ms.get("total_ms")
        answer_id = await asyncio.to_thread(
            self.store.record_answer,
            answer,
            chat_id=chat.id,
            user_id=user.id,
            chat_type=str(chat.type),
            engine_ms=engine_ms,
        )
        parts = replies.answer_messages(answer)
        markup = replies.answer_keyboard(answer_id, answer.citations)
        if draft is not None and await draft.finish(parts[0], markup if len(parts) == 1 else None):
            # The draft became the answer's first part; the rest follow as new messages.
            await self._send_all(context.bot, chat.id, parts[1:], markup=markup)
        else:
            await self._send_all(
                context.bot, chat.id, parts, reply_to=message.message_id, markup=markup
            )
        latency_ms = (time.perf_counter() - started) * 1000
        await asyncio.to_thread(self.store.set_latency, answer_id, latency_ms)
        top = answer.passages[0].score if answer.passages else 0.0
        logger.info(
            "answered chat %s in %.0f ms (engine %.0f ms): %d passages, top score %.3f%s",
            chat.id,
            latency_ms,
            engine_ms or 0.0,
            len(answer.passages),
            top,
            ", refused" if answer.refused else "",
        )

    async def _turn_away(self, update: Update, context: Context) -> None:
        """Tell the asker the bot is too busy right now (the work queue is full)."""
        chat = update.effective_chat
        where = chat.id if chat else None
        logger.warning("work queue full: turned a question away in chat %s", where)
        await asyncio.to_thread(self.store.count, "busy")
        await self._reply(update, context, replies.BUSY)

    async def private_text(self, update: Update, context: Context) -> None:
        """Any text in a private chat is a question."""
        message = update.message
        await self.answer_question(update, context, message.text if message else None)

    async def group_text(self, update: Update, context: Context) -> None:
        """In groups, answer only messages that mention the bot or reply to it."""
        message = update.message
        if message is None:
            return
        question = self.addressed_question(message, context.bot)
        if question is None:
            return
        if not _clean(question):
            await self._reply(update, context, replies.group_hint(context.bot.username))
            return
        await self.answer_question(update, context, question)

    @staticmethod
    def addressed_question(message: Message, bot: Bot) -> str | None:
        """Return the question of a group message addressed to the bot, or None if it is not.

        Addressed means it mentions the bot or replies to one of its messages; the mention
        itself is cut out of the question.
        """
        text = message.text or ""
        username = (bot.username or "").lower()
        mentioned = False
        cuts: list[str] = []
        entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        for entity, value in entities.items():
            by_name = entity.type == MessageEntity.MENTION and value[1:].lower() == username
            by_id = entity.user is not None and entity.user.id == bot.id
            if by_name or by_id:
                mentioned = True
                cuts.append(value)
        replied = message.reply_to_message
        to_bot = bool(replied and replied.from_user and replied.from_user.id == bot.id)
        if not (mentioned or to_bot):
            return None
        for cut in cuts:
            text = text.replace(cut, " ")
        return text

    # ------------------------------------------------------------------ commands

    async def start(self, update: Update, context: Context) -> None:
        """/start: the welcome, or the citation a deep link from an inline answer opens."""
        chat = update.effective_chat
        if context.args and chat is not None:
            target = replies.parse_start_payload(context.args[0])
            if target is not None:
                await self._open_citation(context.bot, chat.id, *target, reply_to=None)
                return
        await self._reply(update, context, replies.welcome(self.examples))

    async def help(self, update: Update, context: Context) -> None:
        """/help: how to ask, and the commands (admins also see theirs)."""
        user = update.effective_user
        text = replies.help_text(
            context.bot.username,
            self.settings.context_minutes,
            admin=self.is_admin(user.id if user else None),
        )
        await self._reply(update, context, text)

    async def sources(self, update: Update, context: Context) -> None:
        """/sources: the indexed articles with outlet and date."""
        chat = update.effective_chat
        if chat is None:
            return
        try:
            articles = await asyncio.to_thread(self.engine.articles)
        except IndexNotBuilt:
            await self._reply(update, context, replies.INDEX_NOT_READY)
            return
        await self._send_all(context.bot, chat.id, replies.sources_messages(articles))

    async def new(self, update: Update, context: Context) -> None:
        """/new: forget the chat's previous questions."""
        chat, user = update.effective_chat, update.effective_user
        if chat is not None and user is not None:
            self.conversations.forget((chat.id, user.id))
        await self._reply(update, context, replies.CONTEXT_CLEARED)

    async def ask(self, update: Update, context: Context) -> None:
        """/ask <question>: ask explicitly (how groups ask without a mention)."""
        message = update.message
        if message is None:
            return
        parts = (message.text or "").split(maxsplit=1)
        question = parts[1] if len(parts) > 1 else ""
        if not _clean(question):
            await self._reply(update, context, replies.group_hint(context.bot.username))
            return
        await self.answer_question(update, context, question)

    async def reindex(self, update: Update, context: Context) -> None:
        """/reindex (admins): rebuild in the background, report the changes when done."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return
        if not self.is_admin(user.id):
            await self._reply(update, context, replies.ADMIN_ONLY)
            return
        if self._reindexing is not None and not self._reindexing.done():
            await self._reply(update, context, replies.REINDEX_RUNNING)
            return
        await self._reply(update, context, replies.REINDEX_STARTED)
        logger.info("re-indexing requested by admin %s", user.id)
        self.start_reindex(context.application, context.bot, chat.id, update=update)

    @property
    def reindexing(self) -> bool:
        """Tell whether a background re-index is running."""
        return self._reindexing is not None and not self._reindexing.done()

    def start_reindex(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        bot: Bot,
        chat_id: int | None,
        *,
        update: Update | None = None,
    ) -> bool:
        """Re-index in the background unless a re-index runs; report to `chat_id` if given."""
        if self.reindexing:
            return False
        self._reindexing = application.create_task(
            self._reindex(bot, chat_id), update=update, name="sanad-reindex"
        )
        return True

    async def _reindex(self, bot: Bot, chat_id: int | None) -> None:
        await asyncio.to_thread(self.store.count, "reindex")
        try:
            report = await asyncio.to_thread(self.engine.reindex)
            articles = await asyncio.to_thread(self.engine.articles)
        except Exception:  # the admin is told; readers keep the old index
            logger.exception("re-indexing failed")
            if chat_id is not None:
                await self._send(bot, chat_id, replies.REINDEX_FAILED)
            return
        logger.info("re-indexing done: %s", report.as_dict())
        if chat_id is None:
            return
        titles = {a["id"]: str(a.get("title") or "") for a in articles}
        report_html = replies.reindex_report(report, titles)
        await self._send_all(bot, chat_id, replies.split_html(report_html))

    async def stats(self, update: Update, context: Context) -> None:
        """/stats (admins, in a private chat): questions, refusals, feedback, latency."""
        user, chat = update.effective_user, update.effective_chat
        if not self.is_admin(user.id if user else None):
            await self._reply(update, context, replies.ADMIN_ONLY)
            return
        if chat is not None and chat.type != ChatType.PRIVATE:
            # The stats quote users' refused questions: not for everyone in a group to read.
            await self._reply(update, context, replies.STATS_PRIVATE_ONLY)
            return
        stats = await asyncio.to_thread(self.store.stats)
        await self._reply(update, context, replies.stats_text(stats))

    async def unknown_command(self, update: Update, context: Context) -> None:
        """A command the bot does not know, in a private chat."""
        await self._reply(update, context, replies.UNKNOWN_COMMAND)

    async def non_text(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice, files in a private chat: only text is understood."""
        if update.message is not None and update.message.text is not None:
            # An empty text (not TEXT to PTB's filters) is an empty question, not a sticker.
            await self._reply(update, context, replies.EMPTY_QUESTION)
            return
        await asyncio.to_thread(self.store.count, "non_text")
        await self._reply(update, context, replies.ONLY_TEXT)

    # ------------------------------------------------------------------ buttons

    async def button(self, update: Update, context: Context) -> None:
        """A pressed button: open a citation's passage, or record feedback."""
        query = update.callback_query
        if query is None:
            return
        press = replies.parse_button(query.data)
        message = query.message
        # A button under a message may only reach answers given in that message's chat; one
        # under an inline message, only answers given inline. Forged data (a modified client
        # can send any) gets the same reply as an unknown answer.
        if press is None or not await self._may_open(
            press.answer_id, message.chat.id if message is not None else None
        ):
            await self._toast(query, replies.STALE_BUTTON, alert=True)
            return
        if press.kind == "feedback":
            known = await asyncio.to_thread(
                self.store.record_feedback,
                press.answer_id,
                query.from_user.id,
                useful=bool(press.value),
            )
            if not known:
                await self._toast(query, replies.STALE_BUTTON, alert=True)
            else:
                thanks = replies.FEEDBACK_USEFUL if press.value else replies.FEEDBACK_NOT_USEFUL
                await self._toast(query, thanks)
            return
        citation = await asyncio.to_thread(self.store.citation, press.answer_id, press.value)
        if citation is None:
            await self._toast(query, replies.STALE_BUTTON, alert=True)
            return
        await self._toast(query, replies.opened_toast(press.value))
        chat_id = message.chat.id if message is not None else query.from_user.id
        reply_to = message.message_id if message is not None else None
        await self._show_citation(context.bot, chat_id, citation, reply_to=reply_to)

    async def _may_open(self, answer_id: int, chat_id: int | None) -> bool:
        """Tell whether a button (or deep link) in `chat_id` may reach a stored answer.

        `chat_id` None stands for an inline message, which belongs to no chat of the bot's.
        """
        owner = await asyncio.to_thread(self.store.answer_chat, answer_id)
        if owner is None:
            return False
        owner_chat, chat_type = owner
        return chat_type == "inline" or (chat_id is not None and owner_chat == chat_id)

    @staticmethod
    async def _toast(query: CallbackQuery, text: str, *, alert: bool = False) -> None:
        """Answer a button press; a failure (an expired query after downtime) is not fatal.

        The passage a citation button opens still goes out as a message.
        """
        try:
            await query.answer(text, show_alert=alert)
        except TelegramError as exc:
            logger.info("could not answer a button press: %s", exc)

    async def _open_citation(
        self, bot: Bot, chat_id: int, answer_id: int, n: int, *, reply_to: int | None
    ) -> None:
        citation = None
        if await self._may_open(answer_id, chat_id):
            citation = await asyncio.to_thread(self.store.citation, answer_id, n)
        if citation is None:
            await self._send(bot, chat_id, replies.STALE_BUTTON)
            return
        await self._show_citation(bot, chat_id, citation, reply_to=reply_to)

    async def _show_citation(
        self, bot: Bot, chat_id: int, citation: Citation, *, reply_to: int | None
    ) -> None:
        passage: Passage | None
        try:
            passage = await asyncio.to_thread(self.engine.passage, citation.chunk_id)
        except IndexNotBuilt:
            passage = None
        try:
            await self._send_all(
                bot, chat_id, replies.passage_messages(citation, passage), reply_to=reply_to
            )
        except Forbidden:  # an inline answer's button, from a user who never opened the bot
            logger.info("cannot open a citation in chat %s: the bot may not write there", chat_id)

    # ------------------------------------------------------------------ inline mode

    async def inline(self, update: Update, context: Context) -> None:
        """@bot question in any chat: offer the answer with its sources as an inline result."""
        query = update.inline_query
        if query is None:
            return
        user_id = query.from_user.id
        text = _clean(query.query)[: self.settings.max_question_chars]
        if len(text) < 3 or question_problem(text, self.settings.max_question_chars):
            hint = InlineQueryResultsButton(text=replies.INLINE_HINT, start_parameter="help")
            await query.answer([], cache_time=300, button=hint)
            return
        if self.queue.full():
            busy = InlineQueryResultsButton(text=replies.INLINE_BUSY, start_parameter="help")
            await query.answer([], cache_time=5, button=busy)
            return
        # Telegram sends a query per keystroke: answer only the user's latest.
        self._latest_inline[user_id] = query.id
        async with self.queue.place(), self.cpu:
            if self._latest_inline.get(user_id) != query.id:
                return
            # Inline results must come quickly, one per keystroke: no chat model here.
            ask = (
                functools.partial(self.engine.ask, generate=False)
                if self.generative
                else self.engine.ask
            )
            try:
                answer = await asyncio.to_thread(ask, text, [])
            except SanadError as exc:
                logger.warning("inline query not answered: %s", exc)
                return
        if self._latest_inline.get(user_id) == query.id:
            del self._latest_inline[user_id]
        answer_id = await asyncio.to_thread(
            self.store.record_answer,
            answer,
            chat_id=None,
            user_id=user_id,
            chat_type="inline",
            engine_ms=answer.timings_ms.get("total_ms"),
        )
        result = InlineQueryResultArticle(
            id=f"a{answer_id}",
            title=replies.inline_title(answer),
            description=replies.inline_description(answer),
            input_message_content=InputTextMessageContent(
                replies.inline_message(answer),
                parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW,
            ),
            reply_markup=replies.inline_keyboard(
                answer_id, answer.citations, context.bot.username
            ),
        )
        await query.answer([result], cache_time=60)
        logger.info(
            "answered an inline query in %.0f ms: %d passages%s",
            answer.timings_ms.get("total_ms", 0.0),
            len(answer.passages),
            ", refused" if answer.refused else "",
        )

    # ------------------------------------------------------------------ errors

    async def on_error(self, update: object, context: Context) -> None:
        """Log first, then apologise briefly in Arabic to whoever was waiting."""
        error = context.error
        if update is None and isinstance(error, TelegramError):
            # Polling trouble (502, dropped connections): PTB retries with back-off.
            logger.warning("Bot API trouble while fetching updates: %s", error)
            return
        logger.error("could not handle an update", exc_info=error)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.count, "errors")
        if not isinstance(update, Update):
            return
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(replies.APOLOGY)
                return
            chat, message = update.effective_chat, update.effective_message
            if chat is None or message is None:
                return
            addressed = (
                chat.type == ChatType.PRIVATE
                or (message.text or "").startswith("/")
                or self.addressed_question(message, context.bot) is not None
            )
            if addressed:
                await self._send(context.bot, chat.id, replies.APOLOGY)
        except TelegramError as exc:
            logger.warning("could not apologise for the error: %s", exc)
