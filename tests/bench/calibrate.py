"""Calibrate the answer composer's knobs on the dev set (never on the holdout set).

Retrieval and sentence features are computed once per question; each candidate tuning is
then scored by composing the answers again, which is cheap. Prints the best settings by
answer accuracy under the refusal constraints, and the baseline for comparison.

    .venv/bin/python tests/bench/calibrate.py [--data-dir DIR] [--questions FILE]
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from pathlib import Path

from bot.cli import prepare_environment

prepare_environment()

from retrieval import answering
from retrieval.engine import Engine
from retrieval.evaluation import contains_answer, load_questions
from retrieval.normalize import tokenize
from retrieval.search import search
from retrieval.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def features(engine: Engine, questions: list) -> list[tuple]:
    index = engine.index()
    rows = []
    for q in questions:
        history = [q.context] if q.context else []
        query = answering.contextual_query(q.question, history)
        vector = engine.embedder().embed_queries([query])[0]
        passages = search(index, query, vector, k=engine.settings.top_k)
        about = answering.describe_question(
            q.question, tokenize(q.question), index.lexical.idf, index.lexical.knows
        )
        cands = answering.score_sentences(
            tokenize(query), vector, passages, index.sentences, index.lexical.idf
        )
        rows.append((q, about, passages, cands))
    return rows


def score(rows: list[tuple], tuning: answering.Tuning) -> dict[str, float]:
    correct = refused_ok = refused_bad = answerable = unanswerable = 0
    for q, about, passages, cands in rows:
        answer = answering.compose(about, passages, cands, tuning=tuning)
        if q.answerable:
            answerable += 1
            correct += (not answer.refused) and contains_answer(q, answer.text)
            refused_bad += answer.refused
        else:
            unanswerable += 1
            refused_ok += answer.refused
    refused = refused_ok + refused_bad
    return {
        "accuracy": correct / answerable,
        "refusal_recall": refused_ok / unanswerable if unanswerable else 1.0,
        "refusal_precision": refused_ok / refused if refused else 1.0,
        "false_refusals": refused_bad,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(REPO / "data"))
    parser.add_argument("--questions", default=str(REPO / "tests/data/dev.jsonl"))
    args = parser.parse_args()
    engine = Engine(Settings(SANAD_DATA_DIR=args.data_dir, SANAD_SOURCE_DIR=REPO / "seeds"))
    engine.reindex()
    rows = features(engine, load_questions(Path(args.questions)))
    base = answering.DEFAULT_TUNING
    print("default:", score(rows, base))
    grid = {
        "lexical_weight": [0.1, 0.15, 0.25],
        "novelty_weight": [0.0, 0.03],
        "rank_weight": [0.02, 0.05, 0.1],
        "kind_weight": [0.0, 0.03, 0.06],
        "keep_margin": [0.035, 0.05, 0.07],
        "extend_margin": [0.06, 0.1],
    }
    results = []
    for values in itertools.product(*grid.values()):
        tuning = replace(base, **dict(zip(grid, values, strict=True)))
        results.append((score(rows, tuning), tuning))
    ok = [r for r in results if r[0]["refusal_precision"] >= 0.9]
    ok.sort(key=lambda r: r[0]["accuracy"] + r[0]["refusal_recall"], reverse=True)
    for metrics, tuning in ok[:10]:
        changed = {k: getattr(tuning, k) for k in grid}
        print(metrics, changed)


if __name__ == "__main__":
    main()
