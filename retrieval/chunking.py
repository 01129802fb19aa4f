"""Sentence splitting and passages: how an article's text is cut into `Chunk`s.

Everything here works on character spans of the text it is given and never rewrites it, so a
chunk's text and a quoted sentence are always exact substrings of `Article.text`.
"""

from __future__ import annotations

import re

from retrieval.models import Article, Chunk

SENTENCE_MAX_CHARS = 600
"""The longest sentence `split_sentences` returns before cutting it at a comma or space."""

# The Urdu full stop (U+06D4) and the closing single quotes (U+2019, U+203A) are spelled as
# escapes because they pass for ASCII punctuation in an editor.
_TERMINATORS = ".!?؟؛…\u06d4"
# Closing quotes and brackets right after a terminator end the same sentence ("... قال.»").
_CLOSERS = "\"'”\u2019»\u203a)]}"
# A terminator ends a sentence only before a space, the end of the text or an Arabic letter
# (a missing space after a full stop is a common typo in Arabic copy). Before a digit or a
# Latin letter it is a decimal point or part of an abbreviation (3.5, 1.400, U.S.).
_BOUNDARY = re.compile(
    rf"(?P<stop>[{re.escape(_TERMINATORS)}]+)[{re.escape(_CLOSERS)}]*"
    r"(?=\s|$|[\u0621-\u064A])"
    r"|\n"
)
# Latin abbreviations that take a full stop inside a sentence; single letters (initials, and
# Arabic د. for doctor) are handled apart.
_ABBREVIATIONS = frozenset(
    (
        *("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "gen", "col", "lt"),
        *("sgt", "capt", "gov", "sen", "rep", "inc", "ltd", "co", "corp", "dept", "approx"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    )
)
# "1." or "12." opening a line numbers an item; it is not a sentence of its own.
_LIST_MARKER = re.compile(r"\s*\d{1,3}")
_COMMAS = "،,"
_WORD_CHAR = re.compile(r"[^\W_]")


def split_sentences(text: str, max_chars: int = SENTENCE_MAX_CHARS) -> list[tuple[int, int]]:
    """Return the (start, end) spans of the sentences of text, trimmed of whitespace."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        stop = match.group("stop")
        if stop == "." and (
            _is_abbreviation(text, match.start())
            or _LIST_MARKER.fullmatch(text, start, match.start())
        ):
            continue
        _add_sentence(text, start, match.end() if stop else match.start(), max_chars, spans)
        start = match.end()
    _add_sentence(text, start, len(text), max_chars, spans)
    return spans


def sentences_in(
    text: str, start: int, end: int, *, max_chars: int = SENTENCE_MAX_CHARS
) -> list[tuple[int, int]]:
    """Return the spans, relative to text, of the sentences inside text[start:end]."""
    return [(start + s, start + e) for s, e in split_sentences(text[start:end], max_chars)]


def chunk_article(article: Article, *, max_chars: int = 700, overlap: int = 1) -> list[Chunk]:
    """Cut an article's text into passages of whole sentences, neighbours sharing `overlap`."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    if overlap < 0:
        raise ValueError(f"overlap must not be negative, got {overlap}")
    text = article.text
    sentences = split_sentences(text, min(max_chars, SENTENCE_MAX_CHARS))
    return [
        Chunk(
            id=f"{article.id}:{index}",
            article_id=article.id,
            index=index,
            text=text[start:end],
            start=start,
            end=end,
        )
        for index, (start, end) in enumerate(_passages(text, sentences, max_chars, overlap))
    ]


def _is_abbreviation(text: str, dot: int) -> bool:
    begin = dot
    while begin > 0 and text[begin - 1].isalpha():
        begin -= 1
    word = text[begin:dot]
    return len(word) == 1 or word.lower() in _ABBREVIATIONS


def _add_sentence(
    text: str, start: int, end: int, max_chars: int, spans: list[tuple[int, int]]
) -> None:
    start, end = _trim(text, start, end)
    while end - start > max_chars:
        cut, resume = _long_sentence_cut(text, start, end, max_chars)
        _append_if_words(text, start, cut, spans)
        start = _trim(text, resume, end)[0]
    _append_if_words(text, start, end, spans)


def _append_if_words(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    start, end = _trim(text, start, end)
    # A line of dashes or stars is decoration, not something anyone would quote.
    if start < end and _WORD_CHAR.search(text, start, end):
        spans.append((start, end))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _long_sentence_cut(text: str, start: int, end: int, max_chars: int) -> tuple[int, int]:
    """Return where the first piece of an over-long sentence ends and where the rest starts."""
    limit = start + max_chars
    comma = next(
        (i for i in range(limit - 1, start, -1) if text[i] in _COMMAS and not _in_number(text, i)),
        -1,
    )
    # A comma is the better seam, unless it would leave a stub of a first piece.
    if comma >= start + max_chars // 2:
        return comma + 1, comma + 1
    space = next((i for i in range(limit, start, -1) if text[i].isspace()), -1)
    if space > start:
        return space, space
    if comma > start:
        return comma + 1, comma + 1
    # One "word" longer than the limit (a URL, a run of symbols): keep it whole rather than
    # cut inside it; this piece is the only one that can exceed max_chars.
    space = next((i for i in range(limit, end) if text[i].isspace()), end)
    return space, space


def _in_number(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


def _paragraph_break(text: str, end: int, start: int) -> bool:
    return text.count("\n", end, start) >= 2


def _passages(
    text: str, sentences: list[tuple[int, int]], max_chars: int, overlap: int
) -> list[tuple[int, int]]:
    passages: list[tuple[int, int]] = []
    first = 0
    # The first sentence a passage must reach: the one after the previous passage, so no
    # passage is only a repeat of its predecessor's tail.
    must_reach = 0
    while first < len(sentences):
        last = first
        while last + 1 < len(sentences):
            following = last + 1
            if sentences[following][1] - sentences[first][0] > max_chars:
                break
            length = sentences[last][1] - sentences[first][0]
            if (
                following > must_reach
                and 2 * length >= max_chars
                and _paragraph_break(text, sentences[last][1], sentences[following][0])
            ):
                break
            last = following
        passages.append((sentences[first][0], sentences[last][1]))
        if last == len(sentences) - 1:
            break
        must_reach = last + 1
        # Step back `overlap` sentences, but always forward from this passage's start, and
        # drop overlap that would leave no room for the new sentence.
        first = max(last + 1 - overlap, first + 1)
        while first < must_reach and sentences[must_reach][1] - sentences[first][0] > max_chars:
            first += 1
    return passages
