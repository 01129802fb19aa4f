"""Extractive answers: pick the sentences that answer, quote them verbatim, cite them.

No language model: every sentence in an answer is copied from a retrieved passage, so it
cannot misquote. Sentences are scored against the question by the dense model (their
vectors were computed at index time) and by IDF-weighted term coverage; the same fact
reported by several outlets is quoted once; differing dates or numbers are shown side by
side; and when nothing is relevant enough the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.models import Answer, Citation, Passage
from retrieval.normalize import detect_language, fold_digits, for_search, tokenize


@dataclass(frozen=True)
class Tuning:
    """The composer's knobs, calibrated on the dev set (tests/data/dev.jsonl)."""

    lexical_weight: float = 0.15  # how much term coverage adds to dense similarity
    rank_weight: float = 0.02  # a small prior for sentences of higher-ranked passages
    keep_margin: float = 0.035  # further sentences must score within this of the best
    max_quotes: int = 3
    same_fact_overlap: float = 0.5  # term overlap above which two sentences say the same
    refuse_below: float = 0.80  # combined score under which the sources do not answer
    refuse_coverage: float = 0.34  # ...unless the best sentence covers this much


DEFAULT_TUNING = Tuning()


@dataclass
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    passage: Passage
    rank: int
    start: int
    end: int
    dense: float
    coverage: float
    score: float
    tokens: frozenset[str] = field(default_factory=frozenset)

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int]:
        """Identify the sentence within its article, whichever overlapping passage held it."""
        return (self.passage.article_id, self.passage.start + self.start)


_DATE_QUESTION = re.compile(
    r"(?:^|\s|و|ف)(?:متى|امتى|إمتى|ايمتى|تاريخ|موعد|يوم|كم|عدد|قديش|كام)"
    r"|\b(?:when|date|day|how many|how much|number)\b",
    re.IGNORECASE,
)
_MONTHS = (
    "يناير|فبراير|مارس|أبريل|ابريل|مايو|يونيو|يوليو|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|"
    "نوفمبر|ديسمبر|كانون|شباط|آذار|اذار|نيسان|أيار|ايار|حزيران|تموز|آب|أيلول|ايلول|تشرين|"
    "الشهر|الجاري"
)
_DAY_MENTION = re.compile(rf"\b([0-3]?\d)\s*(?:من\s+)?(?:{_MONTHS})")


def is_date_or_number_question(question: str) -> bool:
    """Tell whether a question asks when, how many or how much."""
    return bool(_DATE_QUESTION.search(question))


def score_sentences(
    question_tokens: Sequence[str],
    vector: np.ndarray,
    passages: Sequence[Passage],
    sentence_vectors: np.ndarray,
    idf: Callable[[str], float],
    tuning: Tuning = DEFAULT_TUNING,
) -> list[Candidate]:
    """Score every sentence of the passages against the question, best first."""
    weights = {t: idf(t) for t in set(question_tokens)}
    total = sum(weights.values())
    seen: dict[tuple[str, int], Candidate] = {}
    rows = [row for p in passages for _, _, row in p.sentences]
    if not rows:
        return []
    dense = np.asarray(sentence_vectors[rows], dtype=np.float32) @ vector.astype(np.float32)
    i = 0
    for rank, passage in enumerate(passages):
        prior = tuning.rank_weight * (1 - rank / max(len(passages), 1))
        for start, end, _row in passage.sentences:
            sim = float(dense[i])
            i += 1
            tokens = frozenset(tokenize(passage.text[start:end]))
            coverage = sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0
            candidate = Candidate(
                passage,
                rank,
                start,
                end,
                sim,
                coverage,
                sim + tuning.lexical_weight * coverage + prior,
                tokens,
            )
            previous = seen.get(candidate.key)
            if previous is None or candidate.score > previous.score:
                seen[candidate.key] = candidate
    return sorted(seen.values(), key=lambda c: c.score, reverse=True)


def _same_fact(a: Candidate, b: Candidate, threshold: float) -> bool:
    if not a.tokens or not b.tokens:
        return False
    overlap = len(a.tokens & b.tokens) / min(len(a.tokens), len(b.tokens))
    return overlap >= threshold


def _days(text: str) -> set[str]:
    return {m.group(1).lstrip("0") for m in _DAY_MENTION.finditer(fold_digits(text))}


@dataclass
class _Quote:
    lead: Candidate
    also: list[Candidate] = field(default_factory=list)


def compose(
    question: str,
    passages: Sequence[Passage],
    candidates: Sequence[Candidate],
    *,
    language: str = "ar",
    tuning: Tuning = DEFAULT_TUNING,
) -> Answer:
    """Compose the answer from scored sentences: quotes with citations, or a refusal."""
    relevant = [
        c
        for c in candidates
        if c.score >= tuning.refuse_below or c.coverage >= tuning.refuse_coverage
    ]
    if not candidates or not relevant or relevant[0] is not candidates[0]:
        return _refusal(question, passages, language)

    best = candidates[0]
    quotes: list[_Quote] = [_Quote(best)]
    for cand in candidates[1:]:
        if cand.score < best.score - tuning.keep_margin:
            break
        same = next(
            (q for q in quotes if _same_fact(q.lead, cand, tuning.same_fact_overlap)), None
        )
        if same is not None:
            if cand.passage.article_id != same.lead.passage.article_id:
                same.also.append(cand)
            continue
        # One quote per article reads better than several from the same page.
        cited = {q.lead.passage.article_id for q in quotes}
        if len(quotes) < tuning.max_quotes and cand.passage.article_id not in cited:
            quotes.append(_Quote(cand))

    disagreement = None
    if is_date_or_number_question(question):
        disagreement = _disagreement(quotes, candidates, best, tuning)

    # The fullest report of a shared fact leads; the others are named as also reporting it.
    for quote in quotes:
        reports = [quote.lead, *quote.also]
        fullest = max(reports, key=lambda c: (len(c.tokens), c.score))
        quote.also = [c for c in reports if c is not fullest]
        quote.lead = fullest

    citations = []
    lines = []
    for n, quote in enumerate(quotes, 1):
        lead = quote.lead
        also = tuple(
            dict.fromkeys(
                c.passage.source or c.passage.title
                for c in quote.also
                if (c.passage.source or c.passage.title) != (lead.passage.source or "")
            )
        )
        citations.append(
            Citation(
                n=n,
                article_id=lead.passage.article_id,
                chunk_id=lead.passage.chunk_id,
                file=lead.passage.file,
                title=lead.passage.title,
                quote=lead.text,
                source=lead.passage.source,
                date=lead.passage.date,
                url=lead.passage.url,
                also=also,
            )
        )
        line = f"«{lead.text}» [{n}]"
        if also:
            line += f" ({_ALSO[language]} {'، '.join(also)})"
        lines.append(line)
    if disagreement:
        lines.append(_disagreement_line(disagreement, quotes, language))
    return Answer(
        question=question,
        text="\n".join(lines),
        refused=False,
        citations=tuple(citations),
        passages=tuple(passages),
        language=language,
    )


def _disagreement(
    quotes: list[_Quote], candidates: Sequence[Candidate], best: Candidate, tuning: Tuning
) -> dict[str, Candidate] | None:
    """Find relevant sentences that give another day than the best one; quote one of each."""
    values: dict[str, Candidate] = {}
    window = [c for c in candidates if c.score >= best.score - 2 * tuning.keep_margin]
    for cand in window:
        for day in _days(cand.text):
            values.setdefault(day, cand)
    if len(values) < 2:
        return None
    for cand in values.values():
        if all(q.lead is not cand and cand not in q.also for q in quotes):
            quotes.append(_Quote(cand))
    return values


def _disagreement_line(values: dict[str, Candidate], quotes: list[_Quote], language: str) -> str:
    numbers: dict[int, int] = {}
    for n, quote in enumerate(quotes, 1):
        for cand in (quote.lead, *quote.also):
            numbers.setdefault(id(cand), n)
    parts = []
    for day, cand in values.items():
        cited = numbers.get(id(cand))
        if cited is not None:
            parts.append(_ACCORDING[language].format(value=day, n=cited))
    joiner = "، و" if language == "ar" else "; "
    return _DIFFER[language] + joiner.join(parts) + "."


def _refusal(question: str, passages: Sequence[Passage], language: str) -> Answer:
    closest = []
    seen = set()
    for p in passages:
        if p.article_id in seen:
            continue
        seen.add(p.article_id)
        closest.append(p)
        if len(closest) == 3:
            break
    text = _REFUSE[language]
    if closest:
        names = [
            f"{p.title} ({p.source or _NO_SOURCE[language]}" + (f"، {p.date})" if p.date else ")")
            for p in closest
        ]
        text += "\n" + _CLOSEST[language] + "\n" + "\n".join(f"- {n}" for n in names)
    return Answer(
        question=question,
        text=text,
        refused=True,
        passages=tuple(passages),
        language=language,
    )


def framing_language(question: str) -> str:
    """Return the language of the answer's framing: English for English questions."""
    return "en" if detect_language(question) == "en" else "ar"


_FOLLOW_UP_START = re.compile(
    r"^\s*(?:[وف](?:متى|امتى|إمتى|كم|من|مين|أين|اين|وين|ماذا|شو|ايش|إيش|لماذا|ليش|هل|كيف|ما)"
    r"|and\b|what about\b|how about\b)",
    re.IGNORECASE,
)


def contextual_query(question: str, history: Sequence[str]) -> str:
    """Return the text to retrieve with: the question, plus the last one if it is elliptical.

    A follow-up like «ومتى سيبدأ الاجتماع؟» names no subject; carrying the previous
    question's words finds the passages the conversation is about. A question that stands
    on its own (several content words, no leading conjunction) is left alone, so changing
    the subject is not dragged back to the old one.
    """
    if not history:
        return question
    short = len(tokenize(question)) <= 2
    if short or _FOLLOW_UP_START.match(question):
        return f"{history[-1]} {question}"
    return question


def answer_matches(answer_text: str, gold: str) -> bool:
    """Tell whether an answer contains a gold string, after Arabic normalisation."""
    return " ".join(for_search(gold).split()) in " ".join(for_search(answer_text).split())


_ALSO = {"ar": "وأوردته أيضًا:", "en": "also reported by"}
_DIFFER = {"ar": "تختلف المصادر في هذه النقطة: ", "en": "The sources disagree here: "}
_ACCORDING = {"ar": "{value} بحسب [{n}]", "en": "{value} according to [{n}]"}
_REFUSE = {
    "ar": "لا تجيب المصادر المتاحة لديّ عن هذا السؤال.",
    "en": "My sources do not answer this question.",
}
_CLOSEST = {"ar": "أقرب المقالات إليه:", "en": "The closest articles are:"}
_NO_SOURCE = {"ar": "مصدر غير مذكور", "en": "source not given"}
