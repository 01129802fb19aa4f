"""The words of the domain: Article, Chunk, Passage, Citation, Answer.

Frozen dataclasses with no behaviour beyond trivial derived values, shared by the
index side and the query side.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news story read from a source file.

    A file usually holds one article; a page with a "read also" story holds two or more,
    all with the same `file` and distinct `part` numbers.
    """

    id: str
    file: str
    title: str
    text: str
    source: str | None = None
    date: str | None = None
    url: str | None = None
    part: int = 0


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, as stored in the index; `start`/`end` index `Article.text`."""

    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A chunk retrieved for a question, with its article's metadata and a score."""

    chunk_id: str
    article_id: str
    file: str
    title: str
    text: str
    score: float
    source: str | None = None
    date: str | None = None
    url: str | None = None
    start: int = 0
    end: int = 0
    sentences: tuple[tuple[int, int, int], ...] = ()
    """(start, end) of each sentence in `text`, and the row of its vector in the index."""


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer: where a quoted sentence comes from."""

    n: int
    article_id: str
    chunk_id: str
    file: str
    title: str
    quote: str
    source: str | None = None
    date: str | None = None
    url: str | None = None
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What Sanad says to a question: text with numbered citations, or a refusal.

    `text` is plain text (no markup) whose claims carry `[n]` markers matching
    `citations`; the list of sources is rendered by the edges from `citations`.
    `language` is the language of the framing ("ar" or "en"); quotes stay Arabic.
    `mode` says what wrote the text: "extractive" (verbatim quotes) or "generative" (a
    language model, every sentence checked against the passage it cites); `fallback` is set
    when a language model was asked but its reply was not used ("error", "timeout",
    "refused", "unsupported"), and the answer is the extractive one.
    """

    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    language: str = "ar"
    mode: str = "extractive"
    fallback: str | None = None
