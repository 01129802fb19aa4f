"""The query side's retrieval: dense (Chroma), lexical (BM25) and their fusion."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from retrieval.lexical import LexicalIndex
from retrieval.models import Passage
from retrieval.store import Build, BuildReader, decode_sentences

logger = logging.getLogger(__name__)

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
_RRF_K = 60  # the usual reciprocal-rank-fusion constant: flattens the head of each list


@dataclass(frozen=True)
class Index:
    """One build opened for reading: its Chroma collection and its lexical index."""

    build: Build
    reader: BuildReader
    lexical: LexicalIndex
    sentences: np.ndarray


def passage_from(chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    """Build a `Passage` from a stored passage's id, text and metadata."""
    return Passage(
        chunk_id=chunk_id,
        article_id=str(meta.get("article_id", "")),
        file=str(meta.get("file", "")),
        title=str(meta.get("title", "")),
        text=text,
        score=score,
        source=meta.get("source") or None,
        date=meta.get("date") or None,
        url=meta.get("url") or None,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        sentences=tuple(decode_sentences(str(meta.get("sentences", "")))),
    )


def search(
    index: Index,
    question: str,
    vector: np.ndarray | None,
    *,
    k: int,
    mode: Mode = "hybrid",
    timings: dict[str, float] | None = None,
) -> list[Passage]:
    """Return the k best passages for a question, best first."""
    timings = timings if timings is not None else {}
    pool = max(k * 4, 20)
    dense: list[tuple[str, str, dict[str, Any], float]] = []
    lexical: list[tuple[str, float]] = []
    if mode in ("dense", "hybrid"):
        if vector is None:
            raise ValueError("dense search needs the question's vector")
        started = time.perf_counter()
        dense = index.reader.dense(vector, pool if mode == "hybrid" else k)
        timings["dense_ms"] = (time.perf_counter() - started) * 1000
    if mode in ("lexical", "hybrid"):
        started = time.perf_counter()
        lexical = index.lexical.search(question, pool if mode == "hybrid" else k)
        timings["lexical_ms"] = (time.perf_counter() - started) * 1000

    if mode == "dense":
        return [passage_from(cid, text, meta, score) for cid, text, meta, score in dense[:k]]

    fused = _fuse([[cid for cid, *_ in dense], [cid for cid, _ in lexical]])[:k]
    known = {cid: (text, meta, score) for cid, text, meta, score in dense}
    missing = [cid for cid, _ in fused if cid not in known]
    if missing:
        got = index.reader.get(missing, vectors=vector is not None)
        for i, cid in enumerate(got["ids"]):
            similarity = 0.0
            if vector is not None:
                similarity = float(np.dot(np.asarray(got["embeddings"][i]), vector))
            known[cid] = (got["documents"][i], got["metadatas"][i], similarity)
    lexical_scores = dict(lexical)
    out = []
    for cid, _fused_score in fused:
        if cid not in known:
            continue  # a lexical row whose passage vanished from Chroma: never expected
        text, meta, similarity = known[cid]
        score = similarity if mode == "hybrid" else lexical_scores.get(cid, 0.0)
        out.append(passage_from(cid, text, meta, score))
    return out


def _fuse(rankings: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of several rankings of ids."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (_RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
