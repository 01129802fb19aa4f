"""Build and run the python-telegram-bot Application: handlers, rate limiting, per-chat
ordering, start-up (model, index, command menu), token redaction in logs, polling or webhook.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlparse

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Update,
)
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import replies
from bot.feedback import FeedbackStore
from bot.handlers import Sanad
from retrieval.engine import Engine
from retrieval.errors import IndexNotBuilt, SettingsError
from retrieval.fingerprint import folder_fingerprint
from retrieval.settings import Settings

logger = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
ALLOWED_UPDATES: Final = ["message", "callback_query", "inline_query"]
MAX_CONCURRENT_UPDATES: Final = 256
# A Bot API call that hangs is waited for this long before it counts as failed: far longer
# than PTB's 5 s default, because a reply retried after a timeout may already have been
# delivered, and would then arrive twice.
REQUEST_TIMEOUT: Final = 30.0
_WEBHOOK_SECRET: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")


# ---------------------------------------------------------------------------- logging


class TokenRedactor(logging.Filter):
    """Replace the bot token (and other secrets) in every log record: message, arguments and
    traceback.

    The Bot API URL carries the token, and exceptions from the HTTP layer may quote URLs.
    `secrets` are others to hide the same way, such as SANAD_LLM_API_KEY.
    """

    def __init__(self, token: str, *secrets: str) -> None:
        super().__init__()
        secret = token.partition(":")[2]
        candidates = {token, quote(token, safe=""), quote(token)}
        if len(secret) >= 8:
            candidates.add(secret)
        for other in secrets:
            if len(other) >= 8:  # a shorter "secret" would blank ordinary words
                candidates |= {other, quote(other, safe=""), quote(other)}
        # Longest first, so the whole token goes before its secret half.
        self._secrets = sorted((c for c in candidates if c), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return text with every form of the token replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error handling
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(token: str, *secrets: str) -> TokenRedactor:
    """Keep the token (and other secrets) out of logs and show one INFO line per answer."""
    # At INFO httpx logs every request URL, and Bot API URLs carry the token: never that.
    # The OpenAI client logs through httpx2 and its own logger: quiet them too.
    for name in ("httpx", "httpcore", "httpx2", "httpcore2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = TokenRedactor(token, *secrets)
    for handler in root.handlers:
        handler.addFilter(redactor)
    bot_logger = logging.getLogger("bot")
    if bot_logger.getEffectiveLevel() > logging.INFO:
        bot_logger.setLevel(logging.INFO)
    return redactor


# ---------------------------------------------------------------------------- concurrency


def _order_key(update: object) -> int | None:
    """Return the chat whose updates must be handled in order (None: no ordering needed)."""
    if not isinstance(update, Update) or update.inline_query is not None:
        return None  # inline queries are debounced by the handler instead
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Handle updates of different chats concurrently, and those of one chat in order.

    Ten chats asking at once do not wait for each other's network round trips, while a
    follow-up question (or /new) in one chat still sees the effect of the one before it.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _order_key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


# ---------------------------------------------------------------------------- building


def bot_token(settings: Settings) -> str:
    """Return the bot token, or stop with a message naming TELEGRAM_BOT_TOKEN."""
    if settings.telegram_bot_token is None:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is not set: the bot needs its token from @BotFather"
        )
    return settings.telegram_bot_token.get_secret_value()


def _commands(names: Iterable[str]) -> list[BotCommand]:
    return [BotCommand(name, replies.COMMANDS[name]) for name in names]


async def register_commands(bot: Bot, settings: Settings, attempts: int = 3) -> None:
    """Publish the command menus (Arabic descriptions): everyone, groups, each admin."""
    menus: list[tuple[Any, list[BotCommand]]] = [
        (BotCommandScopeDefault(), _commands(("start", "help", "sources", "new", "ask"))),
        (BotCommandScopeAllGroupChats(), _commands(("ask", "help", "sources"))),
    ]
    admin_menu = _commands(("start", "help", "sources", "new", "ask", "reindex", "stats"))
    menus += [(BotCommandScopeChat(admin), admin_menu) for admin in sorted(settings.admin_ids)]
    for scope, commands in menus:
        for attempt in range(attempts):
            try:
                await bot.set_my_commands(commands, scope=scope)
                break
            except TelegramError as exc:  # an admin who never opened the bot, a flaky API
                if attempt == attempts - 1:
                    logger.warning("could not set the %s command menu: %s", scope.type, exc)
                else:
                    await asyncio.sleep(1 + attempt)


def _warm(engine: Engine) -> None:
    engine.embedder()
    try:
        engine.index()
    except IndexNotBuilt:
        logger.warning("no index yet: run `sanad index` (or /reindex as an admin)")


def build_application(
    engine: Engine,
    settings: Settings | None = None,
    *,
    store: FeedbackStore | None = None,
    warm: bool = True,
) -> AnyApplication:
    """Return the bot's Application, handlers registered, ready to poll or serve a webhook."""
    settings = settings or engine.settings
    token = bot_token(settings)
    root = settings.telegram_api_base_url
    store = store or FeedbackStore.in_data_dir(settings.data_dir)
    sanad = Sanad(engine, settings, store)

    async def post_init(app: AnyApplication) -> None:
        if warm:
            await asyncio.to_thread(_warm, engine)
        await register_commands(app.bot, settings)
        logger.info("bot @%s is up", app.bot.username)

    async def post_shutdown(app: AnyApplication) -> None:
        await asyncio.to_thread(store.close)

    app: AnyApplication = (
        Application.builder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=3))
        .read_timeout(REQUEST_TIMEOUT)
        .write_timeout(REQUEST_TIMEOUT)
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.bot_data["sanad"] = sanad  # for tests and introspection; handlers use the closure
    add_handlers(app, sanad)
    if settings.watch_seconds > 0:
        watch = SourceWatch(sanad, settings.source_dir)
        assert app.job_queue is not None  # python-telegram-bot[job-queue] is a dependency
        app.job_queue.run_repeating(
            watch, interval=settings.watch_seconds, first=settings.watch_seconds, name="watch"
        )
        logger.info("watching %s every %g s", settings.source_dir, settings.watch_seconds)
    return app


class SourceWatch:
    """Re-index by itself when files of the source folder appear, change or go (opt-in).

    Each tick takes a stat() fingerprint of the folder (no file is read) and compares it with
    the last one; only a difference starts a re-index, in the background and off the event
    loop, which embeds only what changed and switches atomically, as `sanad index` does.
    The first tick always checks, catching up with changes made while the bot was down.
    """

    def __init__(self, sanad: Sanad, folder: Path) -> None:
        self.sanad = sanad
        self.folder = folder
        self.seen: str | None = None

    async def __call__(self, context: Any) -> None:
        if self.sanad.reindexing:  # /reindex or the last tick's: look again next tick
            return
        try:
            fingerprint = await asyncio.to_thread(folder_fingerprint, self.folder)
        except OSError as exc:
            logger.warning("cannot look at the source folder %s: %s", self.folder, exc)
            return
        if fingerprint == self.seen:
            return
        # Taken before the re-index reads the folder: a change made meanwhile is seen next.
        first, self.seen = self.seen is None, fingerprint
        logger.info(
            "%s: re-indexing in the background",
            "checking the index against the source folder"
            if first
            else "the source folder changed",
        )
        self.sanad.start_reindex(context.application, context.bot, None)


def add_handlers(app: AnyApplication, sanad: Sanad) -> None:
    """Register every handler of the bot on an Application."""
    message = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE
    if sanad.settings.allowed_chats:
        app.add_handler(TypeHandler(Update, sanad.gate), group=-1)
    for name, callback in (
        ("start", sanad.start),
        ("help", sanad.help),
        ("sources", sanad.sources),
        ("new", sanad.new),
        ("ask", sanad.ask),
        ("reindex", sanad.reindex),
        ("stats", sanad.stats),
    ):
        app.add_handler(CommandHandler(name, callback, filters=message))
    app.add_handlers(
        [
            MessageHandler(
                message & private & filters.TEXT & ~filters.COMMAND, sanad.private_text
            ),
            MessageHandler(
                message & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND,
                sanad.group_text,
            ),
            MessageHandler(message & private & filters.COMMAND, sanad.unknown_command),
            MessageHandler(
                message & private & ~filters.TEXT & ~filters.StatusUpdate.ALL, sanad.non_text
            ),
            CallbackQueryHandler(sanad.button),
            InlineQueryHandler(sanad.inline),
        ]
    )
    app.add_error_handler(sanad.on_error)


# ---------------------------------------------------------------------------- running


def _webhook_options(settings: Settings) -> dict[str, Any]:
    if not settings.webhook_url:
        raise SettingsError("SANAD_WEBHOOK_URL must be set to run the bot with --webhook")
    parsed = urlparse(settings.webhook_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError("SANAD_WEBHOOK_URL must be a full URL, such as https://host/sanad")
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
        if not _WEBHOOK_SECRET.fullmatch(secret):
            raise SettingsError(
                "SANAD_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1 to 256 of them)"
            )
    else:  # Telegram echoes it on every POST: a fresh one per start still proves the sender
        secret = secrets.token_urlsafe(32)
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": parsed.path.strip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": secret,
    }


def run_bot(engine: Engine, *, webhook: bool = False) -> int:
    """Run the bot until SIGINT/SIGTERM, by long polling (or webhook); return an exit status."""
    # PTB 22 warns on RetryAfter unless periods are timedeltas; opt in before it builds one.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    settings = engine.settings
    llm_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
    configure_logging(bot_token(settings), llm_key)
    options = _webhook_options(settings) if webhook else None
    app = build_application(engine, settings)
    try:
        # bootstrap_retries=-1: if the Bot API is down at start, wait for it (with back-off).
        if options is not None:
            logger.info("serving the webhook on %s:%s", options["listen"], options["port"])
            app.run_webhook(**options, allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
        else:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
    except InvalidToken:
        raise SettingsError("TELEGRAM_BOT_TOKEN was rejected by the Bot API server") from None
    finally:
        engine.close()
    return 0
