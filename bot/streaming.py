"""A generated answer shown while it is written: one draft message, edited at a limited rate.

Telegram counts edits against the same flood limits as messages (about one a second per
private chat, 20 a minute per group), and each edit makes the reader's client redraw. So a
draft is edited at most once per `interval` seconds, and only when its text grew by at least
`min_growth` characters; only sentences that passed the engine's checks are ever shown. The
final answer (sources and buttons included) then takes the draft's place. Groups never get
drafts: the handlers send them the final answer only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot import replies

logger = logging.getLogger(__name__)

EDIT_INTERVAL: Final = 1.5  # seconds between two changes of one message
MIN_GROWTH: Final = 40  # characters a draft must gain to be worth an edit
_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)


class DraftMessage:
    """Sends the first checked sentences as a draft, then edits it as the answer grows."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        *,
        reply_to: int | None,
        interval: float = EDIT_INTERVAL,
        min_growth: int = MIN_GROWTH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.reply_to = reply_to
        self.interval = interval
        self.min_growth = min_growth
        self._clock = clock
        self.message: Message | None = None
        self.changes = 0  # the draft sent, plus each edit (the final one included)
        self._latest = ""
        self._shown = ""
        self._last_change = float("-inf")
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sanad-draft")

    def feeder(self) -> Callable[[str], None]:
        """Return a callback for the engine's worker thread: it hands the text to this loop."""
        loop = asyncio.get_running_loop()

        def feed(text: str) -> None:
            loop.call_soon_threadsafe(self.update, text)

        return feed

    def update(self, text: str) -> None:
        """Take the latest checked text (on the event loop)."""
        self._latest = text
        self._changed.set()

    async def _run(self) -> None:
        while not self._closing.is_set():
            changed = asyncio.create_task(self._changed.wait())
            closing = asyncio.create_task(self._closing.wait())
            await asyncio.wait({changed, closing}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            closing.cancel()
            if self._closing.is_set():
                return
            self._changed.clear()
            if self.message is not None and len(self._latest) - len(self._shown) < self.min_growth:
                continue
            if await self._wait_turn():
                return
            text = self._latest
            try:
                await self._show(replies.draft_html(text))
            except TelegramError as exc:  # the final answer is still sent; stop drafting
                logger.info("stopped showing the draft in chat %s: %s", self.chat_id, exc)
                return
            self._shown = text

    async def _wait_turn(self) -> bool:
        """Wait until the next change is allowed; return True if closed meanwhile."""
        wait = self._last_change + self.interval - self._clock()
        if wait <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=wait)
        return self._closing.is_set()

    async def _show(self, html: str, markup: InlineKeyboardMarkup | None = None) -> None:
        if self.message is None:
            reply = (
                ReplyParameters(self.reply_to, allow_sending_without_reply=True)
                if self.reply_to is not None
                else None
            )
            self.message = await self.bot.send_message(
                self.chat_id,
                html,
                parse_mode=ParseMode.HTML,
                reply_parameters=reply,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
        else:
            await self.bot.edit_message_text(
                html,
                chat_id=self.chat_id,
                message_id=self.message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
        self._last_change = self._clock()
        self.changes += 1

    async def close(self) -> None:
        """Stop drafting and wait for a change in flight to land."""
        self._closing.set()
        await self._task

    async def finish(self, html: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Put the final text in the draft's place; False if there is no draft to replace.

        The final edit keeps the same pace as the drafts. If Telegram refuses it, the draft
        is deleted and the caller sends the answer as a new message.
        """
        await self.close()
        if self.message is None:
            return False
        wait = self._last_change + self.interval - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            await self._show(html, markup)
            return True
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            logger.warning("could not replace the draft in chat %s: %s", self.chat_id, exc)
        except TelegramError as exc:
            logger.warning("could not replace the draft in chat %s: %s", self.chat_id, exc)
        await self.discard()
        return False

    async def discard(self) -> None:
        """Stop drafting and delete the draft, if one was sent."""
        await self.close()
        if self.message is None:
            return
        with contextlib.suppress(TelegramError):
            await self.message.delete()
        self.message = None
