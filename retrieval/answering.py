"""Extractive answers: pick the sentences that answer, quote them verbatim, cite them.

No language model: every sentence in an answer is copied from a retrieved passage, so it
cannot misquote. Sentences are scored against the question by the dense model (their
vectors were computed at index time) and by IDF-weighted coverage of the question's terms;
the same fact reported by several outlets is quoted once, from the fullest report; differing
dates or numbers are shown side by side; and when nothing answers, the answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from retrieval.dates import (
    arabic_date,
    english_date,
    english_month_name,
    month_name,
    month_number,
)
from retrieval.models import Answer, Citation, Passage
from retrieval.normalize import detect_language, fold_digits, for_search, tokenize


@dataclass(frozen=True)
class Tuning:
    """The composer's knobs, calibrated on the dev set (tests/data/dev.jsonl)."""

    lexical_weight: float = 0.1  # how much term coverage adds to dense similarity
    novelty_weight: float = 0.03  # a sentence that only restates the question answers less
    rank_weight: float = 0.02  # a small prior for sentences of higher-ranked passages
    kind_weight: float = 0.03  # «when»/«how many»: a sentence with a time or number gains
    keep_margin: float = 0.07  # further quotes must score within this of the best
    extend_margin: float = 0.1  # the next sentence joins its quote when it scores within this
    max_quotes: int = 3
    same_fact_overlap: float = 0.5  # term overlap above which two sentences say the same
    # Refusal. The best passage's similarity separates questions off the corpus's topics;
    # English questions score lower against Arabic text, so they get their own floor.
    refuse_passage_ar: float = 0.79
    refuse_passage_en: float = 0.74


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with what is known of its fit to the question."""

    passage: Passage
    rank: int  # the passage's rank among the retrieved ones
    order: int  # the sentence's position within its passage
    start: int
    end: int
    dense: float
    coverage: float  # IDF-weighted share of the question's terms the sentence holds
    novelty: float  # share of the sentence's terms the question does not hold
    tokens: frozenset[str] = field(default_factory=frozenset)
    score: float = 0.0

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    @property
    def key(self) -> tuple[str, int]:
        """Identify the sentence within its article, whichever overlapping passage held it."""
        return (self.passage.article_id, self.passage.start + self.start)


@dataclass(frozen=True)
class Question:
    """What the composer knows of the question beyond its text."""

    text: str
    language: str
    unseen_share: float = 0.0  # IDF share of its terms the corpus never uses
    terms: int = 0  # distinct search terms (0: only stopwords, as in «ومتى؟»)


_MONTHS = (
    "يناير|فبراير|مارس|أبريل|ابريل|مايو|يونيو|يوليو|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|"
    "نوفمبر|ديسمبر|كانون|شباط|آذار|اذار|نيسان|أيار|ايار|حزيران|تموز|آب|أيلول|ايلول|تشرين"
)
_WHEN = re.compile(
    r"(?:^|[\s؟?])[وف]?(?:متى|امتى|إمتى|ايمتى|أي يوم|اي يوم|أي تاريخ|اي تاريخ|موعد)"
    r"|\bwhen\b|\bwhat date\b|\bwhich day\b",
    re.IGNORECASE,
)
_HOW_MANY = re.compile(
    r"(?:^|[\s؟?])[وف]?(?:كم|قديش|قدّيش|كام|عدد)(?:\s|$)|\bhow (?:many|much)\b", re.IGNORECASE
)
_PUBLISHED = re.compile(r"نشر|نُشر|published|publication", re.IGNORECASE)
_TIME_WORDS = (
    rf"{_MONTHS}|الشهر|العام|السنة|الأسبوع|اليوم|أمس|غدا|الجمعة|السبت|الأحد|الاثنين|الثلاثاء|"
    r"الأربعاء|الخميس|نهاية|بداية|مطلع|أواخر|المقبل|الماضي|الجاري"
)
_HAS_TIME = re.compile(rf"\d|{_TIME_WORDS}")
_NUMBER_WORDS = (
    "واحد|اثنان|اثنين|ثلاث|أربع|خمس|ست|سبع|ثمان|تسع|عشر|مئة|مائة|ألف|آلاف|مليون|عشرات|"
    "مئات|الأول|الثاني|الثانية|الثالث|مرة|مرتين"
)
_HAS_NUMBER = re.compile(rf"\d|{_NUMBER_WORDS}")
_DAY_MENTION = re.compile(
    rf"(?<!\d)(?P<day>[0-3]?\d)\s*(?:من\s+)?"
    rf"(?:(?P<month>{_MONTHS})|الشهر(?:\s+(?P<relative>الجاري|الحالي|الماضي|المقبل|القادم))?)"
)
_RELATIVE_MONTH = {"الماضي": -1, "المقبل": 1, "القادم": 1}


def framing_language(question: str) -> str:
    """Return the language of the answer's framing: English for English questions."""
    return "en" if detect_language(question) == "en" else "ar"


_FOLLOW_UP_START = re.compile(
    r"^\s*(?:[وف](?:متى|امتى|إمتى|كم|من|مين|أين|اين|وين|ماذا|شو|ايش|إيش|لماذا|ليش|هل|كيف|ما|في|بماذا)"
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
    # One content word («لماذا؟», «والنتيجة؟») cannot stand alone; two often can
    # («ما عاصمة فرنسا؟»), and dragging such a question back to the old topic would answer
    # it from the wrong articles instead of refusing it.
    bare = len(tokenize(question)) <= 1
    if bare or _FOLLOW_UP_START.match(question):
        return f"{history[-1]} {question}"
    return question


def describe_question(
    text: str,
    question_tokens: Sequence[str],
    idf: Callable[[str], float],
    known: Callable[[str], bool],
) -> Question:
    """Return the composer's view of a question: its language and its unknown terms."""
    weights = {t: idf(t) for t in set(question_tokens)}
    total = sum(weights.values())
    unseen = sum(w for t, w in weights.items() if not known(t))
    return Question(
        text, framing_language(text), unseen / total if total else 0.0, terms=len(weights)
    )


def score_sentences(
    question_tokens: Sequence[str],
    vector: np.ndarray,
    passages: Sequence[Passage],
    sentence_vectors: np.ndarray,
    idf: Callable[[str], float],
) -> list[Candidate]:
    """Measure every sentence of the passages against the question (unranked features)."""
    weights = {t: idf(t) for t in set(question_tokens)}
    total = sum(weights.values())
    rows = [row for p in passages for _, _, row in p.sentences]
    if not rows:
        return []
    dense = np.asarray(sentence_vectors[rows], dtype=np.float32) @ vector.astype(np.float32)
    seen: dict[tuple[str, int], Candidate] = {}
    i = 0
    for rank, passage in enumerate(passages):
        for order, (start, end, _row) in enumerate(passage.sentences):
            sim = float(dense[i])
            i += 1
            tokens = frozenset(tokenize(passage.text[start:end]))
            covered = sum(w for t, w in weights.items() if t in tokens)
            novel = len(tokens - weights.keys()) / len(tokens) if tokens else 0.0
            candidate = Candidate(
                passage,
                rank,
                order,
                start,
                end,
                sim,
                covered / total if total else 0.0,
                novel,
                tokens,
            )
            if candidate.key not in seen:  # overlapping passages repeat a sentence
                seen[candidate.key] = candidate
    return list(seen.values())


def rank_candidates(
    candidates: Sequence[Candidate], question: Question, tuning: Tuning = DEFAULT_TUNING
) -> list[Candidate]:
    """Give each candidate its score for this question and sort them, best first."""
    pool = max((c.rank for c in candidates), default=0) + 1
    typed = asks_for_time(question.text) or asks_for_number(question.text)
    lexical = tuning.lexical_weight if question.language == "ar" else 0.0
    scored = [
        replace(
            c,
            score=c.dense
            + lexical * c.coverage
            + tuning.novelty_weight * c.novelty
            + tuning.rank_weight * (1 - c.rank / pool)
            + (tuning.kind_weight if typed and answers_the_kind(question, c.text) else 0.0),
        )
        for c in candidates
    ]
    return sorted(scored, key=lambda c: c.score, reverse=True)


def _same_fact(a: Candidate, b: Candidate, threshold: float) -> bool:
    if not a.tokens or not b.tokens:
        return False
    overlap = len(a.tokens & b.tokens) / min(len(a.tokens), len(b.tokens))
    return overlap >= threshold


def _days(text: str, published: str | None) -> list[tuple[str, int]]:
    """Return the (day, month number) pairs a sentence mentions; 0 for an unknown month.

    «الشهر الجاري» and «الشهر الماضي» are read against the article's publication date.
    """
    base = int(published[5:7]) if published and published[5:7].isdigit() else 0
    out = []
    for m in _DAY_MENTION.finditer(fold_digits(text)):
        if m.group("month"):
            month = month_number(m.group("month")) or 0  # كانون، تشرين: which one is unknown
        elif base:
            month = (base - 1 + _RELATIVE_MONTH.get(m.group("relative") or "", 0)) % 12 + 1
        else:
            month = 0
        out.append((m.group("day").lstrip("0"), month))
    return out


@dataclass
class _Quote:
    """One quoted span: a lead sentence, maybe its neighbour, and other outlets' versions."""

    lead: Candidate
    start: int
    end: int
    also: list[Candidate] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.lead.passage.text[self.start : self.end]


def _quote(lead: Candidate, ranked: Sequence[Candidate], tuning: Tuning) -> _Quote:
    """Quote a sentence, joined by the next one of its passage when that one scores close."""
    start, end = lead.start, lead.end
    for cand in ranked:
        if (
            cand.passage.chunk_id == lead.passage.chunk_id
            and cand.order == lead.order + 1
            and cand.score >= lead.score - tuning.extend_margin
        ):
            end = cand.end
            break
    return _Quote(lead, start, end)


def asks_for_time(question: str) -> bool:
    """Tell whether a question asks when something happened."""
    return bool(_WHEN.search(question))


def asks_for_number(question: str) -> bool:
    """Tell whether a question asks how many or how much."""
    return bool(_HOW_MANY.search(question))


def answers_the_kind(question: Question, text: str) -> bool:
    """Tell whether text holds the kind of thing asked for: a time for «when», a number for
    «how many». A sentence on the topic without one does not answer."""
    if asks_for_time(question.text) and not _HAS_TIME.search(text):
        return False
    return not (asks_for_number(question.text) and not _HAS_NUMBER.search(fold_digits(text)))


def compose(
    question: Question,
    passages: Sequence[Passage],
    candidates: Sequence[Candidate],
    *,
    tuning: Tuning = DEFAULT_TUNING,
) -> Answer:
    """Compose the answer from measured sentences: quotes with citations, or a refusal."""
    language = question.language
    ranked = rank_candidates(candidates, question, tuning)
    if not ranked or not _answerable(question, passages, ranked, tuning):
        return _refusal(question, passages)

    best = ranked[0]
    published = bool(_PUBLISHED.search(question.text)) and bool(passages and passages[0].date)
    if published:
        # «When was it published?» is about the article retrieval put first, not about
        # whichever sentence scored best: lead with that article's best sentence.
        best = next((c for c in ranked if c.passage.article_id == passages[0].article_id), best)
    quotes: list[_Quote] = [_quote(best, ranked, tuning)]
    for cand in ranked[1:]:
        if cand.score < best.score - tuning.keep_margin:
            break
        if any(q.lead.key == cand.key or _inside(q, cand) for q in quotes):
            continue
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
            quotes.append(_quote(cand, ranked, tuning))

    disagreement = None
    if asks_for_time(question.text) or asks_for_number(question.text):
        disagreement = _disagreement(quotes, ranked, best, tuning, language)

    # The fullest report of a shared fact leads; the others are named as also reporting it.
    for quote in quotes:
        if quote.also:
            reports = [quote.lead, *quote.also]
            # The fullest report leads; one that names its outlet beats one that does not.
            fullest = max(
                reports, key=lambda c: (c.passage.source is not None, len(c.tokens), c.score)
            )
            if fullest is not quote.lead:
                quote.also = [c for c in reports if c is not fullest]
                quote.lead, quote.start, quote.end = fullest, fullest.start, fullest.end

    citations = []
    lines = []
    if published:
        when = (arabic_date if language == "ar" else english_date)(passages[0].date)
        lines.append(_PUBLISHED_ON[language].format(date=when, n=1))
    for n, quote in enumerate(quotes, 1):
        lead = quote.lead
        own = lead.passage.source or lead.passage.title
        also = tuple(
            dict.fromkeys(
                c.passage.source or c.passage.title
                for c in quote.also
                if (c.passage.source or c.passage.title) != own
            )
        )
        citations.append(
            Citation(
                n=n,
                article_id=lead.passage.article_id,
                chunk_id=lead.passage.chunk_id,
                file=lead.passage.file,
                title=lead.passage.title,
                quote=quote.text,
                source=lead.passage.source,
                date=lead.passage.date,
                url=lead.passage.url,
                also=also,
            )
        )
        # Quotes keep their exact text in the citation; the answer line folds line breaks.
        # Who else reported it is the edges' to show, in the sources list (Citation.also).
        lines.append(f"«{' '.join(quote.text.split())}» [{n}]")
    if disagreement:
        lines.append(_disagreement_line(disagreement, quotes, language))
    return Answer(
        question=question.text,
        text="\n".join(lines),
        refused=False,
        citations=tuple(citations),
        passages=tuple(passages),
        language=language,
    )


def _inside(quote: _Quote, cand: Candidate) -> bool:
    return (
        cand.passage.chunk_id == quote.lead.passage.chunk_id
        and quote.start <= cand.start
        and cand.end <= quote.end
    )


def _answerable(
    question: Question,
    passages: Sequence[Passage],
    ranked: Sequence[Candidate],
    tuning: Tuning,
) -> bool:
    """Decide whether the sources answer the question, or only share some of its words."""
    nearest = max((p.score for p in passages), default=0.0)
    if question.language == "ar":
        if nearest < tuning.refuse_passage_ar:
            return False
    elif nearest < tuning.refuse_passage_en:
        return False
    best = ranked[0]
    close = [c for c in ranked if c.score >= best.score - tuning.keep_margin]
    # An Arabic question none of whose words the best sentences hold («مرحبا كيف حالك»,
    # «شكرا جزيلا», a plea to ignore instructions) is about something else: the nearest news
    # would only be quoted at random. (English words never match Arabic text: exempt.)
    if question.language == "ar" and question.terms and not any(c.coverage for c in close):
        return False
    return any(answers_the_kind(question, c.text) for c in close)


def _disagreement(
    quotes: list[_Quote],
    ranked: Sequence[Candidate],
    best: Candidate,
    tuning: Tuning,
    language: str,
) -> dict[str, Candidate] | None:
    """Find close sentences that give another day than the best one; quote one of each."""
    window = [c for c in ranked if c.score >= best.score - 2 * tuning.keep_margin]
    mentions = [
        (day, month, cand)
        for cand in window
        for day, month in _days(cand.text, cand.passage.date)
        if month
    ]
    # Compare days of one month only: «29 فبراير» and «26 الشهر الجاري» may disagree, but
    # «2 مارس» next to them is another date (the end of the talks), not another account.
    days_by_month: dict[int, set[str]] = {}
    for day, month, _ in mentions:
        days_by_month.setdefault(month, set()).add(day)
    month = max(days_by_month, key=lambda m: len(days_by_month[m]), default=0)
    name = (month_name if language == "ar" else english_month_name)(month)
    values: dict[str, Candidate] = {}
    for day, of, cand in mentions:
        if of == month:
            values.setdefault(f"{day} {name}", cand)
    if len(values) < 2:
        return None
    for cand in values.values():
        if all(
            q.lead.key != cand.key and cand not in q.also and not _inside(q, cand) for q in quotes
        ):
            quotes.append(_Quote(cand, cand.start, cand.end))
    return values


def _disagreement_line(values: dict[str, Candidate], quotes: list[_Quote], language: str) -> str:
    cited: dict[tuple[str, int], int] = {}
    for n, quote in enumerate(quotes, 1):
        for cand in (quote.lead, *quote.also):
            cited.setdefault(cand.key, n)
        for other in values.values():
            if _inside(quote, other):
                cited.setdefault(other.key, n)
    parts = []
    for day, cand in values.items():
        number = cited.get(cand.key)
        if number is not None:
            parts.append(_ACCORDING[language].format(value=day, n=number))
    joiner = "، و" if language == "ar" else "; "
    return _DIFFER[language] + joiner.join(parts) + "."


def _refusal(question: Question, passages: Sequence[Passage]) -> Answer:
    language = question.language
    closest: list[Passage] = []
    for p in passages:
        if all(c.article_id != p.article_id for c in closest):
            closest.append(p)
        if len(closest) == 3:
            break
    text = _REFUSE[language]
    if closest:
        render = arabic_date if language == "ar" else english_date
        names = []
        for p in closest:
            details = [p.source or _NO_SOURCE[language]]
            if p.date:
                details.append(render(p.date) or p.date)
            names.append(
                f"- {p.title} ({'، '.join(details) if language == 'ar' else ', '.join(details)})"
            )
        text += "\n" + _CLOSEST[language] + "\n" + "\n".join(names)
    return Answer(
        question=question.text,
        text=text,
        refused=True,
        passages=tuple(passages),
        language=language,
    )


def answer_matches(answer_text: str, gold: str) -> bool:
    """Tell whether an answer contains a gold string, after Arabic normalisation."""
    return " ".join(for_search(gold).split()) in " ".join(for_search(answer_text).split())


_DIFFER = {"ar": "تختلف المصادر في هذه النقطة: ", "en": "The sources disagree here: "}
_ACCORDING = {"ar": "{value} بحسب [{n}]", "en": "{value} according to [{n}]"}
_PUBLISHED_ON = {
    "ar": "نُشر هذا الخبر في {date} [{n}].",
    "en": "This report was published on {date} [{n}].",
}
_REFUSE = {
    "ar": "لا تجيب المصادر المتاحة لديّ عن هذا السؤال.",
    "en": "My sources do not answer this question.",
}
_CLOSEST = {"ar": "أقرب المقالات إليه:", "en": "The closest articles are:"}
_NO_SOURCE = {"ar": "مصدر غير مذكور", "en": "source not given"}
