"""Extractive answers: pick the sentences that answer, quote them verbatim, cite them.

Placeholder while the real composer is written: quotes the best passage's first sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.chunking import split_sentences
from retrieval.models import Answer, Citation, Passage


def compose(question: str, passages: Sequence[Passage]) -> Answer:
    """Compose an answer from retrieved passages."""
    if not passages:
        return Answer(question, "لا تجيب المصادر المتاحة عن هذا السؤال.", refused=True)
    best = passages[0]
    start, end = split_sentences(best.text)[0]
    quote = best.text[start:end]
    citation = Citation(
        n=1,
        article_id=best.article_id,
        chunk_id=best.chunk_id,
        file=best.file,
        title=best.title,
        quote=quote,
        source=best.source,
        date=best.date,
        url=best.url,
    )
    return Answer(question, f"{quote} [1]", False, (citation,), tuple(passages))
