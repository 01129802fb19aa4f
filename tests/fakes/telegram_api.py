"""A fake Telegram Bot API server on 127.0.0.1 for tests that run the real python-telegram-bot.

It owns Telegram's side of the wire: the bot's calls (recorded in order), what users do
(injected as updates), Telegram's validation (message length, HTML entities, "message is not
modified", callback data size, expired queries, command names), long polling, webhooks, and
injected faults (429/5xx answers, dropped connections, slow answers, the whole API down).

Inside an event loop::

    async with FakeTelegram() as tg:
        bot = Bot(tg.token, base_url=f"{tg.base_url}/bot", base_file_url=f"{tg.base_url}/file/bot")
        tg.send_text("ما هي عاصمة مصر؟")
        replies = await tg.wait_for_messages(count=1)

From synchronous code (for example while the bot runs as a subprocess)::

    with FakeTelegram.start_in_thread() as tg:
        env = {**os.environ, "TELEGRAM_API_BASE_URL": tg.base_url}
        ...
        tg.send_text("/start")
        replies = tg.wait_for_messages(count=1, timeout=20)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import inspect
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import (
    Any,
    Concatenate,
    Final,
    Literal,
    NamedTuple,
    ParamSpec,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
)

import aiohttp
from aiohttp import web

DEFAULT_TOKEN: Final = "123456:TEST-token"
DEFAULT_USERNAME: Final = "sanad_test_bot"
DEFAULT_USER_ID: Final = 1001
DEFAULT_GROUP_ID: Final = -4001001
DEFAULT_SUPERGROUP_ID: Final = -1001000000001
MAX_TEXT_LENGTH: Final = 4096
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
QUERY_TOO_OLD: Final = "query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLLING_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

ChatType = Literal["private", "group", "supergroup"]
JSONDict = dict[str, Any]


class Sender(TypedDict, total=False):
    """Who sends an injected media message, and where (as send_text's keyword arguments)."""

    chat_id: int | None
    user_id: int
    chat_type: ChatType
    first_name: str
    username: str | None
    reply_to_message_id: int | None
    chat_title: str | None


# Form fields are text even when they look like JSON ("123", "[1]"); every other form field
# was JSON-encoded by the client when it was not a string (python-telegram-bot does so).
_STRING_PARAMS: Final = frozenset(
    {
        "text", "caption", "query", "parse_mode", "url", "secret_token", "callback_query_id",
        "inline_query_id", "inline_message_id", "action", "language_code", "description",
        "short_description", "name", "title", "next_offset", "ip_address", "emoji",
        "message_effect_id", "business_connection_id", "data", "sticker", "photo", "voice",
        "document", "audio", "video", "animation", "file_id",
    }
)  # fmt: skip
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_BUTTON_ACTIONS: Final = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)  # fmt: skip
_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_IN_TEXT: Final = re.compile(
    r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])"
)
_MENTION_IN_TEXT: Final = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9_]{5,32}(?![A-Za-z0-9_])")


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional retry_after."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """Return the HTTP response Telegram sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class _Unavailable(Exception):
    """Raised inside a long poll when the fake API goes down under it."""


class ApiCall(NamedTuple):
    """One request the bot made: the canonical method name and its decoded parameters."""

    method: str
    params: JSONDict


# --- Telegram's HTML parse mode --------------------------------------------------------------

_TAG_ENTITY_TYPES: Final[Mapping[str, str]] = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_CHAR_REFS: Final[Mapping[str, str]] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF: Final = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z]{1,10}));")
_PLAIN_RUN: Final = re.compile(r"[^<&]+")
_TAG_NAME: Final = re.compile(r"[^\s>/]*")
_END_TAG: Final = re.compile(r"</([^\s>]*)\s*>")
_ATTRIBUTE: Final = re.compile(
    r"""([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)


def utf16_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _char_ref(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_CHAR_REFS.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the parsed text
    attrs: dict[str, str]
    language: str | None = None
    merged_into_pre: bool = False


def _parse_failure(reason: str) -> ApiError:
    return _bad_request(f"can't parse entities: {reason}")


def _parse_attributes(source: str, index: int, name: str, at: str) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    while True:
        while index < len(source) and source[index].isspace():
            index += 1
        if index >= len(source):
            raise _parse_failure(f"Unclosed start tag {at}")
        if source[index] == ">":
            return attrs, index + 1
        match = _ATTRIBUTE.match(source, index)
        if match is None:
            raise _parse_failure(f'Unexpected character in start tag "{name}" {at}')
        value = next((v for v in match.group(2, 3, 4) if v is not None), "")
        attrs[match[1].lower()] = _CHAR_REF.sub(lambda m: _char_ref(m) or m[0], value)
        index = match.end()


def _close_tag(tag: _OpenTag, position: int) -> JSONDict | None:
    length = position - tag.start
    if length <= 0 or tag.merged_into_pre:
        return None
    entity: JSONDict = {"type": _TAG_ENTITY_TYPES[tag.name], "offset": tag.start, "length": length}
    if tag.name == "a":
        url = tag.attrs.get("href", "").strip()
        if not url:
            return None
        entity["url"] = url
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def _strip(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, moving entities with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(size, entity["offset"] + entity["length"] - lead)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Return the text and entities Telegram makes of HTML `source`; raise ApiError like it.

    Telegram itself keeps a bare "&" as text; with `strict_ampersand` the fake rejects it, so
    a missing html.escape() is caught before real user text contains "<".
    """
    pieces: list[str] = []
    position = 0
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    i = 0
    while i < len(source):
        if plain := _PLAIN_RUN.match(source, i):
            pieces.append(plain[0])
            position += utf16_len(plain[0])
            i = plain.end()
            continue
        at = f"at byte offset {len(source[:i].encode())}"
        if source[i] == "&":
            ref = _CHAR_REF.match(source, i)
            decoded = _char_ref(ref) if ref else None
            if decoded is None or ref is None:
                if strict_ampersand:
                    raise _parse_failure(f'character "&" {at} must be escaped as "&amp;"')
                decoded, i = "&", i + 1
            else:
                i = ref.end()
            pieces.append(decoded)
            position += utf16_len(decoded)
        elif end_tag := _END_TAG.match(source, i):
            name = end_tag[1].lower()
            if not stack:
                raise _parse_failure(f"Unexpected end tag {at}")
            if stack[-1].name != name:
                expected = stack[-1].name
                raise _parse_failure(
                    f'Unmatched end tag {at}, expected "</{expected}>", found "</{name}>"'
                )
            if entity := _close_tag(stack.pop(), position):
                entities.append(entity)
            i = end_tag.end()
        elif source.startswith("</", i):
            raise _parse_failure(f"Unclosed end tag {at}")
        else:
            name_match = _TAG_NAME.match(source, i + 1)
            name = name_match[0].lower() if name_match else ""
            if name not in _TAG_ENTITY_TYPES:
                raise _parse_failure(f'Unsupported start tag "{name}" {at}')
            attrs, i = _parse_attributes(source, i + 1 + len(name), name, at)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _parse_failure(f'Tag "span" must have class "tg-spoiler" {at}')
            tag = _OpenTag(name, position, attrs)
            language = attrs.get("class", "")
            parent = stack[-1] if stack else None
            if (
                name == "code"
                and parent is not None
                and parent.name == "pre"
                and parent.start == position
                and language.startswith("language-")
            ):
                parent.language = language.removeprefix("language-")
                tag.merged_into_pre = True
            stack.append(tag)
    if stack:
        raise _parse_failure(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return _strip("".join(pieces), entities)


# --- request decoding ------------------------------------------------------------------------


def _decode_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> JSONDict:
    """Merge query string and body (JSON, urlencoded or multipart) into decoded parameters."""
    params: JSONDict = {key: _decode_value(key, value) for key, value in request.query.items()}
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise _bad_request("can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise _bad_request("the request body must be a JSON object")
        for key, value in body.items():
            is_json_text = isinstance(value, str) and value.startswith(("[", "{"))
            params[key] = _decode_value(key, value) if is_json_text else value
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = {"file_name": value.filename, "content_type": value.content_type}
        elif isinstance(value, bytes | bytearray):
            params[key] = _decode_value(key, bytes(value).decode())
        else:
            params[key] = _decode_value(key, value)
    return params


def _update_kind(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _wanted(update: Mapping[str, Any], allowed: frozenset[str] | None) -> bool:
    kind = _update_kind(update)
    return kind in allowed if allowed else kind not in _OPT_IN_UPDATES


def _locate(message: Mapping[str, Any]) -> tuple[int, int]:
    """Return (chat_id, message_id) of an update, a message dict or a sent_messages() record."""
    if "update_id" in message:
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if key in message:
                return _locate(message[key])
        if "callback_query" in message:
            return _locate(message["callback_query"]["message"])
        raise ValueError(f"update {message['update_id']} carries no message")
    chat_id = message["chat_id"] if "chat_id" in message else message["chat"]["id"]
    return int(chat_id), int(message["message_id"])


def _text_content(text: str) -> JSONDict:
    """Return a user's text message content, with the entities Telegram's clients add."""
    content: JSONDict = {"text": text}
    entities = [
        {"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for kind, pattern in (("bot_command", _COMMAND_IN_TEXT), ("mention", _MENTION_IN_TEXT))
        for m in pattern.finditer(text)
    ]
    if entities:
        content["entities"] = sorted(entities, key=lambda entity: entity["offset"])
    return content


def _now() -> int:
    return int(time.time())


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


@dataclass
class _Fault:
    kind: Literal["fail", "drop", "hang"]
    method: str  # lower case, or "*" for any method
    times: int
    status: int = 500
    retry_after: int | None = None
    description: str | None = None
    seconds: float = 0.0
    deliver: bool = True

    def error(self) -> ApiError:
        if self.description is not None:
            description = self.description
        elif self.status == 429:
            description = f"Too Many Requests: retry after {self.retry_after or 1}"
        elif self.status == 403:
            description = "Forbidden: bot was blocked by the user"
        else:
            description = {500: "Internal Server Error", 502: "Bad Gateway"}.get(
                self.status, f"Error {self.status}"
            )
        retry_after = self.retry_after if self.status != 429 else (self.retry_after or 1)
        return ApiError(self.status, description, retry_after=retry_after)


@dataclass
class _Sent:
    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: JSONDict | None
    reply_to_message_id: int | None
    date: int
    edits: int = 0
    deleted: bool = False


@dataclass(frozen=True)
class _Webhook:
    url: str
    secret_token: str | None
    allowed_updates: frozenset[str] | None
    max_connections: int


class FakeTelegram:
    """A fake Bot API server: records the bot's calls and plays the users' side.

    Run it with `async with FakeTelegram() as tg:` in an event loop, or from synchronous code
    with `FakeTelegram.start_in_thread()`. Injection methods (send_text, press_button, ...) and
    recordings (calls, sent_messages, ...) are plain methods; waiting and set_down are
    coroutines. Everything runs on the server's event loop.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        first_name: str = "Sanad",
        strict_ampersand: bool = True,
        query_ttl: float = 15.0,
        port: int = 0,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(prefix) if prefix.isdigit() else 123456,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self._strict_ampersand = strict_ampersand
        self._query_ttl = query_ttl
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self._down: Literal["502", "refuse"] | None = None
        self._changed = asyncio.Event()
        # What the bot did.
        self._calls: list[ApiCall] = []
        self._sent: list[_Sent] = []
        self._sent_by_key: dict[tuple[int, int], _Sent] = {}
        self._callback_answers: list[JSONDict] = []
        self._inline_answers: list[JSONDict] = []
        self._chat_actions: list[JSONDict] = []
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        # Telegram's own state.
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._open_callback_queries: dict[str, float] = {}
        self._open_inline_queries: dict[str, float] = {}
        self._query_ids = itertools.count(4_000_000_001)
        self._faults: list[_Fault] = []
        handlers: dict[str, Callable[[JSONDict], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": lambda _: self.webhook_info(),
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "getChat": self._get_chat,
        }
        for harmless in ("close", "logOut", "setMyDescription", "setMyShortDescription"):
            handlers[harmless] = lambda _: True
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port unless one was given) and start webhook delivery."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        # Cancel a handler when its client disconnects, as a real server frees the request.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        await self._listen()
        self._client = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._deliver_webhooks())

    async def stop(self) -> None:
        """End long polls and pauses at once, stop webhook delivery and close the listener."""
        if self._runner is None:
            return
        self._closing = True
        self._touch()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._client is not None:
            await self._client.close()
        await self._runner.cleanup()
        self._runner = self._site = self._client = self._webhook_task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(
        cls,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        first_name: str = "Sanad",
        strict_ampersand: bool = True,
        query_ttl: float = 15.0,
        port: int = 0,
    ) -> FakeTelegramThread:
        """Run a fake in a background thread; return a blocking, thread-safe handle."""
        fake = cls(
            token=token,
            username=username,
            first_name=first_name,
            strict_ampersand=strict_ampersand,
            query_ttl=query_ttl,
            port=port,
        )
        return FakeTelegramThread.launch(fake)

    @property
    def base_url(self) -> str:
        """The Bot API root, e.g. http://127.0.0.1:PORT (the bot calls <root>/bot<token>/...)."""
        if self._port == 0:
            raise RuntimeError("the fake Telegram server is not started")
        return f"http://127.0.0.1:{self._port}"

    async def _listen(self) -> None:
        if self._runner is None:
            raise RuntimeError("the fake Telegram server is not started")
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await self._site.start()
        self._port = self._runner.addresses[-1][1]

    # --- recordings --------------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """Every call the bot made, in order, faulted ones included (a copy)."""
        return list(self._calls)

    def calls_to(self, method: str) -> list[JSONDict]:
        """Return the parameters of every call to `method` (any case), in order."""
        return [call.params for call in self._calls if call.method.lower() == method.lower()]

    def sent_messages(
        self, chat_id: int | None = None, *, include_deleted: bool = False
    ) -> list[JSONDict]:
        """Return the messages the bot sent (as they are after edits), oldest first.

        Each is a dict: chat_id, message_id, text (as sent, HTML included), plain_text (what
        the user sees), parse_mode, reply_markup, reply_to_message_id, date, edits, deleted.
        """
        records = []
        for sent in self._sent:
            if (chat_id is not None and sent.chat_id != chat_id) or (
                sent.deleted and not include_deleted
            ):
                continue
            stored = self._messages.get((sent.chat_id, sent.message_id), {})
            records.append(
                {
                    "chat_id": sent.chat_id,
                    "message_id": sent.message_id,
                    "text": sent.text,
                    "plain_text": stored.get("text", ""),
                    "parse_mode": sent.parse_mode,
                    "reply_markup": copy.deepcopy(sent.reply_markup),
                    "reply_to_message_id": sent.reply_to_message_id,
                    "date": sent.date,
                    "edits": sent.edits,
                    "deleted": sent.deleted,
                }
            )
        return records

    @property
    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every successful answerCallbackQuery, in order."""
        return list(self._callback_answers)

    @property
    def inline_answers(self) -> list[JSONDict]:
        """Parameters of every successful answerInlineQuery, in order."""
        return list(self._inline_answers)

    @property
    def chat_actions(self) -> list[JSONDict]:
        """Every chat action sent: dicts with chat_id and action."""
        return list(self._chat_actions)

    @property
    def commands(self) -> list[JSONDict]:
        """The command list for the default scope and no language."""
        return self.commands_for()

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """Return the command list set for `scope` and `language_code`."""
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (getUpdates offset) or delivered to a webhook."""
        return copy.deepcopy(self._updates)

    def webhook_info(self) -> JSONDict:
        """Return what getWebhookInfo answers."""
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates:
                info["allowed_updates"] = sorted(hook.allowed_updates)
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def describe(self, last: int = 30) -> str:
        """Summarise the recent calls and pending updates, for failure messages."""
        polls = sum(call.method == "getUpdates" for call in self._calls)
        shown = [call for call in self._calls if call.method != "getUpdates"][-last:]
        lines = [f"{len(self._calls)} calls ({polls} getUpdates not listed); last {len(shown)}:"]
        lines += [f"  {call.method} {_short(call.params, 160)}" for call in shown]
        lines.append(f"{len(self._updates)} pending updates; {len(self._sent)} messages sent")
        return "\n".join(lines)

    # --- what users do -----------------------------------------------------------------------

    def send_text(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: ChatType = "private",
        first_name: str = "Tester",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
    ) -> JSONDict:
        """Inject a text message from a user; commands and mentions get their entities."""
        return self._inject_message(
            _text_content(text),
            chat_id=chat_id,
            user_id=user_id,
            chat_type=chat_type,
            first_name=first_name,
            username=username,
            reply_to_message_id=reply_to_message_id,
            chat_title=chat_title,
        )

    def edit_text(self, message: Mapping[str, Any], new_text: str) -> JSONDict:
        """Edit a user's message (an update or message dict): inject an edited_message."""
        stored = self._stored_message(message)
        if stored["from"].get("is_bot"):
            raise ValueError("edit_text edits a user's message; the bot edits its own")
        stored.pop("entities", None)
        stored.update(_text_content(new_text), edit_date=_now())
        return self._push_update("edited_message", stored)

    def send_sticker(self, /, emoji: str = "👍", **sender: Unpack[Sender]) -> JSONDict:
        """Inject a sticker message; `sender` takes send_text's keyword arguments."""
        sticker = {
            **self._file("sticker"),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._inject_message({"sticker": sticker}, **sender)

    def send_photo(self, /, caption: str | None = None, **sender: Unpack[Sender]) -> JSONDict:
        """Inject a photo message with an optional caption."""
        sizes = [{**self._file("photo"), "width": w, "height": w} for w in (90, 320, 1280)]
        content: JSONDict = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._inject_message(content, **sender)

    def send_voice(self, /, duration: int = 3, **sender: Unpack[Sender]) -> JSONDict:
        """Inject a voice message."""
        voice = {**self._file("voice"), "duration": duration, "mime_type": "audio/ogg"}
        return self._inject_message({"voice": voice}, **sender)

    def send_document(
        self,
        /,
        file_name: str = "article.pdf",
        caption: str | None = None,
        **sender: Unpack[Sender],
    ) -> JSONDict:
        """Inject a document message with an optional caption."""
        document = {**self._file("document"), "file_name": file_name}
        content: JSONDict = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._inject_message(content, **sender)

    def press_button(
        self,
        message: Mapping[str, Any],
        callback_data: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Tester",
        username: str | None = None,
    ) -> JSONDict:
        """Press an inline button of a bot message: inject a callback_query with a fresh id."""
        stored = self._stored_message(message)
        keyboard = stored.get("reply_markup", {}).get("inline_keyboard", [])
        offered = [button.get("callback_data") for row in keyboard for button in row]
        if callback_data not in offered:
            raise ValueError(
                f"message {_locate(stored)} has no button with callback_data {callback_data!r} "
                f"(it has {offered!r}); forge one with raw_update()"
            )
        query_id = self._open_query(self._open_callback_queries)
        query = {
            "id": query_id,
            "from": self._user(user_id, first_name, username),
            "message": stored,
            "chat_instance": f"{abs(stored['chat']['id'])}0",
            "data": callback_data,
        }
        return self._push_update("callback_query", query)

    def inline_query(
        self,
        query: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        first_name: str = "Tester",
        username: str | None = None,
        offset: str = "",
    ) -> JSONDict:
        """Inject an inline query (@bot query typed in any chat) with a fresh id."""
        inline = {
            "id": self._open_query(self._open_inline_queries),
            "from": self._user(user_id, first_name, username),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        return self._push_update("inline_query", inline)

    def raw_update(self, update: Mapping[str, Any]) -> JSONDict:
        """Inject any update dict as is (forged data included); an update_id is added."""
        forged = copy.deepcopy(dict(update))
        if "update_id" in forged:
            self._next_update_id = max(self._next_update_id, int(forged["update_id"]) + 1)
        else:
            forged = {"update_id": self._next_update_id, **forged}
            self._next_update_id += 1
        # Forged queries are answerable, as their ids would be real ones on Telegram.
        for kind, registry in (
            ("callback_query", self._open_callback_queries),
            ("inline_query", self._open_inline_queries),
        ):
            if kind in forged and "id" in forged[kind]:
                registry[str(forged[kind]["id"])] = time.monotonic()
        self._updates.append(forged)
        self._touch()
        return copy.deepcopy(forged)

    # --- waiting -----------------------------------------------------------------------------

    # The timeout belongs to the assertion and its failure message: not a cancellation scope.
    async def wait_for(
        self,
        predicate: Callable[[FakeTelegram], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until predicate(fake) is true; raise TimeoutError with a dump of the calls."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"condition not met within {timeout} s\n{self.describe()}")
            await self._wait_change(left)

    async def wait_for_messages(
        self,
        chat_id: int | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JSONDict]:
        """Wait until the bot has sent `count` messages (to `chat_id`); return them all."""
        await self.wait_for(lambda fake: len(fake.sent_messages(chat_id)) >= count, timeout)
        return self.sent_messages(chat_id)

    # --- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        retry_after: int | None = None,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls to `method` ("*" for any) with an error, unprocessed."""
        self._faults.append(
            _Fault("fail", method.lower(), times, status, retry_after, description)
        )

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection of the next `times` calls to `method` without an answer."""
        self._faults.append(_Fault("drop", method.lower(), times))

    def hang_next(
        self, method: str, seconds: float, *, times: int = 1, deliver: bool = True
    ) -> None:
        """Delay the answer to the next `times` calls to `method` by `seconds`.

        With `deliver` the call takes effect first and only the answer is late (a client that
        gives up may then retry and duplicate); without it the call is processed after the
        pause, and not at all if the client has disconnected meanwhile.
        """
        self._faults.append(
            _Fault("hang", method.lower(), times, seconds=seconds, deliver=deliver)
        )

    def clear_faults(self) -> None:
        """Forget faults not yet triggered."""
        self._faults.clear()

    async def set_down(self, down: bool, *, refuse: bool = False) -> None:
        """Take the whole API down (502 to everything, or refused connections) or back up."""
        if down:
            self._down = "refuse" if refuse else "502"
            if refuse and self._site is not None and self._runner is not None:
                await self._site.stop()
                self._site = None
                server = self._runner.server
                # As if the server process died: open connections go too, in-flight or idle.
                for connection in server.connections if server is not None else []:
                    connection.force_close()
        else:
            if self._site is None and self._runner is not None:
                await self._listen()
            self._down = None
        self._touch()

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method.lower()):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # --- HTTP plumbing -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return self._down_response(request)
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        try:
            params = await _read_params(request)
        except ApiError as exc:
            return exc.response()
        name = request.match_info["method"]
        method, handler = self._methods.get(name.lower(), (name, None))
        self._calls.append(ApiCall(method, params))
        self._touch()
        fault = self._take_fault(method)
        if fault is not None and fault.kind == "drop":
            return self._drop(request)
        if fault is not None and fault.kind == "fail":
            return fault.error().response()
        hang = fault if fault is not None and fault.kind == "hang" else None
        if hang is not None and not hang.deliver:
            await self._pause(hang.seconds)  # cancelled here if the client gives up
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            response = web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            response = exc.response()
        except _Unavailable:
            return self._down_response(request)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            response = _bad_request(f"invalid parameters ({exc!r})").response()
        if hang is not None and hang.deliver:
            await self._pause(hang.seconds)
        return response

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        return ApiError(404, "Not Found").response()

    def _down_response(self, request: web.Request) -> web.StreamResponse:
        if self._down == "refuse":
            return self._drop(request)
        return ApiError(502, "Bad Gateway").response()

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)  # never reaches the client

    def _touch(self) -> None:
        """Wake everything waiting for a change (long polls, wait_for, webhook delivery)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float | None) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()

    async def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._closing and (left := deadline - time.monotonic()) > 0:
            await self._wait_change(left)

    # --- Bot API methods ---------------------------------------------------------------------

    def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = frozenset(allowed) or None
        if params.get("offset") is not None:
            self._confirm(int(params["offset"]))
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLLING_CONFLICT)
            if self._webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if self._down:
                raise _Unavailable
            ready = [u for u in self._updates if _wanted(u, self._allowed_updates)][:limit]
            left = deadline - time.monotonic()
            if ready or left <= 0 or self._closing:
                return copy.deepcopy(ready)
            await self._wait_change(left)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            kept = self._updates[offset:]
        else:
            kept = [update for update in self._updates if update["update_id"] >= offset]
        if len(kept) != len(self._updates):
            self._updates = kept
            self._touch()

    def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise _bad_request("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        allowed = params.get("allowed_updates")
        self._webhook = _Webhook(
            url=url,
            secret_token=str(secret) if secret else None,
            allowed_updates=frozenset(allowed) if allowed else None,
            max_connections=int(params.get("max_connections") or 40),
        )
        self._webhook_error = None
        self._touch()
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = None
        self._webhook_error = None
        self._touch()
        return True

    @staticmethod
    def _commands_key(
        scope: Mapping[str, Any] | None, language_code: str | None
    ) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", "")).strip()
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        self._touch()
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands_for(params.get("scope"), params.get("language_code") or "")

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        self._touch()
        return True

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"))
        plain, entities = self._message_text(params)
        markup = self._checked_markup(params.get("reply_markup"))
        reply_to = self._reply_target(params, chat["id"])
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        if inline := self._inline_keyboard(markup):
            content["reply_markup"] = inline
        message = self._new_message(chat, self.bot_user, content, reply_to)
        sent = _Sent(
            chat_id=chat["id"],
            message_id=message["message_id"],
            text=str(params["text"]),
            parse_mode=params.get("parse_mode"),
            reply_markup=copy.deepcopy(markup),
            reply_to_message_id=reply_to,
            date=message["date"],
        )
        self._sent.append(sent)
        self._sent_by_key[(sent.chat_id, sent.message_id)] = sent
        self._touch()
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        plain, entities = self._message_text(params)
        markup = self._checked_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True  # messages sent via inline mode are not tracked
        message = self._editable(params)
        inline = self._inline_keyboard(markup)
        if (plain, entities, inline) == (
            message.get("text"),
            message.get("entities", []),
            message.get("reply_markup"),
        ):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message["text"] = plain
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if inline:
            message["reply_markup"] = inline
        message["edit_date"] = _now()
        if sent := self._sent_by_key.get(_locate(message)):
            sent.text = str(params["text"])
            sent.parse_mode = params.get("parse_mode")
            sent.reply_markup = copy.deepcopy(markup)
            sent.edits += 1
        self._touch()
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = self._checked_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        inline = self._inline_keyboard(markup)
        if inline == message.get("reply_markup"):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message.pop("reply_markup", None)
        if inline:
            message["reply_markup"] = inline
        message["edit_date"] = _now()
        if sent := self._sent_by_key.get(_locate(message)):
            sent.reply_markup = copy.deepcopy(markup)
            sent.edits += 1
        self._touch()
        return copy.deepcopy(message)

    def _delete_message(self, params: JSONDict) -> bool:
        key = (self._chat(params.get("chat_id"))["id"], int(params["message_id"]))
        if self._messages.pop(key, None) is None:
            raise _bad_request("message to delete not found")
        if sent := self._sent_by_key.get(key):
            sent.deleted = True
        self._touch()
        return True

    def _send_chat_action(self, params: JSONDict) -> bool:
        chat = self._chat(params.get("chat_id"))
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self._chat_actions.append({"chat_id": chat["id"], "action": action})
        self._touch()
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        self._close_query(self._open_callback_queries, params.get("callback_query_id"))
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_answers.append(dict(params))
        self._touch()
        return True

    def _answer_inline_query(self, params: JSONDict) -> bool:
        self._close_query(self._open_inline_queries, params.get("inline_query_id"))
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise _bad_request("RESULTS_TOO_MUCH")
        ids = [str(result.get("id", "")) for result in results]
        if len(set(ids)) != len(ids):
            raise _bad_request("RESULT_ID_DUPLICATE")
        if any(not 1 <= len(i.encode()) <= 64 for i in ids):
            raise _bad_request("RESULT_ID_INVALID")
        self._inline_answers.append(dict(params))
        self._touch()
        return True

    def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"), create=False)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    # --- webhook delivery --------------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        failures = 0
        while not self._closing:
            hook = self._webhook
            if hook is None or self._down:
                await self._wait_change(None)
                continue
            self._updates = [u for u in self._updates if _wanted(u, hook.allowed_updates)]
            if not self._updates:
                await self._wait_change(None)
                continue
            update = self._updates[0]
            error = await self._post_update(hook, update)
            if error is None:
                failures = 0
                self._updates = [u for u in self._updates if u is not update]
            else:
                failures += 1
                self._webhook_error = (_now(), error)
            self._touch()
            if error is not None:
                await self._pause(min(0.05 * 2**failures, 1.0))

    async def _post_update(self, hook: _Webhook, update: JSONDict) -> str | None:
        if self._client is None:
            return "the fake is not started"
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        )
        try:
            async with self._client.post(
                hook.url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc!r}"
        if 200 <= response.status < 300:
            return None
        return f"Wrong response from the webhook: {response.status} {response.reason}"

    # --- helpers -----------------------------------------------------------------------------

    def _chat(self, chat_id: Any, *, create: bool = True) -> JSONDict:
        """Resolve a chat_id parameter; unseen numeric ids become chats like Telegram's."""
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            found = [c for c in self._chats.values() if c.get("username") == chat_id[1:]]
            if not found:
                raise _bad_request("chat not found")
            return found[0]
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None
        if number not in self._chats:
            if not create or number == 0:
                raise _bad_request("chat not found")
            if number > 0:
                self._chats[number] = {"id": number, "type": "private", "first_name": "User"}
            else:
                kind = "supergroup" if str(number).startswith("-100") else "group"
                self._chats[number] = {"id": number, "type": kind, "title": f"Chat {number}"}
        return self._chats[number]

    def _message_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        """Return the text and entities the user would see; validate like Telegram."""
        text = params.get("text")
        if text is None or text == "":
            raise _bad_request("message text is empty")
        text = str(text)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            plain, entities = parse_html(text, strict_ampersand=self._strict_ampersand)
        elif mode in ("markdown", "markdownv2"):
            plain, entities = text.strip(), []  # not parsed by the fake
        elif mode:
            raise _bad_request("unsupported parse_mode")
        else:
            plain, entities = _strip(text, list(params.get("entities") or []))
        if not plain:
            raise _bad_request("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return plain, entities

    @staticmethod
    def _checked_markup(markup: Any) -> JSONDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: text is empty")
                if not _BUTTON_ACTIONS.intersection(button):
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and not (
                    isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad_request("BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _inline_keyboard(markup: JSONDict | None) -> JSONDict | None:
        """Return the markup a Message carries: inline keyboards only, never an empty one."""
        if markup and markup.get("inline_keyboard"):
            return {"inline_keyboard": copy.deepcopy(markup["inline_keyboard"])}
        return None

    def _reply_target(self, params: JSONDict, chat_id: int) -> int | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id", params.get("reply_to_message_id"))
        if message_id is None:
            return None
        target_chat = self._chat(reply.get("chat_id", chat_id))["id"]
        if (target_chat, int(message_id)) in self._messages:
            return int(message_id)
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise _bad_request("message to be replied not found")

    def _editable(self, params: JSONDict) -> JSONDict:
        key = (self._chat(params.get("chat_id"))["id"], int(params["message_id"]))
        message = self._messages.get(key)
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message

    def _new_message(
        self, chat: JSONDict, sender: JSONDict, content: JSONDict, reply_to: int | None
    ) -> JSONDict:
        chat_id = chat["id"]
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        message: JSONDict = {
            "message_id": message_id,
            "date": _now(),
            "chat": dict(chat),
            "from": dict(sender),
            **copy.deepcopy(content),
        }
        if reply_to is not None:
            replied = copy.deepcopy(self._messages[(chat_id, reply_to)])
            replied.pop("reply_to_message", None)
            message["reply_to_message"] = replied
        self._messages[(chat_id, message_id)] = message
        return message

    def _stored_message(self, message: Mapping[str, Any]) -> JSONDict:
        key = _locate(message)
        stored = self._messages.get(key)
        if stored is None:
            raise ValueError(f"no message {key} in the fake (never sent, or deleted)")
        return stored

    @staticmethod
    def _user(user_id: int, first_name: str, username: str | None) -> JSONDict:
        user: JSONDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": "ar",
        }
        if username is not None:
            user["username"] = username
        return user

    def _inject_message(
        self,
        content: JSONDict,
        *,
        chat_id: int | None = None,
        user_id: int = DEFAULT_USER_ID,
        chat_type: ChatType = "private",
        first_name: str = "Tester",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
    ) -> JSONDict:
        user = self._user(user_id, first_name, username)
        if chat_type == "private":
            chat_id = user_id if chat_id is None else chat_id
            chat: JSONDict = {k: v for k, v in user.items() if k in ("first_name", "username")}
        else:
            default = DEFAULT_GROUP_ID if chat_type == "group" else DEFAULT_SUPERGROUP_ID
            chat_id = default if chat_id is None else chat_id
            chat = {"title": chat_title or "Sanad test group"}
        chat = {"id": chat_id, "type": chat_type, **chat}
        self._chats[chat_id] = chat
        if (
            reply_to_message_id is not None
            and (chat_id, reply_to_message_id) not in self._messages
        ):
            raise ValueError(f"no message {reply_to_message_id} in chat {chat_id} to reply to")
        message = self._new_message(chat, user, content, reply_to_message_id)
        return self._push_update("message", message)

    def _file(self, kind: str) -> JSONDict:
        number = next(self._query_ids)
        return {"file_id": f"{kind}-{number}", "file_unique_id": f"u{number}", "file_size": 1024}

    def _push_update(self, kind: str, payload: JSONDict) -> JSONDict:
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._touch()
        return copy.deepcopy(update)

    def _open_query(self, registry: dict[str, float]) -> str:
        query_id = str(next(self._query_ids))
        registry[query_id] = time.monotonic()
        return query_id

    def _close_query(self, registry: dict[str, float], query_id: Any) -> None:
        opened = registry.pop(str(query_id), None)
        if opened is None or time.monotonic() - opened > self._query_ttl:
            raise _bad_request(QUERY_TOO_OLD)


# --- the thread handle -----------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def _on_loop(
    method: Callable[Concatenate[FakeTelegram, P], R],
) -> Callable[Concatenate[FakeTelegramThread, P], R]:
    """Wrap a FakeTelegram method so that the thread handle runs it on the fake's loop."""

    def call(self: FakeTelegramThread, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._run(functools.partial(method, self._fake, *args, **kwargs))

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


class FakeTelegramThread:
    """A FakeTelegram serving from its own thread and loop, with a blocking, thread-safe API.

    Methods mirror FakeTelegram's; coroutines there (wait_for, wait_for_messages, set_down)
    block here. Predicates given to wait_for receive the FakeTelegram itself and run on its
    loop, so `lambda tg: len(tg.sent_messages()) >= 2` works with both.
    """

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="fake-telegram", daemon=True)

    @classmethod
    def launch(cls, fake: FakeTelegram, timeout: float = 10.0) -> FakeTelegramThread:
        """Start serving `fake` in a new thread; return once it listens."""
        handle = cls(fake)
        handle._thread.start()
        if not handle._ready.wait(timeout):
            raise RuntimeError("the fake Telegram server did not start in time")
        if handle._error is not None:
            raise handle._error
        return handle

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and wait for its thread."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self._fake.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await self._fake.stop()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self._fake.stop()

    def _run(self, function: Callable[[], R], timeout: float | None = 30.0) -> R:
        async def on_loop() -> R:
            return function()

        return self._await(on_loop(), timeout)

    def _await(self, coroutine: Coroutine[Any, Any, R], timeout: float | None) -> R:
        if self._loop is None or not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("the fake Telegram server is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def token(self) -> str:
        """The token the fake accepts."""
        return self._fake.token

    @property
    def base_url(self) -> str:
        """The Bot API root, e.g. http://127.0.0.1:PORT."""
        return self._fake.base_url

    @property
    def bot_user(self) -> JSONDict:
        """The bot's User object (getMe without the capability flags)."""
        return dict(self._fake.bot_user)

    @property
    def calls(self) -> list[ApiCall]:
        """Every call the bot made, in order."""
        return self._run(lambda: self._fake.calls)

    @property
    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every successful answerCallbackQuery."""
        return self._run(lambda: self._fake.callback_answers)

    @property
    def inline_answers(self) -> list[JSONDict]:
        """Parameters of every successful answerInlineQuery."""
        return self._run(lambda: self._fake.inline_answers)

    @property
    def chat_actions(self) -> list[JSONDict]:
        """Every chat action sent."""
        return self._run(lambda: self._fake.chat_actions)

    @property
    def commands(self) -> list[JSONDict]:
        """The command list for the default scope and no language."""
        return self._run(lambda: self._fake.commands)

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed or delivered."""
        return self._run(lambda: self._fake.pending_updates)

    calls_to = _on_loop(FakeTelegram.calls_to)
    sent_messages = _on_loop(FakeTelegram.sent_messages)
    commands_for = _on_loop(FakeTelegram.commands_for)
    webhook_info = _on_loop(FakeTelegram.webhook_info)
    describe = _on_loop(FakeTelegram.describe)
    send_text = _on_loop(FakeTelegram.send_text)
    edit_text = _on_loop(FakeTelegram.edit_text)
    send_sticker = _on_loop(FakeTelegram.send_sticker)
    send_photo = _on_loop(FakeTelegram.send_photo)
    send_voice = _on_loop(FakeTelegram.send_voice)
    send_document = _on_loop(FakeTelegram.send_document)
    press_button = _on_loop(FakeTelegram.press_button)
    inline_query = _on_loop(FakeTelegram.inline_query)
    raw_update = _on_loop(FakeTelegram.raw_update)
    fail_next = _on_loop(FakeTelegram.fail_next)
    drop_next = _on_loop(FakeTelegram.drop_next)
    hang_next = _on_loop(FakeTelegram.hang_next)
    clear_faults = _on_loop(FakeTelegram.clear_faults)

    def wait_for(self, predicate: Callable[[FakeTelegram], bool], timeout: float = 5.0) -> None:
        """Block until predicate(fake) is true; raise TimeoutError with a dump of the calls."""
        self._await(self._fake.wait_for(predicate, timeout), timeout + 30)

    def wait_for_messages(
        self, chat_id: int | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Block until the bot has sent `count` messages (to `chat_id`); return them all."""
        return self._await(self._fake.wait_for_messages(chat_id, count, timeout), timeout + 30)

    def set_down(self, down: bool, *, refuse: bool = False) -> None:
        """Take the whole API down (502, or refused connections) or back up."""
        self._await(self._fake.set_down(down, refuse=refuse), 30)
