"""Benchmark Sanad at 1k, 10k and 100k passages: indexing, queries, memory, start-up.

Figures, not assertions; each ratio is printed beside its target.

- Indexing (real model, `--index-passages`, default 1k): the wall time of a full
  `Engine.reindex` versus `SentenceTransformer.encode` alone on exactly the texts the
  pipeline embedded (passages and distinct sentences), warm, in turn, in the same run; the
  first (cold) build; a re-index of the unchanged corpus versus the full build; and
  `sanad index` in a new process, model load included.
- Queries: median and p95 of `answer()` versus one query embedding, over the dev questions,
  on the real index above, then at each size in embedded mode and (with `--server`)
  against a `chroma run` server. Those indexes are built from the generated corpus with
  passage vectors taken as the mean of their sentences' real vectors (embedding 100k
  passages takes hours on two cores; the query path does not care where vectors came from).
- Memory and start-up: RSS of a `sanad bot` process serving the largest index, after it
  answered questions through the fake Bot API, and the time from start to its first poll.

    .venv/bin/python tests/bench/bench_scale.py [--sizes 1000 10000 100000] [--server]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from bot.cli import prepare_environment

prepare_environment()

import numpy as np

from retrieval import lexical, normalize
from retrieval.articles import load_folder
from retrieval.chunking import chunk_article, split_sentences
from retrieval.embedding import Embedder, load_embedder
from retrieval.engine import Engine
from retrieval.evaluation import load_questions, percentile
from retrieval.indexing import (
    article_entry,
    article_fingerprint,
    chunk_metadata,
    dateline,
)
from retrieval.settings import Settings
from retrieval.store import (
    SENTENCES,
    Collections,
    SentenceMatrix,
    Store,
    encode_sentences,
)
from tests.bench.corpus import generate, seed_sentences
from tests.fakes.telegram_api import FakeTelegram

REPO = Path(__file__).resolve().parents[2]


class Recording:
    """An embedder that remembers every passage-side text it was given, and its time."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.texts: list[str] = []
        self.seconds = 0.0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        self.texts.extend(texts)
        t0 = time.perf_counter()
        try:
            return self.inner.embed_passages(texts, batch_size=batch_size)
        finally:
            self.seconds += time.perf_counter() - t0


def settings(data: Path, source: Path, url: str | None = None) -> Settings:
    return Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=source, SANAD_CHROMA_URL=url or "")


def bench_indexing(
    embedder: Embedder, work: Path, passages: int, rounds: int
) -> tuple[Path, Path]:
    """Time full builds against bare encoding of the same texts, alternating, warm.

    The first build in a process also pays torch's one-off set-up for each new sequence
    shape, which a bare encode run after it would not: so that first build is reported on
    its own, and the ratio compares warm runs taken in turn (encode first, the harder order
    for the pipeline).
    """
    corpus = work / f"corpus-{passages}"
    generate(corpus, passages)
    recording = Recording(embedder)
    t0 = time.perf_counter()
    report = Engine(settings(work / "index-cold", corpus), embedder=recording).reindex()
    cold = time.perf_counter() - t0
    prepared = [normalize.for_embedding(t) for t in recording.texts]
    print(
        f"indexing {report.passages} passages ({len(prepared)} texts embedded), "
        f"first build in this process: {cold:.1f} s"
    )
    encodes, builds, inside = [], [], []
    data = work / f"index-{passages}"
    timed = Recording(embedder)
    for i in range(rounds):
        # Alternate the order (ABBA...), so that a machine slowing down or warming up over
        # the run does not favour either side.
        for step in ("encode", "build") if i % 2 == 0 else ("build", "encode"):
            if step == "encode":
                t0 = time.perf_counter()
                embedder.model.encode(prepared, prompt_name="document", batch_size=32)
                encodes.append(time.perf_counter() - t0)
            else:
                shutil.rmtree(data, ignore_errors=True)
                engine = Engine(settings(data, corpus), embedder=timed)
                timed.seconds = 0.0
                t0 = time.perf_counter()
                engine.reindex()
                builds.append(time.perf_counter() - t0)
                inside.append(timed.seconds)
        print(
            f"  round {i + 1}: encode alone {encodes[-1]:.1f} s, sanad index {builds[-1]:.1f} s "
            f"-> {builds[-1] / encodes[-1]:.2f}x (of which in the model {inside[-1]:.1f} s)"
        )
    encode, full = statistics.median(encodes), statistics.median(builds)
    print(
        f"indexing, median of {rounds} rounds: sanad index {full:.1f} s, encode alone "
        f"{encode:.1f} s -> {full / encode:.2f}x (target <= 1.1); first build "
        f"{cold / encode:.2f}x; outside the model within a build: "
        f"{statistics.median(b - m for b, m in zip(builds, inside, strict=True)):.1f} s"
    )
    t0 = time.perf_counter()
    engine.reindex()
    again = time.perf_counter() - t0
    print(
        f"re-index unchanged: {again:.2f} s = {100 * again / full:.1f}% of the full build "
        "(target <= 5%)"
    )
    cli_index(data, corpus)
    return data, corpus


def cli_index(data: Path, corpus: Path) -> None:
    """Time `sanad index` as an operator runs it: a new process, model load included."""
    target = data.with_name(data.name + "-cli")
    env = {**os.environ, "SANAD_DATA_DIR": str(target), "SANAD_SOURCE_DIR": str(corpus)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "index"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    print(
        f"`sanad index` in a new process (start-up and model load included): "
        f"{time.perf_counter() - t0:.1f} s"
    )


def build_from_sentence_vectors(
    embedder: Embedder, corpus: Path, data: Path, url: str | None
) -> int:
    """Write a build whose passage vectors are the mean of their sentences' real vectors."""
    pool = sorted(set(seed_sentences()))
    vectors = dict(zip(pool, embedder.embed_passages(pool), strict=True))
    loaded = load_folder(corpus)
    store = Store(data, Collections(url))
    count = 0
    with store.building() as writer:
        sentences = SentenceMatrix()
        rows, ids, embs, texts, metas, entries = [], [], [], [], [], {}
        for article in loaded.articles:
            chunks = chunk_article(article)
            for chunk in chunks:
                spans = split_sentences(chunk.text)
                vecs = np.stack([vectors[chunk.text[s:e]] for s, e in spans])
                placed = sentences.extend(vecs)
                mean = vecs.mean(axis=0)
                ids.append(chunk.id)
                embs.append(mean / np.linalg.norm(mean))
                texts.append(chunk.text)
                packed = [(s, e, r) for (s, e), r in zip(spans, placed, strict=True)]
                metas.append(
                    {**chunk_metadata(article, chunk), "sentences": encode_sentences(packed)}
                )
                rows.append((chunk.id, f"{article.title}\n{dateline(article)}", chunk.text))
            fingerprint = article_fingerprint(article, model=embedder.name, chunk_chars=700)
            entries[article.id] = article_entry(article, fingerprint, len(chunks))
            if len(ids) >= 5000:
                writer.add(ids, np.stack(embs), texts, metas)
                count += len(ids)
                ids, embs, texts, metas = [], [], [], []
        if ids:
            writer.add(ids, np.stack(embs), texts, metas)
            count += len(ids)
        sentences.save(writer.path / SENTENCES)
        lexical.build(writer.lexical_dir, rows)
        writer.commit({"model": embedder.name, "articles": entries, "chunk_chars": 700})
    return count


def bench_queries(embedder: Embedder, data: Path, corpus: Path, url: str | None) -> str:
    engine = Engine(settings(data, corpus, url), embedder=embedder)
    questions = [q.question for q in load_questions(REPO / "tests/data/dev.jsonl")]
    for q in questions[:10]:
        engine.ask(q)
    embed_ms, answer_ms = [], []
    for q in questions:
        t0 = time.perf_counter()
        embedder.embed_queries([q])
        embed_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        engine.ask(q)
        answer_ms.append((time.perf_counter() - t0) * 1000)
    embed = statistics.median(embed_ms)
    median = statistics.median(answer_ms)
    p95 = percentile(answer_ms, 95)
    return (
        f"embed {embed:6.1f} ms | answer median {median:6.1f} ms ({median / embed:.2f}x) "
        f"p95 {p95:6.1f} ms ({p95 / embed:.2f}x)"
    )


def bench_bot(data: Path, corpus: Path) -> None:
    with FakeTelegram.start_in_thread() as tg:
        env = {
            **os.environ,
            "SANAD_DATA_DIR": str(data),
            "SANAD_SOURCE_DIR": str(corpus),
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "SANAD_RATE_LIMIT": "0",
            "PTB_TIMEDELTA": "true",
        }
        t0 = time.perf_counter()
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "bot"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            tg.wait_for(lambda t: bool(t.calls_to("getUpdates")), timeout=300)
            startup = time.perf_counter() - t0
            questions = [q.question for q in load_questions(REPO / "tests/data/dev.jsonl")][:20]
            for i, q in enumerate(questions):
                tg.send_text(q, chat_id=5000 + i, user_id=5000 + i)
            for i in range(len(questions)):
                tg.wait_for_messages(chat_id=5000 + i, count=1, timeout=120)
            status = Path(f"/proc/{bot.pid}/status").read_text()
            rss = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            print(f"bot start-up to first poll: {startup:.1f} s")
            print(
                f"bot RSS after {len(questions)} answers: {rss / 1024:.0f} MB (target <= 1536 MB)"
            )
        finally:
            bot.terminate()
            bot.wait(timeout=60)


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma
    server = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--index-passages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4, help="warm indexing rounds")
    parser.add_argument("--server", action="store_true", help="also measure server mode")
    parser.add_argument("--no-bot", action="store_true", help="skip the bot memory figure")
    args = parser.parse_args()
    model = Settings().model_dir / "multilingual-e5-small"
    embedder = load_embedder(str(model))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, corpus = bench_indexing(embedder, work, args.index_passages, args.rounds)
        line = bench_queries(embedder, data, corpus, None)
        print(f"{args.index_passages:>7} passages embedded (real passage vectors): {line}")
        server = chroma_server(work / "chroma") if args.server else None
        url = server.__enter__() if server else None
        try:
            for size in args.sizes:
                corpus = work / f"corpus-{size}"
                if not corpus.exists():
                    generate(corpus, size)
                for mode, mode_url in (("embedded", None), ("server", url)):
                    if mode == "server" and not url:
                        continue
                    data = work / f"scale-{size}-{mode}"
                    t0 = time.perf_counter()
                    count = build_from_sentence_vectors(embedder, corpus, data, mode_url)
                    built = time.perf_counter() - t0
                    line = bench_queries(embedder, data, corpus, mode_url)
                    print(f"{count:>7} passages {mode:8} (built in {built:5.0f} s): {line}")
        finally:
            if server:
                server.__exit__(None, None, None)
        if not args.no_bot:
            size = max(args.sizes)
            bench_bot(work / f"scale-{size}-embedded", work / f"corpus-{size}")


if __name__ == "__main__":
    main()
