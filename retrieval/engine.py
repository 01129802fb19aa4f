"""The engine: the one object the edges (CLI, bot) talk to.

It owns the embedding model (loaded once, lazily), follows the index pointer so a rebuild
by this process or another one is picked up without a restart, and exposes search, answers
and rebuilds as plain calls returning Sanad's own dataclasses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from retrieval import answering, indexing
from retrieval.answering import framing_language
from retrieval.embedding import (
    DEFAULT_MODEL,
    TextEmbedder,
    load_embedder,
    prepare_e5,
)
from retrieval.errors import IndexNotBuilt, SanadError
from retrieval.generation import Fallback, Generator, Grounding
from retrieval.lexical import LexicalIndex
from retrieval.models import Answer, Passage
from retrieval.normalize import tokenize
from retrieval.search import Index, Mode, passage_from, search
from retrieval.settings import Settings
from retrieval.store import BuildReader, Collections, Store, load_sentence_matrix, open_build

logger = logging.getLogger(__name__)

_RETIRE_AFTER_SECONDS = 30.0  # far longer than any question takes


@dataclass(frozen=True)
class SearchResult:
    """Passages found for a question and where the time went."""

    question: str
    passages: list[Passage]
    timings_ms: dict[str, float]


class Engine:
    """Sanad's engine over one data directory."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: TextEmbedder | None = None,
        chat_model: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings
        # Generative answers are optional: without a chat model every answer is extractive.
        self.generator = (
            Generator(chat_model, timeout=settings.llm_timeout, rewrite=settings.llm_rewrite)
            if chat_model is not None
            else None
        )
        self.store = Store(settings.data_dir, Collections(settings.chroma_url))
        self._embedder = embedder
        self.model_name = embedder.name if embedder else settings.embedding_model
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._stamp: float = -1.0
        self._retired: list[tuple[float, Index]] = []

    # ------------------------------------------------------------------ the model

    def embedder(self) -> TextEmbedder:
        """Return the embedding model, preparing and loading it on first use."""
        with self._lock:
            if self._embedder is None:
                path = self.settings.model_path
                if self.settings.embedding_model == DEFAULT_MODEL:
                    prepare_e5(path)
                    self._embedder = load_embedder(str(path))
                else:
                    self._embedder = load_embedder(
                        self.settings.embedding_model, allow_hub=self.settings.allow_hub
                    )
            return self._embedder

    # ------------------------------------------------------------------ the index

    def index(self) -> Index:
        """Return the serving index, reopening it if a rebuild switched the pointer."""
        stamp = self.store.pointer_stamp()
        current = self._index
        if current is not None and stamp == self._stamp:
            return current
        with self._lock:
            if self._index is not None and stamp == self._stamp:
                return self._index
            build = self.store.current()
            if self._index is not None and build is not None and build.id == self._index.build.id:
                self._stamp = stamp
                return self._index
            if build is None:
                raise IndexNotBuilt("no index has been built yet; run `sanad index` first")
            reader: BuildReader | None = None
            try:
                reader = open_build(build, self.store.collections)
                model = build.manifest.get("model")
                if model != self.model_name:
                    raise SanadError(
                        f"the index was built with model {model!r} but {self.model_name!r} is "
                        "configured; run `sanad index` to rebuild it"
                    )
                opened = Index(
                    build,
                    reader,
                    LexicalIndex.load(build.lexical_dir),
                    load_sentence_matrix(build),
                )
            except SanadError:
                if reader is not None:
                    reader.close()
                raise
            except Exception as exc:  # a truncated or deleted file of the build
                if reader is not None:
                    reader.close()
                raise SanadError(
                    f"the current index {build.id} is damaged ({type(exc).__name__}: {exc}); "
                    "run `sanad index` to rebuild"
                ) from exc
            self._retire(self._index)
            self._index = opened
            self._stamp = stamp
            logger.info("serving index build %s", build.id)
            return self._index

    def _retire(self, index: Index | None) -> None:
        """Close builds replaced more than a grace period ago; keep the latest for a while.

        A question may still be searching the build it started on when the pointer moves, so
        a replaced build is closed only at a later switch, once that grace period has passed.
        """
        now = time.monotonic()
        keep = []
        for retired_at, old in self._retired:
            if now - retired_at >= _RETIRE_AFTER_SECONDS:
                old.reader.close()
            else:
                keep.append((retired_at, old))
        if index is not None:
            keep.append((now, index))
        self._retired = keep

    def reindex(
        self, source_dir: Path | None = None, *, progress: Any = None
    ) -> indexing.IndexReport:
        """Rebuild the index from the source folder; readers switch when it is complete."""
        return indexing.build_index(
            self.store,
            source_dir or self.settings.source_dir,
            model_name=self.model_name,
            load_embedder=self.embedder,
            open_reader=lambda build: open_build(build, self.store.collections),
            chunk_chars=self.settings.chunk_chars,
            max_file_bytes=self.settings.max_file_bytes,
            progress=progress,
        )

    def articles(self) -> list[dict[str, Any]]:
        """Return the indexed articles (id, file, title, source, date, url), in file order."""
        build = self.index().build
        rows = [{"id": aid, **entry} for aid, entry in build.manifest.get("articles", {}).items()]
        return sorted(rows, key=lambda row: (row["file"], row.get("part", 0)))

    # ------------------------------------------------------------------ questions

    def search(
        self, question: str, *, top_k: int | None = None, mode: Mode = "hybrid"
    ) -> SearchResult:
        """Return the best passages for a question."""
        question = question.strip()
        if not question:
            raise SanadError("the question is empty")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        index = self.index()
        vector = None
        if mode != "lexical":
            t0 = time.perf_counter()
            vector = self.embedder().embed_queries([question])[0]
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
        passages = search(
            index, question, vector, k=top_k or self.settings.top_k, mode=mode, timings=timings
        )
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return SearchResult(question, passages, timings)

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        *,
        top_k: int | None = None,
        mode: Mode = "hybrid",
        generate: bool = True,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer a question from the sources, with citations, or say they do not answer it.

        `history` holds the conversation's earlier questions, oldest first; `top_k` how many
        passages to return with the answer (the answer itself is composed from the best
        `settings.top_k`). With a chat model (and `generate`), the model writes the answer
        from those passages and `on_text` receives its checked text as it grows; whatever
        goes wrong with it, the extractive answer is returned instead.
        """
        started = time.perf_counter()
        question = question.strip()
        if not question:
            raise SanadError("the question is empty")
        index = self.index()
        query = answering.contextual_query(question, history)
        timings: dict[str, float] = {}
        # The checks compare the model's words with Arabic passages: English questions keep
        # the extractive answer, framed in English.
        generator = self.generator if generate and framing_language(question) == "ar" else None
        embedder = self.embedder()  # loads the model on first use: not the question's time
        # The model's time limit starts with its first call, not with loading the embedder.
        deadline = time.monotonic() + self.settings.llm_timeout
        if generator is not None and generator.rewrites and history:
            t0 = time.perf_counter()
            standalone = generator.rewrite(
                question, history, deadline=time.monotonic() + self.settings.llm_timeout / 3
            )
            timings["rewrite_ms"] = (time.perf_counter() - t0) * 1000
            query = standalone or query
        t0 = time.perf_counter()
        texts = [query] if query == question else [query, question]
        vectors = embedder.embed_queries(texts)
        timings["embed_ms"] = (time.perf_counter() - t0) * 1000
        k = max(top_k or 0, self.settings.top_k)
        passages = search(index, query, vectors[0], k=k, mode=mode, timings=timings)
        t0 = time.perf_counter()
        # A follow-up retrieves with the conversation's words but picks its sentences by
        # what it asks itself: «ومتى؟» wants the date, not the previous question's answer.
        tokens = index.lexical.resolve(tokenize(question))
        candidates = answering.score_sentences(
            tokens,
            vectors[-1],
            passages[: self.settings.top_k],
            index.sentences,
            index.lexical.idf,
        )
        about = answering.describe_question(
            question, tokens, index.lexical.idf, index.lexical.knows
        )
        answer = answering.compose(about, passages[: top_k or self.settings.top_k], candidates)
        timings["compose_ms"] = (time.perf_counter() - t0) * 1000
        # A question the sources do not answer is refused without asking the model: it can
        # only add words, not sources.
        if generator is not None and not answer.refused:
            t0 = time.perf_counter()
            grounding = Grounding(index.sentences, index.lexical.idf, embedder.embed_queries)
            written = generator.answer(
                question,
                history,
                passages[: self.settings.top_k],
                grounding,
                deadline=deadline,
                on_text=on_text,
            )
            timings["generate_ms"] = (time.perf_counter() - t0) * 1000
            if isinstance(written, Fallback):
                logger.warning(
                    "kept the extractive answer: the model's reply was not used (%s: %s)",
                    written.reason,
                    written.detail,
                )
                answer = replace(answer, fallback=written.reason)
            else:
                answer = replace(written, passages=answer.passages)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        logger.info(
            "answered in %.0f ms: %d passages, top sentence similarity %.3f, refused=%s, %s",
            timings["total_ms"],
            len(passages),
            max((c.dense for c in candidates), default=0.0),
            answer.refused,
            answer.mode,
        )
        logger.debug("question: %s", question)
        return replace(answer, timings_ms=timings)

    def rewrite(self, question: str, history: Sequence[str]) -> str | None:
        """Return the model's standalone form of a follow-up (None without a model or on error).

        For evaluation: `ask` does this itself when it has a conversation.
        """
        if self.generator is None or not history:
            return None
        deadline = time.monotonic() + self.settings.llm_timeout / 3
        return self.generator.rewrite(question.strip(), history, deadline=deadline)

    def close(self) -> None:
        """Release the chat model's HTTP client (the index needs no closing)."""
        if self.generator is not None:
            self.generator.close()

    def passage(self, chunk_id: str) -> Passage | None:
        """Return a stored passage by id from the serving index, or None if it is gone."""
        got = self.index().reader.get([chunk_id])
        if not got["ids"]:
            return None
        return passage_from(got["ids"][0], got["documents"][0], got["metadatas"][0], 1.0)

    def search_many(
        self, questions: Sequence[str], *, top_k: int, mode: Mode = "hybrid"
    ) -> list[SearchResult]:
        """Search several questions with one model and one index (for evaluation)."""
        return [self.search(q, top_k=top_k, mode=mode) for q in questions]
