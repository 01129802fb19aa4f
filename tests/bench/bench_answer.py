"""Benchmark: one query embedding versus a whole `answer()` (retrieve + compose).

Prints, from one run on this machine, the median time of embedding one question and the
median and p95 of `Engine.ask` over the dev set, with their ratios to the embedding time
(targets: median <= 1.5x, p95 <= 2.5x). Figures, not assertions.

    .venv/bin/python tests/bench/bench_answer.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.cli import prepare_environment

prepare_environment()

from retrieval.engine import Engine
from retrieval.evaluation import load_questions, percentile
from retrieval.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev set")
    parser.add_argument("--questions", default=str(REPO / "tests/data/dev.jsonl"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        engine = Engine(Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=REPO / "seeds"))
        engine.reindex()
        questions = load_questions(Path(args.questions))
        embedder = engine.embedder()
        for q in questions[:10]:  # warm caches, allocator and the index
            engine.ask(q.question)
        embed_ms, answer_ms = [], []
        for _ in range(args.rounds):
            for q in questions:
                t0 = time.perf_counter()
                embedder.embed_queries([q.question])
                embed_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                engine.ask(q.question, [q.context] if q.context else [])
                answer_ms.append((time.perf_counter() - t0) * 1000)
        embed = statistics.median(embed_ms)
        median = statistics.median(answer_ms)
        p95 = percentile(answer_ms, 95)
        print(f"questions: {len(questions)} x {args.rounds} rounds")
        print(f"query embedding   median {embed:7.1f} ms")
        print(
            f"answer()          median {median:7.1f} ms  ({median / embed:.2f}x, target <= 1.5x)"
        )
        print(f"answer()          p95    {p95:7.1f} ms  ({p95 / embed:.2f}x, target <= 2.5x)")


if __name__ == "__main__":
    main()
