"""Validate the hand-written evaluation sets tests/data/dev.jsonl and holdout.jsonl.

Run:  python tests/data/check_sets.py [-v]

Errors (exit code 1):
  * a line that is not a JSON object, a missing or ill-typed field, a duplicate id
    (ids must be unique across both files), an unknown tag or seed file name;
  * answers non-empty iff docs non-empty; the "unanswerable" tag iff docs empty;
    the "followup" tag iff a non-empty "context";
  * an answer string that, after normalisation, is not found in the *content* of at least
    one listed doc (boilerplate such as the "اقرأ أيضا" teaser in 001 or the "مقالات مشابهة"
    list in 002 does not count), or only found glued to other digits ("26" in "2026");
  * a "second_story" question whose answers are not in the second story of 002;
  * dev/holdout below the minimum counts given in MINIMUMS.

Warnings (printed, exit code unaffected):
  * an answerable question sharing a run of 6+ consecutive normalised words with a seed
    (lifted text rather than a paraphrase);
  * a listed doc whose content holds none of the answer strings;
  * near-identical questions in dev and holdout.

With -v it also lists, for each answerable question, seed files not listed in "docs"
whose content holds one of the answer strings (possible missing docs, often just a
common word).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent.parent / "seeds"
SETS = {"dev": HERE / "dev.jsonl", "holdout": HERE / "holdout.jsonl"}

TAGS = {
    "paraphrase",
    "spelling",
    "diacritised",
    "dialect",
    "english",
    "date",
    "number",
    "person",
    "place",
    "followup",
    "unanswerable",
    "second_story",
    "disagreement",
    "published",  # asks when an article was published: the answer is its dateline
    "off_topic",  # unanswerable because the corpus is about something else entirely
}
FIELDS = {"id", "question", "docs", "answers", "context", "tags"}
SECOND_STORY_FILE = "002_27a3148d552c7d9d.txt"
LIFT_N = 6

# Minimum counts. Keys are tags, or "date|number" (either tag), or special keys.
MINIMUMS = {
    "dev": {
        "total": 80,
        "paraphrase": 12,
        "spelling": 6,
        "diacritised": 6,
        "dialect": 8,
        "english": 8,
        "date|number": 10,
        "followup": 8,
        "unanswerable": 14,
        "second_story": 5,
        "per_file": 3,
    },
    "holdout": {"total": 25, "unanswerable": 5, "followup": 3},
}

# ---------------------------------------------------------------- normalisation

_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")  # harakat, dagger alef, tatweel
_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        **{c: str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")},
        **{c: str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")},
    }
)
_WS = re.compile(r"\s+")
_WORD = re.compile(r"[0-9a-z\u0621-\u064a]+")


def normalise(text: str) -> str:
    """The normalisation the set's answers are matched under (see README.md)."""
    text = unicodedata.normalize("NFC", text)
    text = _DIACRITICS.sub("", text)
    text = text.translate(_FOLD)
    return _WS.sub(" ", text).strip().lower()


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


# ---------------------------------------------------------------- seeds


def _content(name: str, text: str) -> str:
    """Drop boilerplate that must never be the only source of an answer."""
    lines = text.split("\n")
    if name.startswith("001_"):
        # "اقرأ أيضاالصين تعلن ..." teaser line
        lines = [ln for ln in lines if not normalise(ln).startswith("اقرا ايضا")]
    text = "\n".join(lines)
    for marker in ("مقالات مشابهة", "مقالات ذات صلة", "اظهر المزيد"):
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text


def load_seeds() -> tuple[dict[str, str], dict[str, str], str]:
    """Return (full normalised text, normalised content, normalised 002 second story)."""
    full, content = {}, {}
    for path in sorted(SEEDS.glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        full[path.name] = normalise(raw)
        content[path.name] = normalise(_content(path.name, raw))
    c002 = content.get(SECOND_STORY_FILE, "")
    marker = normalise("إقرأ أيضاً:")
    second = c002[c002.find(marker) + len(marker) :] if marker in c002 else ""
    return full, content, second


def occurs(answer: str, text: str) -> bool:
    """Substring match; a numeric edge must not be glued to further digits."""
    start = text.find(answer)
    while start >= 0:
        end = start + len(answer)
        ok_left = not (answer[0].isdigit() and start > 0 and text[start - 1].isdigit())
        ok_right = not (answer[-1].isdigit() and end < len(text) and text[end].isdigit())
        if ok_left and ok_right:
            return True
        start = text.find(answer, start + 1)
    return False


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


# ---------------------------------------------------------------- checks


def check_set(name: str, path: Path, seeds, ids_seen: set[str], verbose: bool):
    full, content, second = seeds
    errors: list[str] = []
    warnings: list[str] = []
    items: list[dict] = []
    seed_grams = {f: ngrams(_WORD.findall(t), LIFT_N) for f, t in full.items()}

    if not path.exists():
        return [f"{name}: {path} missing"], [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{lineno}"
        if not line.strip():
            errors.append(f"{where}: blank line")
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: invalid JSON ({exc})")
            continue
        if not isinstance(item, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        qid = item.get("id")
        where = f"{path.name}:{lineno} [{qid}]"
        missing = {"id", "question", "docs", "answers", "tags"} - item.keys()
        extra = item.keys() - FIELDS
        if missing:
            errors.append(f"{where}: missing fields {sorted(missing)}")
            continue
        if extra:
            errors.append(f"{where}: unknown fields {sorted(extra)}")
        if not isinstance(qid, str) or not qid:
            errors.append(f"{where}: id must be a non-empty string")
        elif qid in ids_seen:
            errors.append(f"{where}: duplicate id")
        ids_seen.add(qid)
        q, docs, answers, tags = item["question"], item["docs"], item["answers"], item["tags"]
        ctx = item.get("context")
        if not isinstance(q, str) or not q.strip():
            errors.append(f"{where}: question must be a non-empty string")
            continue
        if not (isinstance(docs, list) and all(isinstance(d, str) for d in docs)):
            errors.append(f"{where}: docs must be a list of strings")
            continue
        if not (
            isinstance(answers, list) and all(isinstance(a, str) and a.strip() for a in answers)
        ):
            errors.append(f"{where}: answers must be a list of non-empty strings")
            continue
        if not (isinstance(tags, list) and tags and all(isinstance(t, str) for t in tags)):
            errors.append(f"{where}: tags must be a non-empty list of strings")
            continue
        if ctx is not None and not (isinstance(ctx, str) and ctx.strip()):
            errors.append(f"{where}: context must be a non-empty string when present")
        if len(set(docs)) != len(docs):
            errors.append(f"{where}: repeated doc")
        for t in tags:
            if t not in TAGS:
                errors.append(f"{where}: unknown tag {t!r}")
        for d in docs:
            if d not in full:
                errors.append(f"{where}: unknown seed file {d!r}")
        if bool(docs) != bool(answers):
            errors.append(f"{where}: answers must be non-empty iff docs non-empty")
        if ("unanswerable" in tags) != (not docs):
            errors.append(f"{where}: 'unanswerable' tag iff docs == []")
        if ("followup" in tags) != bool(ctx):
            errors.append(f"{where}: 'followup' tag iff a context is given")
        if "second_story" in tags and docs and SECOND_STORY_FILE not in docs:
            errors.append(f"{where}: second_story question must list {SECOND_STORY_FILE}")
        items.append(item)

        known = [d for d in docs if d in content]
        norm_answers = [normalise(a) for a in answers]
        for a, na in zip(answers, norm_answers, strict=False):
            if "published" in tags and re.fullmatch(r"\d{1,2} \S+ \d{4}", a):
                continue  # the publication date in words: metadata, not body text
            if not any(occurs(na, content[d]) for d in known):
                in_full = any(occurs(na, full[d]) for d in known)
                why = "only in boilerplate" if in_full else "not found"
                errors.append(f"{where}: answer {a!r} {why} in listed docs {known}")
            elif "second_story" in tags and not occurs(na, second):
                errors.append(f"{where}: answer {a!r} not in the second story of 002")
            if len(na.split()) > 4:
                warnings.append(f"{where}: answer {a!r} longer than 4 words")
        for d in known:
            if not any(occurs(na, content[d]) for na in norm_answers):
                warnings.append(f"{where}: listed doc {d} holds none of the answer strings")
        if verbose and docs:
            others = [
                f
                for f in content
                if f not in docs and any(occurs(na, content[f]) for na in norm_answers)
            ]
            if others:
                print(f"  note {where}: answer string also in unlisted {others}")

        if docs:
            qgrams = ngrams(words(q), LIFT_N)
            for f, g in seed_grams.items():
                shared = qgrams & g
                if shared:
                    run = " ".join(sorted(shared)[0])
                    warnings.append(f"{where}: question shares {LIFT_N}+ words with {f}: {run!r}")
    return errors, warnings, items


def counts(items: list[dict]) -> Counter:
    c = Counter()
    for it in items:
        c.update(set(it["tags"]))
        if {"date", "number"} & set(it["tags"]):
            c["date|number"] += 1
        for d in it["docs"]:
            c["file:" + d] += 1
    c["total"] = len(items)
    return c


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    seeds = load_seeds()
    files = sorted(seeds[0])
    ids: set[str] = set()
    all_errors: list[str] = []
    all_warnings: list[str] = []
    by_set: dict[str, list[dict]] = {}
    for name, path in SETS.items():
        errors, warnings, items = check_set(name, path, seeds, ids, verbose)
        all_errors += errors
        all_warnings += warnings
        by_set[name] = items

    # near duplicates between dev and holdout
    dev_q = [(it["id"], set(words(it["question"]))) for it in by_set.get("dev", [])]
    for it in by_set.get("holdout", []):
        hw = set(words(it["question"]))
        for did, dw in dev_q:
            if hw and dw and len(hw & dw) / len(hw | dw) >= 0.7:
                all_warnings.append(f"holdout {it['id']} is near-identical to dev {did}")

    for name, items in by_set.items():
        c = counts(items)
        print(f"== {name}: {c['total']} questions")
        print("   tags: " + ", ".join(f"{t}={c[t]}" for t in sorted(TAGS)))
        print(f"   date|number={c['date|number']}  answerable={c['total'] - c['unanswerable']}")
        print("   per file: " + ", ".join(f"{f[:3]}={c['file:' + f]}" for f in files))
        for key, need in MINIMUMS[name].items():
            if key == "per_file":
                for f in files:
                    if c["file:" + f] < need:
                        all_errors.append(
                            f"{name}: only {c['file:' + f]} questions on {f} (< {need})"
                        )
            elif c[key] < need:
                all_errors.append(f"{name}: {key}={c[key]} below minimum {need}")

    for w in all_warnings:
        print("WARNING", w)
    for e in all_errors:
        print("ERROR", e)
    print(f"{len(all_errors)} error(s), {len(all_warnings)} warning(s)")
    return 1 if all_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
