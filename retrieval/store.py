"""Where indexes live: Chroma builds, their manifests, and the atomic switch between them.

Every rebuild writes a complete new *build* (a Chroma collection, the lexical index and a
manifest) and only then replaces a small pointer file with `os.replace`. Readers resolve the
pointer anew, so a question is always answered from one whole build, never a half-built one.

In embedded mode each build has its own Chroma directory under `<data>/builds/<id>/chroma`,
written by the one process that builds it and only read afterwards. That keeps Chroma's
single-writer rule even when `sanad index` runs beside a live bot, and lets a crashed build
be deleted without touching the one that serves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from retrieval.errors import IndexNotBuilt, SanadError

logger = logging.getLogger(__name__)

POINTER = "CURRENT"
COLLECTION = "passages"
SENTENCES = "sentences.npy"


def _chroma_settings() -> ChromaSettings:
    # A fresh object per client: chromadb writes its client kind into the Settings it is
    # given, so a shared one turns later embedded clients into HTTP ones.
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


_KEEP_PREVIOUS = 1  # builds kept behind the current one, for readers still holding them


class Collections:
    """Where a build's Chroma collection lives: its own directory, or a shared server.

    Embedded (the default): `<build>/chroma`, a directory written by one process and only
    read afterwards. Server (`SANAD_CHROMA_URL`): one HTTP client per process, and the
    collection `sanad-<build id>` on the server; everything else of a build (manifest,
    lexical index, sentence vectors) stays in the shared data directory beside the pointer.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._server: chromadb.ClientAPI | None = None

    @property
    def server(self) -> chromadb.ClientAPI:
        """Return the process's one client of the Chroma server, connecting on first use."""
        if self._server is None:
            assert self.url is not None
            parsed = urlparse(self.url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise SanadError(f"SANAD_CHROMA_URL is not an http(s) URL: {self.url!r}")
            try:
                self._server = chromadb.HttpClient(
                    host=parsed.hostname,
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=_chroma_settings(),
                )
            except Exception as exc:  # chromadb raises bare ValueError/ConnectionError
                raise SanadError(f"cannot reach the Chroma server at {self.url}: {exc}") from exc
        return self._server

    def locate(self, build_id: str, path: Path) -> tuple[chromadb.ClientAPI, str]:
        """Return the client and collection name holding a build's passages."""
        if self.url:
            return self.server, f"sanad-{build_id}"
        return chromadb.PersistentClient(path=str(path / "chroma"), settings=_chroma_settings()), (
            COLLECTION
        )

    def release(self, client: chromadb.ClientAPI) -> None:
        """Close a build's embedded client (the server's one client stays open).

        Chroma keeps every embedded client's database and vectors in memory until closed: a
        bot that follows many rebuilds would otherwise hold all of them, files included.
        """
        if client is not self._server:
            client.close()

    def drop(self, build_id: str) -> None:
        """Delete a build's collection from the server (embedded ones go with their folder)."""
        if not self.url:
            return
        with contextlib.suppress(Exception):  # already gone, or never created
            self.server.delete_collection(f"sanad-{build_id}")

    def orphans(self, keep: set[str]) -> list[str]:
        """Return build ids with a collection on the server that are not in `keep`."""
        if not self.url:
            return []
        names = [c if isinstance(c, str) else c.name for c in self.server.list_collections()]
        return [
            n.removeprefix("sanad-")
            for n in names
            if n.startswith("sanad-") and n.removeprefix("sanad-") not in keep
        ]


@dataclass(frozen=True)
class Build:
    """One complete, immutable index build on disk."""

    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def lexical_dir(self) -> Path:
        """Return the folder of this build's lexical index."""
        return self.path / "lexical"


class BuildWriter:
    """Writes the passages of a new build; nothing is visible to readers until `commit`."""

    def __init__(self, store: Store, build_id: str) -> None:
        self.store = store
        self.id = build_id
        self.path = store.builds_dir / build_id
        self.path.mkdir(parents=True)
        self._client, name = store.collections.locate(build_id, self.path)
        self._collection = self._client.create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        self.count = 0

    @property
    def lexical_dir(self) -> Path:
        """Return the folder where this build's lexical index goes."""
        return self.path / "lexical"

    def add(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]] | Any,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Add passages with precomputed vectors, in batches Chroma accepts."""
        step = 2000
        for i in range(0, len(ids), step):
            self._collection.add(
                ids=list(ids[i : i + step]),
                embeddings=vectors[i : i + step],
                documents=list(texts[i : i + step]),
                metadatas=list(metadatas[i : i + step]),  # type: ignore[arg-type]
            )
        self.count += len(ids)

    def commit(self, manifest: dict[str, Any]) -> Build:
        """Write the manifest and make this build the one readers see."""
        manifest = {**manifest, "build": self.id, "passages": self.count}
        _write_json(self.path / "manifest.json", manifest)
        self.store.switch(self.id)
        return Build(self.id, self.path, manifest)

    def abort(self) -> None:
        """Throw the unfinished build away."""
        self.close()
        self.store.collections.drop(self.id)
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        """Release the writer's Chroma client."""
        self.store.collections.release(self._client)


class Store:
    """The data directory: builds, the pointer to the current one, and the build lock."""

    def __init__(self, data_dir: Path, collections: Collections | None = None) -> None:
        self.data_dir = data_dir
        self.builds_dir = data_dir / "builds"
        self.collections = collections or Collections()

    # ------------------------------------------------------------------ the pointer

    def current_id(self) -> str | None:
        """Return the id of the serving build, or None before the first build."""
        pointer = self.data_dir / POINTER
        try:
            data = json.loads(pointer.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SanadError(
                f"the index pointer {pointer} is unreadable ({exc}); run `sanad index` to rebuild"
            ) from exc
        build = data.get("build") if isinstance(data, dict) else None
        return build if isinstance(build, str) else None

    def pointer_stamp(self) -> float:
        """Return a value that changes whenever the pointer is replaced (cheap to poll)."""
        try:
            return (self.data_dir / POINTER).stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def current_or_none(self) -> Build | None:
        """Return the serving build, or None if there is none or it is damaged (to rebuild)."""
        try:
            return self.current()
        except SanadError as exc:
            logger.warning("ignoring the damaged index, it will be rebuilt: %s", exc)
            return None

    def current(self) -> Build | None:
        """Return the serving build, or None before the first build."""
        build_id = self.current_id()
        if build_id is None:
            return None
        path = self.builds_dir / build_id
        try:
            manifest = json.loads((path / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SanadError(
                f"the current index {build_id} is damaged ({exc}); run `sanad index` to rebuild"
            ) from exc
        return Build(build_id, path, manifest)

    def switch(self, build_id: str) -> None:
        """Point readers at `build_id`, atomically."""
        _write_json(self.data_dir / POINTER, {"build": build_id})
        logger.info("index switched to build %s", build_id)

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def building(self) -> Iterator[BuildWriter]:
        """Hold the build lock and yield a writer for a new build; abort it on error."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.lock():
            self.clean_up()
            # Ids sort by creation time (clean_up keeps the newest), to the microsecond.
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            writer = BuildWriter(self, f"{stamp}-{secrets.token_hex(3)}")
            try:
                yield writer
            except BaseException:
                writer.abort()
                raise
            writer.close()
            self.clean_up()

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """Hold the data directory's build lock (one builder at a time, across processes)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "build.lock").open("a") as handle:
            flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
            try:
                fcntl.flock(handle, flags)
            except BlockingIOError as exc:
                raise SanadError("another index build is running; try again when it ends") from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def clean_up(self) -> list[str]:
        """Delete builds that are neither current nor recent (crash leftovers, old builds)."""
        if not self.builds_dir.is_dir():
            return []
        try:
            current = self.current_id()
        except SanadError:
            current = None  # a damaged pointer serves nothing: every build may go
        finished = []
        removed = []
        for path in self.builds_dir.iterdir():
            if path.name == current or not path.is_dir():
                continue
            if (path / "manifest.json").is_file():
                finished.append(path)
            else:
                removed.append(path)  # never committed: a crash or an abort left it
        finished.sort(key=lambda p: p.name, reverse=True)
        removed.extend(finished[_KEEP_PREVIOUS:])
        for path in removed:
            self.collections.drop(path.name)
            shutil.rmtree(path, ignore_errors=True)
            logger.info("removed old index build %s", path.name)
        # Server collections whose build folder is gone (deleted by hand, or a crash).
        kept = {current or ""} | {p.name for p in finished[:_KEEP_PREVIOUS]}
        for orphan in self.collections.orphans(kept):
            self.collections.drop(orphan)
            logger.info("removed orphaned Chroma collection of build %s", orphan)
        # Under the build lock no pointer is being written: a temporary one is a crash's.
        for tmp in self.data_dir.glob(f".{POINTER}.*.tmp"):
            tmp.unlink(missing_ok=True)
        return [p.name for p in removed]


class BuildReader:
    """Read access to one build's passages: dense search and lookups by id."""

    def __init__(
        self,
        build: Build,
        collections: Collections | None = None,
        embeddings: Embeddings | None = None,
    ) -> None:
        self.build = build
        self._collections = collections or Collections()
        self._client, name = self._collections.locate(build.id, build.path)
        try:
            self._collection = self._client.get_collection(name, embedding_function=None)
        except Exception as exc:  # NotFoundError, or a server that went away
            self._collections.release(self._client)
            raise SanadError(
                f"the index build {build.id} has no passages in Chroma ({exc}); "
                "run `sanad index` to rebuild"
            ) from exc
        self.vectorstore = Chroma(
            client=self._client,
            collection_name=name,
            embedding_function=embeddings,
            create_collection_if_not_exists=False,
        )

    def dense(self, vector: Any, k: int) -> list[tuple[str, str, dict[str, Any], float]]:
        """Return (id, text, metadata, cosine similarity) of the k nearest passages."""
        started = time.perf_counter()
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(
            [float(x) for x in vector], k=k
        )
        logger.debug("dense search %.1f ms", (time.perf_counter() - started) * 1000)
        # LangChain returns Chroma's cosine *distance* here; readers want similarity.
        return [
            (str(doc.id), doc.page_content, dict(doc.metadata), 1.0 - float(distance))
            for doc, distance in hits
        ]

    def get(self, ids: Sequence[str], *, vectors: bool = False) -> dict[str, Any]:
        """Fetch passages by id (with their vectors when asked)."""
        include: list[Any] = ["documents", "metadatas"]
        if vectors:
            include.append("embeddings")
        return dict(self._collection.get(ids=list(ids), include=include))

    def all_ids(self) -> list[str]:
        """Return every passage id in the build."""
        return list(self._collection.get(include=[])["ids"])

    def count(self) -> int:
        """Return how many passages the build holds (it reads Chroma: a health check)."""
        return int(self._collection.count())

    def close(self) -> None:
        """Release the build's Chroma client; the reader is not used afterwards."""
        self._collections.release(self._client)


def open_build(
    build: Build | None,
    collections: Collections | None = None,
    embeddings: Embeddings | None = None,
) -> BuildReader:
    """Open a build for reading, or explain that there is none yet."""
    if build is None:
        raise IndexNotBuilt("no index has been built yet; run `sanad index` first")
    return BuildReader(build, collections, embeddings)


class SentenceMatrix:
    """The sentence vectors of a build, gathered row by row while it is written."""

    def __init__(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def extend(self, vectors: np.ndarray) -> range:
        """Append vectors and return the rows they were given."""
        self._blocks.append(np.asarray(vectors, dtype=np.float16))
        rows = range(self._rows, self._rows + len(vectors))
        self._rows += len(vectors)
        return rows

    def save(self, path: Path) -> None:
        """Write the matrix as one float16 .npy file (read back memory-mapped)."""
        matrix = np.concatenate(self._blocks) if self._blocks else np.zeros((0, 0), np.float16)
        np.save(path, matrix)


def encode_sentences(spans: Sequence[tuple[int, int, int]]) -> str:
    """Pack (start, end, row) triples of a passage's sentences into a metadata string."""
    return ";".join(f"{s}:{e}:{r}" for s, e, r in spans)


def decode_sentences(packed: str) -> list[tuple[int, int, int]]:
    """Unpack the (start, end, row) triples written by `encode_sentences`."""
    out = []
    for item in packed.split(";") if packed else ():
        start, end, row = item.split(":")
        out.append((int(start), int(end), int(row)))
    return out


def load_sentence_matrix(build: Build) -> np.ndarray:
    """Open a build's sentence vectors, memory-mapped (pages load as rows are read)."""
    path = build.path / SENTENCES
    if not path.is_file():
        return np.zeros((0, 0), dtype=np.float16)
    matrix: np.ndarray = np.load(path, mmap_mode="r")
    return matrix


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)  # atomic: readers see the old file or the new one, never half
