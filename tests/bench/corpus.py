"""A deterministic synthetic Arabic news corpus, recombined from the seed articles' sentences.

Each article takes a seeded random selection of real sentences from the seeds, a distinct
title, outlet and date, and is written as a `.txt` file with front matter, so it goes
through the same parsing, chunking and indexing as any operator's folder.

    .venv/bin/python tests/bench/corpus.py OUT_DIR --passages 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path

from retrieval.articles import load_folder
from retrieval.chunking import split_sentences

REPO = Path(__file__).resolve().parents[2]
OUTLETS = ("الجزيرة", "فرانس24", "رويترز", "العربية", "بي بي سي عربي", "سكاي نيوز عربية")
PASSAGES_PER_ARTICLE = 3.6  # measured on generated articles with the default chunk size


def seed_sentences() -> list[str]:
    """Return every sentence of the seed articles, in order."""
    out = []
    for article in load_folder(REPO / "seeds").articles:
        out.extend(article.text[s:e] for s, e in split_sentences(article.text))
    return out


def generate(out: Path, passages: int, *, seed: int = 7) -> int:
    """Write about `passages` passages' worth of articles into `out`; return the article count."""
    pool = seed_sentences()
    out.mkdir(parents=True, exist_ok=True)
    articles = max(1, round(passages / PASSAGES_PER_ARTICLE))
    base = dt.date(2020, 1, 1)
    for i in range(articles):
        rng = random.Random(seed * 1_000_003 + i)
        body = rng.sample(pool, rng.randint(7, 11))
        paragraphs = ["\n".join(body[j : j + 2]) for j in range(0, len(body), 2)]
        words = rng.choice(pool).split()[:7]
        title = f"{' '.join(words)} ({i + 1})"
        date = base + dt.timedelta(days=i % 2000)
        quoted = json.dumps(title, ensure_ascii=False)  # JSON strings are valid YAML
        front = f"---\ntitle: {quoted}\nsource: {OUTLETS[i % len(OUTLETS)]}\ndate: {date}\n---\n"
        (out / f"a{i:06d}.txt").write_text(front + "\n\n".join(paragraphs) + "\n", "utf-8")
    return articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--passages", type=int, default=1000)
    args = parser.parse_args()
    print(f"{generate(args.out, args.passages)} articles written to {args.out}")


if __name__ == "__main__":
    main()
