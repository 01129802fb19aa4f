"""The terminal edge: plain-text rendering of results and the `sanad chat` loop."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from retrieval.dates import arabic_date, english_date
from retrieval.engine import Engine, SearchResult
from retrieval.errors import SanadError
from retrieval.models import Answer, Citation, Passage

EXIT_WORDS = {"exit", "quit", "خروج"}
HISTORY = 3  # earlier questions kept for follow-ups
NO_SOURCE = "مصدر غير مذكور"
NO_DATE = "تاريخ غير مذكور"
GENERATIVE_NOTE = (
    "(صاغ نموذج لغوي هذا الجواب من المصادر أدناه، وتحقّق سند من إحالة كل جملة إلى مصدرها.)"
)
FALLBACK_NOTE = "(تعذّرت صياغة الجواب بالنموذج اللغوي هذه المرة، فهذه اقتباسات حرفية من المصادر.)"


def passage_json(rank: int, p: Passage) -> dict[str, Any]:
    """Return one passage in the documented JSON shape."""
    return {
        "rank": rank,
        "file": p.file,
        "article_id": p.article_id,
        "chunk_id": p.chunk_id,
        "title": p.title,
        "source": p.source,
        "date": p.date,
        "url": p.url,
        "text": p.text,
        "score": round(p.score, 4),
    }


def citation_json(c: Citation) -> dict[str, Any]:
    """Return one citation in the documented JSON shape."""
    return {
        "n": c.n,
        "article_id": c.article_id,
        "chunk_id": c.chunk_id,
        "file": c.file,
        "title": c.title,
        "source": c.source,
        "date": c.date,
        "url": c.url,
        "quote": c.quote,
        "also": list(c.also),
    }


def answer_json(answer: Answer, *, with_passages: bool = True) -> dict[str, Any]:
    """Return the documented JSON shape of `sanad ask --json`."""
    data: dict[str, Any] = {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "language": answer.language,
        "mode": answer.mode,
        "fallback": answer.fallback,
        "citations": [citation_json(c) for c in answer.citations],
    }
    if with_passages:
        data["passages"] = [passage_json(r, p) for r, p in enumerate(answer.passages, 1)]
        data["timings_ms"] = {k: round(v, 1) for k, v in answer.timings_ms.items()}
    return data


def source_line(c: Citation, language: str = "ar") -> str:
    """Render one entry of an answer's sources list: `[n] outlet — title — date`."""
    source = c.source or (NO_SOURCE if language == "ar" else "source not given")
    if language == "ar":
        date = arabic_date(c.date) or NO_DATE
    else:
        date = english_date(c.date) or "date not given"
    line = f"[{c.n}] {source} — {c.title} — {date}"
    if c.also:
        also = "، ".join(c.also) if language == "ar" else ", ".join(c.also)
        line += f" ({'ونقلته أيضًا:' if language == 'ar' else 'also reported by'} {also})"
    return line


def format_answer(answer: Answer) -> str:
    """Render an answer and its sources for a terminal."""
    text = answer.text
    if answer.mode == "generative":
        text += "\n" + GENERATIVE_NOTE
    elif answer.fallback is not None:
        text += "\n" + FALLBACK_NOTE
    if not answer.citations:
        return text
    heading = "المصادر:" if answer.language == "ar" else "Sources:"
    sources = "\n".join(source_line(c, answer.language) for c in answer.citations)
    return f"{text}\n\n{heading}\n{sources}"


def search_json(result: SearchResult) -> dict[str, Any]:
    """Return the documented JSON shape of `sanad ask --json`."""
    return {
        "question": result.question,
        "passages": [passage_json(rank, p) for rank, p in enumerate(result.passages, 1)],
        "timings_ms": {k: round(v, 1) for k, v in result.timings_ms.items()},
    }


def format_passages(passages: Sequence[Passage]) -> str:
    """Render passages for a terminal, best first."""
    if not passages:
        return "لم أجد مقاطع ذات صلة في المصادر المفهرسة."
    blocks = []
    for rank, p in enumerate(passages, 1):
        header = f"[{rank}] {p.source or NO_SOURCE} — {p.title} — {p.date or NO_DATE}"
        blocks.append(f"{header}\n    {p.file} · {p.score:.3f}\n{p.text}")
    return "\n\n".join(blocks)


def chat(
    engine: Engine,
    *,
    top_k: int = 5,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    json_lines: bool = False,
) -> int:
    """Answer questions typed line by line until `exit` or end of input.

    With `json_lines`, each answer is one line of JSON (the `sanad ask --json` shape) and
    the greeting goes to stderr, so that other programs can hold a conversation.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() and not json_lines
    greeting = "سند: اكتب سؤالك عن الأخبار المفهرسة (exit للخروج)."
    print(greeting, file=sys.stderr if json_lines else stdout, flush=True)
    engine.index()  # fail early, before the first question, if there is no index
    history: list[str] = []
    while True:
        if interactive:
            print("؟ ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in EXIT_WORDS:
            break
        try:
            answer = engine.ask(question, history[-HISTORY:], top_k=top_k)
        except SanadError as exc:
            if json_lines:
                error = {"question": question, "error": str(exc)}
                print(json.dumps(error, ensure_ascii=False), file=stdout, flush=True)
            else:
                print(f"تعذّر الجواب: {exc}", file=stdout, flush=True)
            continue
        history.append(question)
        if json_lines:
            print(json.dumps(answer_json(answer), ensure_ascii=False), file=stdout, flush=True)
        else:
            print(format_answer(answer), file=stdout)
            print("", file=stdout, flush=True)
    return 0
