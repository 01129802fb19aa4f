"""How the edges show which mode wrote an answer, drafts, and the model's key kept secret."""

from __future__ import annotations

import io
import logging
from dataclasses import replace

from bot import replies, terminal
from bot.app import TokenRedactor
from bot.replies import MAX_MESSAGE, utf16_len
from tests.bot.conftest import answer, citation

GENERATED = replace(answer("دعت روسيا الفصائل إلى محادثات في موسكو [1]."), mode="generative")


def test_a_generated_answer_says_so_between_the_answer_and_its_sources() -> None:
    text = replies.plain_text(replies.answer_html(GENERATED))
    body, note, sources = text.split("\n\n")
    assert body.endswith("موسكو [1].")
    assert note == replies.GENERATIVE_NOTE
    assert sources.startswith(replies.SOURCES_HEADING)
    assert f"<i>{replies.GENERATIVE_NOTE}</i>" in replies.answer_html(GENERATED)


def test_a_fallback_says_the_quotes_are_verbatim() -> None:
    fallback = replace(answer("«دعت روسيا الفصائل.» [1]"), fallback="timeout")
    assert replies.FALLBACK_NOTE in replies.plain_text(replies.answer_html(fallback))


def test_a_plain_extractive_answer_is_unchanged() -> None:
    plain = replies.answer_html(answer())
    assert replies.GENERATIVE_NOTE not in plain
    assert replies.FALLBACK_NOTE not in plain
    assert replies.mode_note(answer()) is None


def test_a_draft_reads_right_to_left_with_its_citations_marked() -> None:
    draft = replies.draft_html("دعت روسيا الفصائل إلى موسكو [1].")
    assert "<b>[1]</b>" in draft
    assert replies.plain_text(draft).endswith(replies.DRAFT_NOTE)
    assert replies.starts_rtl(replies.plain_text(draft))


def test_a_long_draft_stays_under_telegram_s_limit() -> None:
    draft = replies.draft_html("جملة طويلة عن المحادثات في موسكو [1]. " * 400)
    assert utf16_len(replies.plain_text(draft)) <= MAX_MESSAGE


def test_the_terminal_shows_the_mode_and_json_carries_it() -> None:
    shown = terminal.format_answer(GENERATED)
    assert terminal.GENERATIVE_NOTE in shown
    assert shown.index(terminal.GENERATIVE_NOTE) < shown.index("المصادر:")
    assert terminal.FALLBACK_NOTE in terminal.format_answer(replace(answer(), fallback="error"))
    assert terminal.format_answer(answer()).splitlines()[0] == answer().text
    data = terminal.answer_json(GENERATED)
    assert (data["mode"], data["fallback"]) == ("generative", None)


def test_the_model_api_key_is_redacted_like_the_bot_token() -> None:
    key = "sk-live-abcdefghijklmnop"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TokenRedactor("123456:" + "A" * 30, key))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("calling the model with %s", f"Bearer {key}")
        try:
            raise RuntimeError(f"401 for key {key}")
        except RuntimeError:
            log.exception("the model refused")
    finally:
        log.removeHandler(handler)
    assert key not in stream.getvalue()
    assert stream.getvalue().count("[REDACTED]") >= 2


def test_a_short_extra_secret_does_not_blank_ordinary_words() -> None:
    redactor = TokenRedactor("123456:" + "A" * 30, "the")
    assert redactor.redact("the answer") == "the answer"


def test_citations_keep_their_buttons_in_generated_answers() -> None:
    two = replace(
        answer("جملة [1]. وأخرى [2].", [citation(1), citation(2, source="فرانس24")]),
        mode="generative",
    )
    keyboard = replies.answer_keyboard(7, two.citations)
    labels = [b.text for row in keyboard.inline_keyboard for b in row]
    assert labels[:2] == ["📖 [1] الجزيرة", "📖 [2] فرانس24"]
