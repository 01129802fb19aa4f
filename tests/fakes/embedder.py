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
