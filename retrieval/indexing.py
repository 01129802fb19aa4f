"""The index side: read the source folder, diff it against the serving build, embed what
changed, write a new build with the lexical index beside it, and switch to it atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import lexical
from retrieval.articles import SkippedFile, load_folder
from retrieval.chunking import chunk_article, split_sentences
from retrieval.dates import arabic_date
from retrieval.embedding import TextEmbedder
from retrieval.models import Article, Chunk
from retrieval.store import (
    SENTENCES,
    Build,
    BuildReader,
    BuildWriter,
    SentenceMatrix,
    Store,
    decode_sentences,
    encode_sentences,
    load_sentence_matrix,
)

logger = logging.getLogger(__name__)

# Bump when chunking or stored metadata change meaning, so old builds are re-embedded.
PIPELINE_VERSION = 3

ProgressFactory = Callable[[int], Callable[[int], None]]


@dataclass(frozen=True)
class IndexReport:
    """What a rebuild did, for the operator."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    build: str | None = None
    switched: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "passages": self.passages,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 2),
            "build": self.build,
            "switched": self.switched,
        }


def article_fingerprint(article: Article, *, model: str, chunk_chars: int) -> str:
    """Hash everything that shapes an article's stored passages and vectors."""
    payload = json.dumps(
        [
            PIPELINE_VERSION,
            model,
            chunk_chars,
            article.file,
            article.title,
            article.source,
            article.date,
            article.url,
            article.text,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chunk_metadata(article: Article, chunk: Chunk) -> dict[str, Any]:
    """Return the metadata stored with a passage (Chroma takes no None values)."""
    return {
        "article_id": article.id,
        "file": article.file,
        "title": article.title,
        "source": article.source or "",
        "date": article.date or "",
        "url": article.url or "",
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
    }


def dateline(article: Article) -> str:
    """Return the article's outlet and date in words, as questions name them."""
    parts = [article.source or "", arabic_date(article.date, both_names=True) or ""]
    return " — ".join(p for p in parts if p)


def embedding_text(article: Article, chunk: Chunk) -> str:
    """Return what the index reads for a passage: title, outlet and date give it context.

    Readers ask for «تقرير الجزيرة» or «زيارة أكتوبر 2024»: those words live in the
    article's metadata, not in every passage's text.
    """
    return "\n".join(part for part in (article.title, dateline(article), chunk.text) if part)


def article_entry(article: Article, fingerprint: str, chunks: int) -> dict[str, Any]:
    """Return the manifest's record of one indexed article."""
    return {
        "file": article.file,
        "title": article.title,
        "source": article.source,
        "date": article.date,
        "url": article.url,
        "part": article.part,
        "hash": fingerprint,
        "chunks": chunks,
    }


def build_index(
    store: Store,
    source_dir: Path,
    *,
    model_name: str,
    load_embedder: Callable[[], TextEmbedder],
    open_reader: Callable[[Build], BuildReader],
    chunk_chars: int = 700,
    max_file_bytes: int = 20_000_000,
    progress: ProgressFactory | None = None,
) -> IndexReport:
    """Bring the index up to date with `source_dir`; embed only what changed."""
    started = time.perf_counter()
    loaded = load_folder(source_dir, max_bytes=max_file_bytes)
    for skipped in loaded.skipped:
        logger.warning("skipped %s: %s", skipped.file, skipped.reason)

    with store.lock():
        old = store.current_or_none()
        damaged = _damage(old, open_reader) if old is not None else None
        if damaged is not None:
            # Nothing can be reused from it, and "up to date" would leave it serving.
            logger.warning("the serving index is damaged (%s): rebuilding it whole", damaged)
            old = None
        old_articles: dict[str, Any] = old.manifest.get("articles", {}) if old else {}
        same_model = old is not None and old.manifest.get("model") == model_name

        fingerprints = {
            a.id: article_fingerprint(a, model=model_name, chunk_chars=chunk_chars)
            for a in loaded.articles
        }
        added, changed, unchanged = [], [], []
        for article in loaded.articles:
            previous = old_articles.get(article.id)
            if previous is None:
                added.append(article.id)
            elif previous.get("hash") != fingerprints[article.id] or not same_model:
                changed.append(article.id)
            else:
                unchanged.append(article.id)
        removed = sorted(set(old_articles) - set(fingerprints))

        if old is not None and not (added or changed or removed):
            store.clean_up()  # what a killed build left behind goes even when nothing changed
            return IndexReport(
                unchanged=unchanged,
                skipped=loaded.skipped,
                passages=int(old.manifest.get("passages", 0)),
                seconds=time.perf_counter() - started,
                build=old.id,
            )

    with store.building() as writer:
        # Another builder may have switched while we waited for the lock: diff against
        # what serves now, not what served when we looked.
        old = store.current_or_none()
        if old is not None and damaged is not None and _damage(old, open_reader) is not None:
            old = None
        old_articles = old.manifest.get("articles", {}) if old else {}
        reuse = [
            aid for aid in unchanged if old_articles.get(aid, {}).get("hash") == fingerprints[aid]
        ]
        reuse_set = set(reuse)
        fresh = [a for a in loaded.articles if a.id not in reuse_set]
        manifest_articles: dict[str, Any] = {}
        sentences = SentenceMatrix()

        if reuse and old is not None:
            reader = open_reader(old)
            try:
                _copy_passages(reader, old, writer, sentences, reuse, old_articles)
            finally:
                reader.close()
            for aid in reuse:
                manifest_articles[aid] = old_articles[aid]

        chunks_by_article = [
            (article, chunk_article(article, max_chars=chunk_chars)) for article in fresh
        ]
        new_chunks = [(a, c) for a, chunks in chunks_by_article for c in chunks]
        embedded = 0
        if new_chunks:
            embedded = _embed_new(load_embedder(), new_chunks, writer, sentences, progress)
        for article, chunks in chunks_by_article:
            manifest_articles[article.id] = article_entry(
                article, fingerprints[article.id], len(chunks)
            )

        sentences.save(writer.path / SENTENCES)
        lexical.build(writer.lexical_dir, _all_passages(old, reuse, old_articles, new_chunks))
        build = writer.commit(
            {
                "model": model_name,
                "pipeline": PIPELINE_VERSION,
                "chunk_chars": chunk_chars,
                "source_dir": str(source_dir),
                "files": loaded.files,
                "articles": manifest_articles,
                "skipped": [{"file": s.file, "reason": s.reason} for s in loaded.skipped],
                "sentences": len(sentences),
            }
        )

    return IndexReport(
        added=added,
        changed=changed,
        unchanged=reuse,
        removed=removed,
        skipped=loaded.skipped,
        passages=int(build.manifest["passages"]),
        embedded=embedded,
        seconds=time.perf_counter() - started,
        build=build.id,
        switched=True,
    )


def _damage(build: Build, open_reader: Callable[[Build], BuildReader]) -> str | None:
    """Return what is wrong with a build's files (None if it reads), cheaply.

    A build whose manifest reads but whose Chroma database, vectors, lexical index or
    sentence vectors do not would otherwise be reported "up to date" and serve errors.
    """
    try:
        reader = open_reader(build)
        try:
            if reader.count() != int(build.manifest.get("passages", 0)):
                return "Chroma holds another number of passages than the manifest"
            entries = build.manifest.get("articles", {})
            ids = next((_chunk_ids(a, e)[:1] for a, e in entries.items() if e.get("chunks")), [])
            if ids:
                vector = reader.get(ids, vectors=True)["embeddings"][0]
                reader.dense(vector, 1)
        finally:
            reader.close()
        lexical.LexicalIndex.load(build.lexical_dir)
        rows = len(load_sentence_matrix(build))
        if rows != int(build.manifest.get("sentences", rows)):
            return "the sentence vectors do not match the manifest"
    except Exception as exc:  # any unreadable file: the build cannot serve
        return f"{type(exc).__name__}: {exc}"
    return None


def _chunk_ids(article_id: str, entry: dict[str, Any]) -> list[str]:
    return [f"{article_id}:{i}" for i in range(int(entry.get("chunks", 0)))]


def _copy_passages(
    reader: BuildReader,
    old: Build,
    writer: BuildWriter,
    sentences: SentenceMatrix,
    article_ids: Sequence[str],
    entries: dict[str, Any],
) -> None:
    """Carry unchanged articles' passages and vectors over without embedding them again."""
    old_matrix = load_sentence_matrix(old)
    ids = [cid for aid in article_ids for cid in _chunk_ids(aid, entries[aid])]
    step = 1000
    for i in range(0, len(ids), step):
        got = reader.get(ids[i : i + step], vectors=True)
        metadatas = []
        for meta in got["metadatas"]:
            spans = decode_sentences(str(meta.get("sentences", "")))
            rows = sentences.extend(np.asarray(old_matrix[[r for _, _, r in spans]]))
            packed = encode_sentences(
                [(s, e, r) for (s, e, _), r in zip(spans, rows, strict=True)]
            )
            metadatas.append({**meta, "sentences": packed})
        writer.add(got["ids"], got["embeddings"], got["documents"], metadatas)


def _embed_new(
    embedder: TextEmbedder,
    items: Sequence[tuple[Article, Chunk]],
    writer: BuildWriter,
    sentences: SentenceMatrix,
    progress: ProgressFactory | None,
) -> int:
    """Embed new passages and their sentences in one stream; return how many passages."""
    spans_by_chunk = [split_sentences(chunk.text) for _, chunk in items]
    # A sentence is embedded once however often it appears: overlapping passages share
    # one, and wire copy repeats whole paragraphs across outlets and days.
    unique: dict[str, int] = {}
    for (_, chunk), spans in zip(items, spans_by_chunk, strict=True):
        for start, end in spans:
            unique.setdefault(chunk.text[start:end], len(unique))
    passage_texts = [embedding_text(a, c) for a, c in items]
    vectors = _embed(embedder, passage_texts + list(unique), progress)
    rows = sentences.extend(vectors[len(passage_texts) :])
    metadatas = []
    for (article, chunk), spans in zip(items, spans_by_chunk, strict=True):
        packed = [(s, e, rows[unique[chunk.text[s:e]]]) for s, e in spans]
        metadatas.append({**chunk_metadata(article, chunk), "sentences": encode_sentences(packed)})
    writer.add(
        [c.id for _, c in items],
        vectors[: len(passage_texts)],
        [c.text for _, c in items],
        metadatas,
    )
    return len(passage_texts)


def _all_passages(
    old: Build | None,
    reused: Sequence[str],
    entries: dict[str, Any],
    new_chunks: Sequence[tuple[Article, Chunk]],
) -> list[tuple[str, str, str]]:
    """Return (passage id, title, text) of every passage of the new build (lexical index)."""
    rows: list[tuple[str, str, str]] = []
    if reused and old is not None:
        old_lexical = lexical.load_passages(old.lexical_dir)
        wanted = {cid for aid in reused for cid in _chunk_ids(aid, entries[aid])}
        rows.extend(row for row in old_lexical if row[0] in wanted)
    rows.extend((c.id, f"{a.title}\n{dateline(a)}", c.text) for a, c in new_chunks)
    return rows


def _embed(
    embedder: TextEmbedder, texts: Sequence[str], progress: ProgressFactory | None
) -> np.ndarray:
    """Embed texts in length-sorted batches (less padding), returning rows in input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
    tick = progress(len(texts)) if progress else None
    # The model reads 32 texts at a time; handing it 8 such batches per call keeps the
    # per-call work (prompts, sorting, tensors) small while progress still moves often.
    batch, call = 32, 256
    for start in range(0, len(order), call):
        idx = order[start : start + call]
        vectors[idx] = embedder.embed_passages([texts[i] for i in idx], batch_size=batch)
        if tick:
            tick(len(idx))
    return vectors
