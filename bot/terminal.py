"""The terminal edge: plain-text rendering of results and the `sanad chat` loop."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

from retrieval.engine import Engine, SearchResult
from retrieval.errors import SanadError
from retrieval.models import Passage

EXIT_WORDS = {"exit", "quit", "خروج"}
NO_SOURCE = "مصدر غير مذكور"
NO_DATE = "تاريخ غير مذكور"


def search_json(result: SearchResult) -> dict[str, Any]:
    """Return the documented JSON shape of `sanad ask --json`."""
    return {
        "question": result.question,
        "passages": [
            {
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
            for rank, p in enumerate(result.passages, 1)
        ],
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
) -> int:
    """Answer questions typed line by line until `exit` or end of input."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    print("سند: اكتب سؤالك عن الأخبار المفهرسة (exit للخروج).", file=stdout, flush=True)
    engine.index()  # fail early, before the first question, if there is no index
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
            result = engine.search(question, top_k=top_k)
        except SanadError as exc:
            print(f"تعذّر الجواب: {exc}", file=stdout, flush=True)
            continue
        print(format_passages(result.passages), file=stdout)
        print("", file=stdout, flush=True)
    return 0
