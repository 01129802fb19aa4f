"""`sanad eval`: score retrieval (and answers) over a JSONL question set in one process."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import SanadError
from retrieval.models import Passage
from retrieval.normalize import fold_digits, for_search

KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    """One evaluation question with its gold files and answer strings."""

    id: str
    question: str
    docs: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    context: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """Tell whether the sources hold an answer (unanswerable ones list no docs)."""
        return bool(self.docs or self.answers)


@dataclass
class Outcome:
    """What the engine returned for one question."""

    question: Question
    passages: list[Passage]
    latency_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set, naming the line of any malformed entry."""
    questions = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise SanadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("expected a JSON object")
            question = row["question"]
            if not isinstance(question, str) or not question.strip():
                raise ValueError("'question' must be a non-empty string")
            lists = {key: row.get(key) or [] for key in ("docs", "answers", "tags")}
            for key, value in lists.items():
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{key!r} must be a list of strings")
            context = row.get("context") or None
            if context is not None and not isinstance(context, str):
                raise ValueError("'context' must be a string")
            questions.append(
                Question(
                    id=str(row.get("id", number)),
                    question=question,
                    docs=tuple(lists["docs"]),
                    answers=tuple(lists["answers"]),
                    context=context,
                    tags=tuple(lists["tags"]),
                )
            )
        except KeyError as exc:
            raise SanadError(f"{path}:{number}: missing field {exc}") from exc
        except ValueError as exc:
            raise SanadError(f"{path}:{number}: not a valid question line ({exc})") from exc
    return questions


def _match_form(text: str) -> str:
    return " ".join(for_search(text).split())


def first_doc_hit(question: Question, passages: Sequence[Passage]) -> int | None:
    """Return the 1-based rank of the first passage from a gold file, if any."""
    gold = set(question.docs)
    for rank, passage in enumerate(passages, 1):
        if passage.file in gold or Path(passage.file).name in gold:
            return rank
    return None


def first_answer_hit(question: Question, passages: Sequence[Passage]) -> int | None:
    """Return the 1-based rank of the first passage containing a gold answer string."""
    answers = [_match_form(a) for a in question.answers if a.strip()]
    for rank, passage in enumerate(passages, 1):
        text = _match_form(passage.text)
        if any(a in text for a in answers):
            return rank
    return None


def contains_answer(question: Question, text: str) -> bool:
    """Tell whether `text` contains one of the question's gold answer strings."""
    body = _match_form(text)
    return any(_match_form(a) in body for a in question.answers if a.strip())


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def retrieval_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Doc and answer recall@k, MRR@10 and latency over the answerable questions."""
    answerable = [o for o in outcomes if o.question.answerable]
    n = len(answerable)
    metrics: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": n,
        "unanswerable": len(outcomes) - n,
    }
    doc_ranks = [first_doc_hit(o.question, o.passages) for o in answerable]
    ans_ranks = [first_answer_hit(o.question, o.passages) for o in answerable]
    for k in KS:
        metrics[f"doc_recall@{k}"] = _share(r is not None and r <= k for r in doc_ranks)
        metrics[f"answer_recall@{k}"] = _share(r is not None and r <= k for r in ans_ranks)
    metrics["mrr@10"] = (
        round(sum(1 / r for r in doc_ranks if r is not None and r <= 10) / n, 4) if n else 0.0
    )
    latencies = [o.latency_ms for o in outcomes]
    metrics["latency_p50_ms"] = round(statistics.median(latencies), 1) if latencies else 0.0
    metrics["latency_p95_ms"] = round(percentile(latencies, 95), 1)
    return metrics


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else 0.0


def run(
    questions: Sequence[Question],
    answer: Callable[[Question], tuple[list[Passage], dict[str, Any]]],
) -> list[Outcome]:
    """Run every question through `answer`, timing each."""
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        passages, extra = answer(question)
        outcomes.append(Outcome(question, passages, (time.perf_counter() - started) * 1000, extra))
    return outcomes


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """Return one question's result in the documented `--json` shape."""
    return {
        "id": outcome.question.id,
        "question": outcome.question.question,
        "latency_ms": round(outcome.latency_ms, 1),
        "passages": [
            {
                "rank": rank,
                "file": p.file,
                "article_id": p.article_id,
                "text": p.text,
                "score": round(p.score, 4),
            }
            for rank, p in enumerate(outcome.passages, 1)
        ],
        **outcome.extra,
    }


def answer_metrics(
    outcomes: Sequence[Outcome], article_texts: dict[str, str] | None = None
) -> dict[str, Any]:
    """Answer accuracy, refusal precision/recall, citation validity and follow-up accuracy.

    Each outcome's `extra` holds `answer` (text), `refused` and `citations` (dicts with
    `article_id` and `quote`). `article_texts` maps article ids to their full text, to check
    every quote verbatim against the article it cites.
    """
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    refused = [o for o in outcomes if o.extra.get("refused")]

    def correct(o: Outcome) -> bool:
        return not o.extra.get("refused") and contains_answer(o.question, o.extra["answer"])

    followups = [o for o in answerable if o.question.context]
    quotes = [c for o in outcomes for c in o.extra.get("citations", [])]
    valid = [
        c
        for c in quotes
        if article_texts is not None and c["quote"] in article_texts.get(c["article_id"], "")
    ]
    return {
        "answer_accuracy": _share(correct(o) for o in answerable),
        "refusal_precision": _share(not o.question.answerable for o in refused),
        "refusal_recall": _share(bool(o.extra.get("refused")) for o in unanswerable),
        "false_refusals": sum(1 for o in answerable if o.extra.get("refused")),
        "citation_validity": round(len(valid) / len(quotes), 4) if quotes else 1.0,
        "citations": len(quotes),
        "followup_accuracy": _share(correct(o) for o in followups),
        "followups": len(followups),
    }


_CITED = re.compile(r"\[([0-9\u0660-\u0669\u06f0-\u06f9]{1,3})\]")


def generation_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Generative mode: how many answers the model wrote, why the others fell back, and
    whether every [n] in an answer's text names one of its citations (and each is used).

    Each outcome's `extra` holds `mode`, `fallback`, `answer`, `refused` and `citations`.
    """
    answered = [o for o in outcomes if not o.extra.get("refused")]
    generated = [o for o in answered if o.extra.get("mode") == "generative"]
    fallbacks = Counter(str(o.extra["fallback"]) for o in outcomes if o.extra.get("fallback"))

    def markers_match(o: Outcome) -> bool:
        cited = {int(fold_digits(n)) for n in _CITED.findall(o.extra.get("answer", ""))}
        return cited == {int(c["n"]) for c in o.extra.get("citations", [])}

    return {
        "generated": len(generated),
        "generated_share": round(len(generated) / len(answered), 4) if answered else 0.0,
        "generated_accuracy": _share(
            contains_answer(o.question, o.extra["answer"])
            for o in generated
            if o.question.answerable
        ),
        "fallbacks": dict(sorted(fallbacks.items())),
        "marker_validity": _share(markers_match(o) for o in answered),
    }


def rewrite_metrics(
    rows: Sequence[tuple[Question, Sequence[Passage], Sequence[Passage] | None]],
) -> dict[str, Any]:
    """Compare retrieval for follow-ups: the conversation's words vs the model's rewrite.

    Each row holds a follow-up, the passages found with `contextual_query`, and those found
    with the model's standalone question (None when the model gave none: the engine then
    retrieves as without a model, and so does this measure).
    """
    answerable = [row for row in rows if row[0].answerable]
    metrics: dict[str, Any] = {
        "followups_measured": len(answerable),
        "rewrites_failed": sum(1 for row in answerable if row[2] is None),
    }
    for k in (1, 5):
        contextual = [first_doc_hit(q, plain) for q, plain, _ in answerable]
        rewritten = [
            first_doc_hit(q, plain if standalone is None else standalone)
            for q, plain, standalone in answerable
        ]
        for name, ranks in (("contextual", contextual), ("rewritten", rewritten)):
            metrics[f"followup_doc_recall@{k}_{name}"] = _share(
                rank is not None and rank <= k for rank in ranks
            )
    return metrics
