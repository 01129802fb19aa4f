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


# A word's consonant skeleton: long vowels and hamza seats dropped, and the letters Arabic
# uses for a foreign «g» made one. Names are spelled many ways (زخاروفا / زاخاروفا,
# بوجدانوف / بوغدانوف, موسكوا / موسكو), and so are dialect words.
_SKELETON = str.maketrans(
    {
        "ا": None,
        "و": None,
        "ي": None,
        "ى": None,
        "ء": None,
        "ئ": None,
        "ؤ": None,
        "ج": "غ",
    }
)


def skeleton(token: str) -> str:
    """Return a search token's consonant skeleton, for matching spelling variants."""
    return token.translate(_SKELETON)


def spelling_variant(a: str, b: str) -> bool:
    """Tell whether two words differ by one inserted, dropped or changed letter, not the first.

    A different first letter is mostly a verb's person prefix (يدافع / دافع, يتواصل /
    تواصل): another word of the same root, not another spelling of the same word. Only the
    two letters written for a foreign «g» may stand for each other there (جدانوف / غدانوف,
    the stems of بوجدانوف / بوغدانوف).
    """
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1 or a == b:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    same_length = len(a) == len(b)
    if i == 0 and not (same_length and {a[0], b[0]} == {"ج", "غ"}):
        return False
    if same_length:
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


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
        self._variants: dict[str, list[str]] | None = None

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

    def resolve(self, tokens: Sequence[str]) -> list[str]:
        """Replace terms the index never saw by a spelling variant it knows, if one is close.

        A variant shares the word's consonant skeleton and is one letter away from it
        (زخاروفا: زاخاروفا, بوجدانوف: بوغدانوف; not يتواصل: توصيل, another word); among
        several, the most frequent wins. Short words and words without one stay as they are.
        """
        if all(t in self._df for t in tokens):
            return list(tokens)
        if self._variants is None:
            # Built on the first unknown word, not at load: most questions never need it.
            # (About a second for half a million distinct terms.)
            variants: dict[str, list[str]] = {}
            for token in self._df:
                if len(token) >= 4:
                    key = skeleton(token)
                    if len(key) >= 3:
                        variants.setdefault(key, []).append(token)
            self._variants = variants
        out = []
        for token in tokens:
            if token not in self._df and len(token) >= 4:
                close = [
                    v
                    for v in self._variants.get(skeleton(token), ())
                    if spelling_variant(v, token)
                ]
                if close:
                    token = max(close, key=lambda v: (self._df[v], v))
            out.append(token)
        return out

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
        tokens = self.resolve(tokenize(question))
        if self._retriever is None or not tokens:
            return []
        scores = self._retriever.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
