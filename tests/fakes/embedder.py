"""A deterministic stand-in for the embedding model, for fast unit tests.

Texts sharing normalised words get similar vectors (a hashed bag of words), which is
enough to exercise indexing, storage and search without loading the real model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from retrieval.normalize import tokenize


class FakeEmbedder:
    """Hashed bag-of-stems vectors with the `Embedder` interface."""

    name = "fake-embedder"
    dim = 64
    max_tokens = 512

    def __init__(self) -> None:
        self.calls: list[int] = []

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in tokenize(text) or ["<empty>"]:
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
            vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        return vec / np.linalg.norm(vec)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([self._vector(t) for t in texts])


class SqueezedEmbedder(FakeEmbedder):
    """The fake's vectors squeezed into the narrow band of similarities e5 gives (0.75-1).

    The composer's refusal threshold was calibrated on e5, whose cosines between Arabic
    texts rarely fall below 0.75; plain bag-of-words cosines would make it refuse everything.
    Here cos = 0.25 * (bag-of-words cosine) + 0.75, so related texts still rank first and
    clear the threshold, and unrelated ones do not.
    """

    name = "fake-embedder-squeezed"
    buckets = 1024  # few collisions: unrelated texts stay near the bottom of the band
    dim = buckets + 1

    def _vector(self, text: str) -> np.ndarray:
        words = np.zeros(self.buckets, dtype=np.float32)
        for token in tokenize(text) or ["<empty>"]:
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest()
            words[int.from_bytes(digest, "little") % self.buckets] += 1.0
        words /= np.linalg.norm(words)
        return np.append(words * 0.5, np.float32(0.75**0.5)).astype(np.float32)
