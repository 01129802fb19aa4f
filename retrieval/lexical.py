"""The lexical index: BM25 over Arabic-normalised, light-stemmed tokens (bm25s).

Built beside each Chroma build, from the same passages, and switched with it. Each passage
is indexed with its article's title, so a question naming the story finds its passages.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from retrieval.normalize import tokenize

logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG when imported; hand it back to the application's config.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

_PASSAGES = "passages.jsonl"
_STATS = "stats.json"


def build(folder: Path, rows: Iterable[tuple[str, str, str]]) -> None:
    """Build and save the BM25 index of (passage id, title, text) rows into `folder`."""
    rows = list(rows)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / _PASSAGES).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if not rows:
        return
    corpus = [tokenize(f"{title}\n{text}") for _, title, text in rows]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    retriever.save(str(folder / "bm25"), show_progress=False)
    df = Counter(token for tokens in corpus for token in set(tokens))
    stats = {"passages": len(rows), "df": df}
    (folder / _STATS).write_text(json.dumps(stats, ensure_ascii=False), "utf-8")


def load_passages(folder: Path) -> list[tuple[str, str, str]]:
    """Return the (passage id, title, text) rows a lexical index was built from."""
    path = folder / _PASSAGES
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [tuple(json.loads(line)) for line in handle if line.strip()]  # type: ignore[misc]


class LexicalIndex:
    """A loaded BM25 index that ranks passage ids for a question."""

    def __init__(
        self,
        retriever: bm25s.BM25 | None,
        ids: Sequence[str],
        df: dict[str, int] | None = None,
    ) -> None:
        self._retriever = retriever
        self.ids = list(ids)
        self._df = df or {}
        n = max(len(self.ids), 1)
        # Terms the index never saw weigh like the rarest ones: a question's unknown word
        # is as telling as it gets.
        self._unseen_idf = math.log(1 + n)

    def knows(self, token: str) -> bool:
        """Tell whether any indexed passage uses this search token."""
        return token in self._df

    def idf(self, token: str) -> float:
        """Return the inverse document frequency of a search token."""
        df = self._df.get(token)
        if not df:
            return self._unseen_idf
        n = max(len(self.ids), 1)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Load the index saved in `folder` (an empty index if the build had no passages)."""
        ids = [row[0] for row in load_passages(folder)]
        if not ids:
            return cls(None, [])
        retriever = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, verbosity=0)
        stats_path = folder / _STATS
        df = json.loads(stats_path.read_text("utf-8"))["df"] if stats_path.is_file() else {}
        return cls(retriever, ids, df)

    def search(self, question: str, k: int) -> list[tuple[str, float]]:
        """Return up to k (passage id, BM25 score) pairs with a positive score, best first."""
        tokens = tokenize(question)
        if self._retriever is None or not tokens:
            return []
        scores = self._retriever.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
