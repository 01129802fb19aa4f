"""Source files to `Article`s: reading, front matter, title, outlet, date, boilerplate, parts.

This module owns the step from a folder of scraped news pages (`.txt` or `.md`) to `Article`
records (`.html` pages and `.jsonl` dumps are read by `retrieval.archives`, with these rules).
It chooses which files to read and refuses the unreadable ones with a reason an
operator understands; it removes the furniture a scraper leaves around a story (navigation,
share buttons, comment forms, related-article lists); it finds the title, the outlet and the
publication date; and it splits a page that carries a "read also" story into separate
articles. It never rewrites words: `Article.text` keeps the page's characters (only invisible
controls and runs of spaces are tidied), because quotes are later checked against it.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

import yaml

from retrieval.errors import ArticleFormatError
from retrieval.models import Article
from retrieval.normalize import clean_display, fold_digits

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_JSONL_SUFFIXES = frozenset({".jsonl"})
# YAML front matter is a handful of keys; a huge block is a mistake, and parsing it is costly.
_MAX_FRONT_MATTER_CHARS = 64_000
_TITLE_MAX_CHARS = 120
# Page furniture is short: past this many characters a line is only judged by how it begins.
_LINE_HEAD_CHARS = 200


@dataclass(frozen=True)
class SkippedFile:
    """A source file that was not indexed, and why, in words an operator understands.

    For one bad line of a `.jsonl` dump whose other lines were indexed, `file` reads
    `dump.jsonl:7` and `line` holds the line number.
    """

    file: str
    reason: str
    line: int | None = None


@dataclass(frozen=True)
class LoadResult:
    """What `load_folder` found.

    `files` maps every file that yielded articles to the sha256 of its bytes; every other
    candidate file is in `skipped`, so each file is in exactly one of the two. Only the bad
    lines of a dump that yielded articles are in `skipped` beside it, as `dump.jsonl:7`.
    """

    articles: list[Article]
    skipped: list[SkippedFile]
    files: dict[str, str]


# --------------------------------------------------------------------------------------------
# Folders and files


def load_folder(
    folder: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES,
) -> LoadResult:
    """Read every article file under `folder`, reporting the files that cannot be read."""
    if not folder.exists():
        raise ArticleFormatError(f"source folder does not exist: {folder}")
    if not folder.is_dir():
        raise ArticleFormatError(f"source folder is not a folder: {folder}")
    candidates, skipped = _discover(folder, tuple(s.lower() for s in suffixes))
    articles: list[Article] = []
    files: dict[str, str] = {}
    root = folder.resolve()
    for rel, path in candidates:
        try:
            data = _read_bytes(_still_inside(path, root), max_bytes)
            found, bad_lines = _parse_data(data, rel)
        except ArticleFormatError as exc:
            skipped.append(SkippedFile(rel, str(exc)))
            continue
        except Exception as exc:
            # A page that trips a bug here must not stop the rest of the folder from loading.
            logger.exception("could not parse %s", rel)
            skipped.append(SkippedFile(rel, f"could not be parsed ({type(exc).__name__})"))
            continue
        files[rel] = hashlib.sha256(data).hexdigest()
        articles.extend(found)
        skipped.extend(bad_lines)
    # A dump's bad lines follow its name in line order ("dump.jsonl:9" before ":10").
    skipped.sort(
        key=lambda s: (s.file.removesuffix(f":{s.line}") if s.line else s.file, s.line or 0)
    )
    return LoadResult(articles=_unique_ids(articles), skipped=skipped, files=files)


def _parse_data(data: bytes, file: str) -> tuple[list[Article], list[SkippedFile]]:
    """Parse one file's bytes by its suffix: its articles, and the bad lines of a dump."""
    suffix = PurePosixPath(file).suffix.lower()
    if suffix not in _HTML_SUFFIXES | _JSONL_SUFFIXES:
        return parse_text(_decode(data), file), []
    # archives builds on this module's rules and loads trafilatura: imported when needed.
    from retrieval import archives

    if suffix in _HTML_SUFFIXES:
        return archives.parse_html(data, file), []
    return archives.parse_jsonl(_decode(data), file)


def _unique_ids(articles: list[Article]) -> list[Article]:
    """Keep ids unique when two files differ only by suffix (`x.txt`, `x.md`).

    Ids leave the suffix out so that they read well and survive a rename to another
    format; only where that would clash does the id keep the file's full name.
    """
    files_by_base: dict[str, set[str]] = {}
    for article in articles:
        files_by_base.setdefault(article.id.split("#")[0], set()).add(article.file)
    clashing = {base for base, files in files_by_base.items() if len(files) > 1}
    if not clashing:
        return articles
    # Only the base is replaced: a part ("#1") or a dump's line ("#L7") stays as it was.
    return [
        replace(a, id=a.file + a.id[len(base) :])
        if (base := a.id.split("#")[0]) in clashing
        else a
        for a in articles
    ]


def parse_file(path: Path, root: Path) -> list[Article]:
    """Read one source file and parse it into its articles."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        raise ArticleFormatError(f"{path} is not inside {root}") from None
    data = _read_bytes(_still_inside(path, root.resolve()), DEFAULT_MAX_BYTES)
    articles, bad_lines = _parse_data(data, rel)
    for bad in bad_lines:
        logger.warning("skipped %s: %s", bad.file, bad.reason)
    return articles


def _discover(
    folder: Path, suffixes: tuple[str, ...]
) -> tuple[list[tuple[str, Path]], list[SkippedFile]]:
    """List candidate files under `folder` (relative posix path, path), sorted by path."""
    root = folder.resolve()
    found: list[tuple[str, Path]] = []
    skipped: list[SkippedFile] = []
    # `chain` holds the real paths of the folders from the root down to the one being listed:
    # a folder link whose target is already on it would make the walk go round for ever.
    stack: list[tuple[Path, PurePosixPath, tuple[Path, ...]]] = [
        (folder, PurePosixPath(), (root,))
    ]
    while stack:
        directory, rel_dir, chain = stack.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedFile(rel_dir.as_posix(), f"cannot list folder ({exc.strerror})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            rel = rel_dir / entry.name
            wanted = entry.name.lower().endswith(suffixes)
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except FileNotFoundError:
                    problem = "broken symlink (its target does not exist)"
                except (OSError, RuntimeError):
                    # Python 3.11 raises RuntimeError for a link that leads back to itself.
                    problem = "symlink loop (the link leads back to itself)"
                else:
                    problem = ""
                if problem:
                    # A link without a suffix may have been meant as a folder: worth a word.
                    if wanted or not path.suffix:
                        skipped.append(SkippedFile(rel.as_posix(), problem))
                    continue
                is_dir = target.is_dir()
                if not (is_dir or wanted):
                    continue
                if not target.is_relative_to(root):
                    skipped.append(
                        SkippedFile(rel.as_posix(), "symlink points outside the source folder")
                    )
                elif is_dir and target in chain:
                    skipped.append(
                        SkippedFile(
                            rel.as_posix(), "symlink loop (points back to a folder above it)"
                        )
                    )
                elif is_dir:
                    stack.append((path, rel, (*chain, target)))
                else:
                    found.append((rel.as_posix(), path))
            elif entry.is_dir(follow_symlinks=False):
                stack.append((path, rel, (*chain, path.resolve())))
            elif wanted:
                found.append((rel.as_posix(), path))
    found.sort()
    return found, skipped


def _still_inside(path: Path, root: Path) -> Path:
    """Return the real path of a listed file, checked again, at read time, to be under root.

    A file listed as regular may have been replaced by a link to /etc/passwd since.
    """
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise ArticleFormatError("file vanished while indexing") from None
    except (OSError, RuntimeError):
        raise ArticleFormatError("symlink loop (the link leads back to itself)") from None
    if not real.is_relative_to(root):
        raise ArticleFormatError("symlink points outside the source folder")
    return real


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """Return the bytes of a regular file no larger than `max_bytes` (never via a link).

    O_NOFOLLOW: `path` is already resolved, so a link here is one swapped in since.
    """
    try:
        handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb")
        with handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ArticleFormatError("not a regular file")
            if info.st_size > max_bytes:
                raise ArticleFormatError(_too_large(info.st_size, max_bytes))
            # One byte past the limit is enough to notice a file that grew since `fstat`.
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ArticleFormatError("file vanished while indexing") from None
    except PermissionError:
        raise ArticleFormatError("cannot read file (permission denied)") from None
    except OSError as exc:
        raise ArticleFormatError(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ArticleFormatError(_too_large(len(data), max_bytes))
    return data


def _too_large(size: int, limit: int) -> str:
    return f"too large ({_human_size(size)} > {_human_size(limit)} limit)"


def _human_size(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _decode(data: bytes) -> str:
    """Decode a source file: UTF-8 (BOM optional) or UTF-16 with a BOM, nothing else."""
    if not data:
        raise ArticleFormatError("empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ArticleFormatError(f"not valid UTF-16 text ({exc.reason})") from None
    else:
        if b"\x00" in data:
            raise ArticleFormatError("binary file (contains NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            offset = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
            raise ArticleFormatError(
                f"not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset})"
            ) from None
    if "\x00" in text:
        raise ArticleFormatError("binary file (contains NUL bytes)")
    if not text.strip():
        raise ArticleFormatError("empty file (only whitespace)")
    return text


# --------------------------------------------------------------------------------------------
# Arabic matching forms (for recognising lines, never for the stored text)

_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_FOLD = str.maketrans(
    {
        **dict.fromkeys("أإآٱ", "ا"),
        "ى": "ي",
        "ی": "ي",
        "ة": "ه",
        "ک": "ك",
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
    }
)
_NON_WORD = re.compile(r"[\W_]+")
_LETTERS = re.compile(r"[^\W\d_]+")


def _fold(text: str) -> str:
    """Fold letters and digits one character for one, so match offsets fit the original."""
    return fold_digits(text).translate(_FOLD)


def _key(text: str) -> str:
    """Return the form used to compare phrases: folded, unmarked, words split by one space."""
    return _NON_WORD.sub(" ", _fold(_MARKS.sub("", text))).strip()


def _compact(text: str) -> str:
    return _key(text).replace(" ", "")


# --------------------------------------------------------------------------------------------
# Dates

_MONTH_NAMES: dict[str, int] = {
    # Egyptian and Gulf usage, with common spellings.
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "إبريل": 4, "مايو": 5, "ماي": 5,
    "يونيو": 6, "يونيه": 6, "يوليو": 7, "يوليه": 7, "أغسطس": 8, "اغسطس": 8, "أغشت": 8,
    "سبتمبر": 9, "أكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    # Levantine and Iraqi usage.
    "كانون الثاني": 1, "كانون ثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4, "أيار": 5,
    "حزيران": 6, "تموز": 7, "آب": 8, "أيلول": 9, "تشرين الأول": 10, "تشرين أول": 10,
    "تشرين الثاني": 11, "تشرين ثاني": 11, "كانون الأول": 12, "كانون أول": 12,
    # Maghrebi usage.
    "جانفي": 1, "فيفري": 2, "أفريل": 4, "جوان": 6, "جويلية": 7, "يوليوز": 7, "أوت": 8,
    "غشت": 8, "شتنبر": 9, "نونبر": 11, "دجنبر": 12,
    # English, full and abbreviated.
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTHS = {_fold(name): month for name, month in _MONTH_NAMES.items()}
# Looked up without spaces: the pattern lets "كانون الثاني" be written with any spacing.
_MONTHS_COMPACT = {name.replace(" ", ""): month for name, month in _MONTHS.items()}
_MONTH_ALTERNATION = "|".join(
    re.escape(name).replace(r"\ ", r"\s*") for name in sorted(_MONTHS, key=len, reverse=True)
)
# Lookarounds instead of \b: a year glued to the next word ("۲۰۲٤اتخذت") must still match.
_NOT_LETTER_BEFORE = r"(?<![^\W\d_])"
_NOT_LETTER_AFTER = r"(?![^\W\d_])"
_MONTH = (
    rf"{_NOT_LETTER_BEFORE}(?P<month>{_MONTH_ALTERNATION})\.?{_NOT_LETTER_AFTER}"
    # "فبراير/شباط": the second name of a pair only repeats the first.
    rf"(?:\s*/\s*(?:{_MONTH_ALTERNATION}){_NOT_LETTER_AFTER})?"
)
_DAY = r"(?<!\d)(?P<day>[0-3]?\d)(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?P<year>\d{4})(?!\d)"
_DATE_PATTERNS = (
    # 16th, February 2024 / 20 فبراير 2024 / 29 شباط/ فبراير 2024 / 20 من فبراير 2024
    re.compile(rf"{_DAY}\s*[,،]?\s*(?:of\s+|من\s+)?{_MONTH}\s*[,،]?\s*(?<!\d){_YEAR}"),
    # فبراير ۲۰، ۲۰۲٤ / February 20, 2024
    re.compile(rf"{_MONTH}\s*{_DAY}(?:\s*[,،]\s*|\s+)(?<!\d){_YEAR}"),
    # 27/10/2023 (day first, as Arabic pages write it; month first only when it must be)
    re.compile(r"(?<!\d)(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4})(?!\d)"),
    # 2025-03-20
    re.compile(
        r"(?<!\d)(?P<year>\d{4})(?P<sep>[/.\-])(?P<month_n>\d{1,2})(?P=sep)(?P<day>\d{1,2})(?!\d)"
    ),
)
_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:am|pm|ص|م)(?![^\W\d_]))?")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[@t]|\s+)\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"\s*(?:z|gmt|utc|[+-]\d{2}:?\d{2})?"
)


class _DateMatch(NamedTuple):
    iso: str
    start: int
    end: int


def parse_date(text: str) -> str | None:
    """Find a full publication date (day, month and year) in a line; return it as ISO."""
    found = _find_date(text)
    return found.iso if found else None


def _find_date(text: str) -> _DateMatch | None:
    """Return the earliest valid full date in `text`, with its span."""
    folded = _fold(text)
    best: _DateMatch | None = None
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            iso = _iso_from_match(match)
            if iso is None:
                continue
            if best is None or (match.start(), -match.end()) < (best.start, -best.end):
                best = _DateMatch(iso, match.start(), match.end())
            break
    return best


def _iso_from_match(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("month"):
        month = _MONTHS_COMPACT[re.sub(r"\s+", "", groups["month"])]
        day = int(groups["day"])
    elif groups.get("month_n"):
        month, day = int(groups["month_n"]), int(groups["day"])
    else:
        first, second = int(groups["a"]), int(groups["b"])
        day, month = (second, first) if second > 12 >= first else (first, second)
    if not 1900 <= year <= 2100:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


# Words that may stand beside a date on a date line without making it a sentence.
_DATE_LINE_FILLER = frozenset({"gmt", "utc", "am", "pm", "ص", "م", "الساعه", "at", "on"})
_PUBLISHED_LABELS = ("نشر", "تاريخ", "published", "posted")
_UPDATED_LABELS = ("تحديث", "محدث", "updated", "update", "modified")
_SENTENCE_END = re.compile(r"[.!?؟…][\"'”»)\]]*$")


class _DateLine(NamedTuple):
    iso: str
    updated: bool


def _date_line(text: str) -> _DateLine | None:
    """Recognise a dateline or byline ("نشرت في: 27/10/2023 – 16:40", "قسم ... 23/10/2024")."""
    if len(text) > 120 or _SENTENCE_END.search(text):
        return None
    found = _find_date(text)
    if found is None:
        return None
    folded = _fold(text)
    before = _words_beside_date(folded[: found.start])
    after = _words_beside_date(folded[found.end :])
    rest = " ".join(before + after)
    labelled = any(label in rest for label in _PUBLISHED_LABELS + _UPDATED_LABELS)
    # A label ("نشرت في", "تاريخ النشر") allows a few more words: they are all metadata.
    if len(before) > 4 or len(after) > 3 or not (labelled or len(before) + len(after) <= 3):
        return None
    updated = any(label in rest for label in _UPDATED_LABELS) and not any(
        label in rest for label in _PUBLISHED_LABELS
    )
    return _DateLine(found.iso, updated)


def parse_dateline(text: str) -> tuple[str, bool] | None:
    """Read a dateline or byline: its ISO date and whether it dates an update, else None."""
    return _date_line(text)


def _words_beside_date(folded: str) -> list[str]:
    words = _LETTERS.findall(_CLOCK.sub(" ", folded))
    return [w for w in words if w not in _DATE_LINE_FILLER]


def _leading_date(text: str) -> tuple[str, str] | None:
    """Split a date that opens a paragraph ("فبراير ۲۰، ۲۰۲٤اتخذت روسيا") from its text."""
    found = _find_date(text[:60])
    if found is None or text[: found.start].strip():
        return None
    after = text[found.end :]
    # "7 أكتوبر 2023 كان يوما ..." is a sentence about a date: a dateline is glued to its
    # text or set off by a dash or colon.
    if after[:1].isspace() and after.lstrip()[:1] not in ("-", "–", "—", ":", "|"):
        return None
    rest = after.lstrip(" -–—:|،,")
    return (found.iso, rest) if rest else None


# --------------------------------------------------------------------------------------------
# Outlets

_OUTLET_ALIASES: dict[str, tuple[str, ...]] = {
    "الجزيرة": ("الجزيرة نت", "الجزيرة.نت", "الجزيرة مباشر", "Al Jazeera", "Aljazeera",
                "AJArabic", "aljazeera.net"),
    "فرانس24": ("فرانس 24", "France 24", "france24.com"),
    "رويترز": ("Reuters",),
    "أ ف ب": ("أ.ف.ب", "فرانس برس", "فرانس بريس", "وكالة فرانس برس", "AFP", "AFPar",
              "Agence France-Presse"),
    "أسوشيتد برس": ("أسوشيتدبرس", "أسوشييتد برس", "AP", "Associated Press"),
    "بي بي سي عربي": ("بي بي سي", "بي بي سي نيوز عربي", "BBC", "BBC Arabic", "BBCArabic",
                      "BBC News عربي"),
    "العربية": ("العربية نت", "العربية.نت", "Al Arabiya", "AlArabiya", "alarabiya.net"),
    "سكاي نيوز عربية": ("سكاي نيوز", "Sky News Arabia", "skynewsarabia"),
    "الشرق الأوسط": ("Asharq Al-Awsat", "aawsat"),
    "روسيا اليوم": ("آر تي", "آر تي عربي", "RT", "RT Arabic", "RTarabic", "arabic.rt.com"),
    "الأناضول": ("وكالة الأناضول", "Anadolu", "Anadolu Agency", "aa_arabic"),
    "سبوتنيك": ("سبوتنيك عربي", "Sputnik", "sputnik_ar", "sputnikarabic"),
    "CNN بالعربية": ("سي إن إن", "سي ان ان", "CNN", "CNN Arabic", "cnnarabic"),
    "الأهرام": ("بوابة الأهرام", "الأهرام أونلاين", "Ahram", "Al-Ahram", "ahram.org.eg"),
    "تاس": ("TASS",),
    "دويتشه فيله": ("DW", "DW عربية", "dw_arabic", "Deutsche Welle"),
    "يورونيوز": ("يورونيوز عربي", "Euronews"),
    "الحرة": ("قناة الحرة", "Alhurra"),
    "العربي الجديد": ("Al-Araby Al-Jadeed", "alaraby"),
    "القدس العربي": ("Al-Quds Al-Arabi", "alquds"),
    "الميادين": ("Al Mayadeen", "almayadeen"),
    "وفا": ("WAFA",),
    "إندبندنت عربية": ("اندبندنت عربية", "Independent Arabia"),
    "عربي21": ("عربي 21", "Arabi21"),
    "TRT عربي": ("TRT Arabi", "TRT"),
    "إرم نيوز": ("Erem News", "eremnews"),
    "المصري اليوم": ("Almasry Alyoum",),
    "اليوم السابع": ("Youm7",),
}  # fmt: skip
_OUTLETS = {
    _compact(alias): name
    for name, aliases in _OUTLET_ALIASES.items()
    for alias in (name, *aliases)
}
# "وكالات" and the like say an article was compiled from wires without naming one.
_GENERIC_SOURCES = frozenset(_compact(s) for s in ("وكالات", "مواقع", "متابعات", "agencies"))
# A body sentence names an outlet as the article's own only with one of these before it.
_ATTRIBUTION = re.compile(
    rf"{_NOT_LETTER_BEFORE}ل?(?:مراسل|مراسله|مراسلو|قناه|صحيفه|وكاله|موقع|شبكه)"
    r"\s*(?:انباء\s*)?[«“\"'(]?\s*(?P<outlet>"
    + "|".join(
        re.escape(_fold(alias)).replace(r"\ ", r"\s*")
        for alias in sorted(
            (a for name, aliases in _OUTLET_ALIASES.items() for a in (name, *aliases)),
            key=len,
            reverse=True,
        )
    )
    + rf"){_NOT_LETTER_AFTER}"
)
_ATTRIBUTION_HINT = re.compile("مراسل|قنا[ةه]|صحيف[ةه]|وكال[ةه]|موقع|شبك[ةه]")
_SOURCE_LINE = re.compile(
    r"(?:المصدر|المصادر|مصدر|source|sources)\s*[:：]\s*(?P<value>.*)", re.IGNORECASE
)
_OUTLET_HEADER = re.compile(r"(?P<value>[^:：]{1,40}?)\s*[:：]")
_LIST_SEPARATORS = re.compile(r"\s*[/|،,+]\s*|\s+[-–—]\s+")


def _outlet_named(text: str) -> str | None:
    """Return the canonical name of the outlet that `text` names (a name, handle or host)."""
    text = text.strip().strip("()[]«»“”\"'").strip()
    if text.startswith("@"):
        text = text[1:]
    if name := _OUTLETS.get(_compact(text)):
        return name
    if "." in text and " " not in text:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
        for label in host.split("."):
            if name := _OUTLETS.get(_compact(label)):
                return name
    return None


def outlet_named(text: str) -> str | None:
    """Return the canonical name of a known outlet named by `text` (name, handle or host)."""
    return _outlet_named(text)


def _source_line(text: str) -> tuple[bool, str | None]:
    """Read a line like "المصدر: الجزيرة": (is it one, the outlet it names)."""
    match = _SOURCE_LINE.fullmatch(text)
    if match is None:
        return False, None
    value = match["value"].strip().rstrip(".")
    if len(value.split()) > 8:
        return False, None
    for part in _LIST_SEPARATORS.split(value):
        if name := _outlet_named(part):
            return True, name
    if not value or "/" in value or _compact(value) in _GENERIC_SOURCES:
        return True, None
    # An outlet missing from the table is still the one the page names.
    return True, value


def _signature_outlet(text: str) -> str | None:
    """Read a line made only of outlet names ("فرانس24/ رويترز/ أ ف ب"); the first wins."""
    if len(text) > 120:
        return None
    header = _OUTLET_HEADER.fullmatch(text)
    parts = [header["value"]] if header else _LIST_SEPARATORS.split(text.strip("()[] "))
    parts = [p for p in parts if p.strip()]
    names = [_outlet_named(p) for p in parts]
    if not names or len(names) > 6:
        return None
    if all(n or _compact(p) in _GENERIC_SOURCES for n, p in zip(names, parts, strict=True)):
        return next((n for n in names if n), None)
    return None


# --------------------------------------------------------------------------------------------
# Boilerplate


def _keys(*phrases: str) -> frozenset[str]:
    return frozenset(_key(p) for p in phrases)


_READ_ALSO = _keys("اقرأ أيضا", "اقرأ كذلك", "إقرأ أيضاً", "read also", "also read")
_RELATED = _keys(
    "مقالات ذات صلة", "مقالات مشابهة", "مقالات متعلقة", "أخبار ذات صلة", "أخبار متعلقة",
    "مواضيع ذات صلة", "موضوعات ذات صلة", "ذات صلة", "قد يهمك أيضا", "قد يعجبك أيضا",
    "اقرأ المزيد", "اظهر المزيد", "عرض المزيد", "المزيد من الأخبار", "الأكثر قراءة",
    "شاهد أيضا", "طالع أيضا", "related", "related articles", "read more", "more stories",
)  # fmt: skip
_BOILERPLATE = _keys(
    "مصدر الخبر", "رابط الخبر", "رابط المصدر", "اترك تعليقاً", "اترك تعليق", "اترك رداً",
    "أضف تعليق", "أضف تعليقاً", "التعليقات", "إلغاء الرد", "إرسال التعليق",
    "زر الذهاب إلى الأعلى", "الذهاب إلى الأعلى", "العودة إلى الأعلى", "إلى الأعلى",
    "back to top", "إغلاق", "إعلان", "إعلانات", "advertisement", "close", "شارك",
    "شارك الخبر", "شارك المقال", "شاركها", "مشاركة", "share", "طباعة", "print",
    "نسخ الرابط", "تم نسخ الرابط", "النص العربي", "الترجمة", "الترجمة العربية",
    "النص الكامل", "نص الفيديو", "transcript", "تابعونا", "المصدر", "المصادر",
)  # fmt: skip
_BOILERPLATE_PREFIXES = tuple(
    _keys(
        "لن يتم نشر عنوان بريدك الإلكتروني", "الحقول الإلزامية مشار إليها",
        "جميع الحقوق محفوظة", "حقوق النشر محفوظة", "copyright", "all rights reserved",
    )
)  # fmt: skip
# An inline link to another story ("اقرأ أيضاالصين تعلن ...") starts with these.
_TEASER_PREFIXES = tuple(_READ_ALSO | _keys("شاهد أيضا", "طالع أيضا"))
_READING_TIME = re.compile(
    r"(?:(?:وقت|مده)? ?(?:ال)?قراءه )?\d+ (?:دقائق|دقيقه|دقيقتان|دقيقتين|min|mins|minutes?)"
    r"(?: (?:للقراءه|قراءه|read|reading))?"
)
_SHARE_CALL = re.compile(
    r"(?:^| )(?:(?:شاركوا|شارك|انشروا|انشر|اعيدوا نشر)(?: هذا| هذه)? (?:ال)?"
    r"(?:فيديو|مقطع|مقال|خبر|منشور|رابط|تقرير)|(?:اشتركوا|اشترك) (?:في|ب) ?"
    r"(?:قناتنا|القناه|قناه|صفحتنا|النشره))"
)
_SOCIAL_TRIGGERS = _keys(
    "فيسبوك", "فيس بوك", "تويتر", "واتساب", "واتس اب", "تيليجرام", "تلغرام", "تلجرام",
    "انستغرام", "انستجرام", "يوتيوب", "لينكدإن", "تيك توك", "facebook", "twitter", "x",
    "whatsapp", "telegram", "instagram", "youtube", "linkedin", "tiktok", "messenger",
    "email", "شارك", "شاركها", "مشاركة", "تابعونا", "تابعنا", "تابعوا", "share", "follow",
)  # fmt: skip
_SOCIAL_WORDS = frozenset(
    word for phrase in _SOCIAL_TRIGGERS for word in phrase.split()
) | _keys(
    "على", "عبر", "في", "للمزيد", "المزيد", "البريد", "الإلكتروني", "نسخ", "الرابط",
    "us", "on", "via", "more", "link", "copy",
)  # fmt: skip
_SOCIAL_TRIGGER_WORDS = frozenset(
    word for phrase in _SOCIAL_TRIGGERS for word in phrase.split() if len(word) > 2
) | {"x"}
# Section names that sites print as navigation ("آخر الأخبارأخبار دولية", "آسياأخبار العالم").
_SECTION_WORDS = _keys(
    "آخر", "الأخبار", "أخبار", "عاجل", "دولية", "الدولية", "محلية", "عربية", "عربي",
    "العالم", "عالمية", "سياسة", "السياسة", "اقتصاد", "الاقتصاد", "رياضة", "الرياضة",
    "منوعات", "ثقافة", "فن", "صحة", "علوم", "تكنولوجيا", "تقارير", "تحقيقات", "آراء",
    "رأي", "مقالات", "الرئيسية", "رئيسية", "الصفحة", "آسيا", "أوروبا", "أفريقيا",
    "إفريقيا", "أمريكا", "الأمريكتين", "الشرق", "الأوسط", "الخليج", "فيديو", "home",
    "news", "world", "politics", "middle", "east",
)  # fmt: skip
_SEPARATOR_ONLY = re.compile(r"[^\w]*")
_BULLET = re.compile(r"(?:[•·▪●◦‣*+\-–])\s+(?P<text>.*)")


class _Role(Enum):
    CONTENT = auto()
    DROP = auto()
    OUTLET = auto()  # a structural outlet line: header, "المصدر:" or signature
    HANDLE = auto()  # handles and hashtags only; may name the outlet
    DATE = auto()
    TIMESTAMP = auto()  # a machine timestamp a scraper stamped on the page
    RELATED = auto()  # opens a list of other stories' headlines
    READ_ALSO = auto()  # opens a "read also" story, or a list like RELATED


class _Rule(NamedTuple):
    role: _Role
    value: str | None = None
    updated: bool = False


def _classify(text: str) -> _Rule:
    """Say what one (tidied) line of a page is, from the line alone."""
    # Every rule below is about a short line or about how a line begins.
    key = _key(text[:_LINE_HEAD_CHARS])
    if not key:
        return _Rule(_Role.DROP)
    if key in _READ_ALSO:
        return _Rule(_Role.READ_ALSO)
    if key in _RELATED:
        return _Rule(_Role.RELATED)
    if key in _BOILERPLATE or key.startswith(_TEASER_PREFIXES + _BOILERPLATE_PREFIXES):
        return _Rule(_Role.DROP)
    if "©" in text and len(text) <= 120:
        return _Rule(_Role.DROP)
    if len(text) <= 40 and _TIMESTAMP.fullmatch(_fold(text)):
        return _Rule(_Role.TIMESTAMP, parse_date(text))
    if date_line := _date_line(text):
        return _Rule(_Role.DATE, date_line.iso, date_line.updated)
    if _READING_TIME.fullmatch(key):
        return _Rule(_Role.DROP)
    tokens = text.split()
    if all(t.startswith(("#", "@")) for t in tokens):
        handles = (_outlet_named(t) for t in tokens if t.startswith("@"))
        return _Rule(_Role.HANDLE, next((h for h in handles if h), None))
    words = key.split()
    if set(words) <= _SOCIAL_WORDS and not _SOCIAL_TRIGGER_WORDS.isdisjoint(words):
        return _Rule(_Role.DROP)
    if len(text) <= 200 and _SHARE_CALL.search(key):
        return _Rule(_Role.DROP)
    if len(key) <= 80 and len(words) <= 8 and all(map(_is_section_token, words)):
        return _Rule(_Role.DROP)
    is_source, outlet = _source_line(text)
    if is_source:
        return _Rule(_Role.OUTLET, outlet) if outlet else _Rule(_Role.DROP)
    if outlet := _signature_outlet(text):
        return _Rule(_Role.OUTLET, outlet)
    return _Rule(_Role.CONTENT)


def _is_section_token(token: str) -> bool:
    """Say whether a token is one or more section names glued together."""
    # reachable[i]: token[:i] splits into section names.
    reachable = [True] + [False] * len(token)
    for end in range(1, len(token) + 1):
        reachable[end] = any(
            reachable[start] and token[start:end] in _SECTION_WORDS for start in range(end)
        )
    return reachable[-1]


def _is_prose(text: str) -> bool:
    """Say whether a line reads as running text rather than a headline."""
    return bool(_SENTENCE_END.search(text)) or len(text.split()) >= 25


def _looks_like_title(text: str) -> bool:
    return (
        len(text) <= 160
        and len(text.split()) <= 30
        and not re.search(r"[.:،,؛;…][\"'”»)\]]*$", text)
    )


# --------------------------------------------------------------------------------------------
# Parsing a page

_MD_HEADING = re.compile(r"#{1,6}\s+(?P<text>.*?)(?:\s+#+)?")
_MD_QUOTE = re.compile(r"(?:>\s?)+")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[(?P<text>[^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_LINK_DEFINITION = re.compile(r"\[[^\]]+\]:\s+\S+.*")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(?P<text>.+?)(?<=\S)\1")


@dataclass(frozen=True)
class _Line:
    text: str
    number: int  # in the page: lines with consecutive numbers belong to one paragraph
    bullet: bool = False
    heading: bool = False


@dataclass
class _Story:
    """The lines of one story on a page, as the page is read."""

    title: str | None = None  # a "read also" story's headline
    lines: list[_Line] = field(default_factory=list)
    dates: list[_DateLine] = field(default_factory=list)


@dataclass(frozen=True)
class _FrontMatter:
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None


def parse_text(text: str, file: str) -> list[Article]:
    """Parse the text of one source file (named by its relative path) into its articles."""
    front, rest = _split_front_matter(text.removeprefix("\ufeff").splitlines())
    markdown = PurePosixPath(file).suffix.lower() in _MARKDOWN_SUFFIXES
    return _parse_page(rest, file, front, markdown=markdown)


def parse_page(
    text: str,
    file: str,
    *,
    title: str | None = None,
    source: str | None = None,
    date: str | None = None,
    url: str | None = None,
) -> list[Article]:
    """Parse page text whose title, outlet, date or url were read elsewhere (HTML tags).

    A given title is the main story's own, so the text's first line is not taken for it
    (and is dropped only if it repeats it), unlike a front matter title.
    """
    front = _FrontMatter(title=title, source=source, date=date, url=url)
    return _parse_page(text.splitlines(), file, front, markdown=False, title_known=True)


def _parse_page(
    rest: list[str], file: str, front: _FrontMatter, *, markdown: bool, title_known: bool = False
) -> list[Article]:
    # Tidied only after the front matter is off: YAML needs its indentation.
    page = clean_display("\n".join(rest)).split("\n")
    lines = list(_page_lines(page, markdown=markdown))
    stories, outlets, timestamp = _read_page(lines)
    if title_known and front.title:
        stories[0].title = front.title
    # The outlet is the page's: it applies to every story on it.
    source = front.source or _choose_outlet(outlets, stories)
    base = PurePosixPath(file).with_suffix("").as_posix()
    articles: list[Article] = []
    for index, story in enumerate(stories):
        built = _build_story(story)
        if built is None:
            continue
        title, body, date = built
        if index == 0:
            # A scraper's timestamp dates the page, so at best the main story, and only when
            # the story carries no date of its own; a "read also" story never borrows it.
            date = date or timestamp
        if not articles:
            title = front.title or title
            date = front.date or date
        part = len(articles)
        articles.append(
            Article(
                id=base if part == 0 else f"{base}#{part}",
                file=file,
                title=title,
                text=body,
                source=source,
                date=date,
                url=front.url,
                part=part,
            )
        )
    if not articles:
        raise ArticleFormatError("no article text after removing boilerplate")
    return articles


def _split_front_matter(lines: list[str]) -> tuple[_FrontMatter, list[str]]:
    """Take a leading `---` YAML block off the lines and read the keys Sanad uses."""
    if not lines or lines[0].strip() != "---":
        return _FrontMatter(), lines
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise ArticleFormatError("front matter is not valid YAML: no closing '---' line")
    block = "\n".join(lines[1:end])
    if len(block) > _MAX_FRONT_MATTER_CHARS:
        raise ArticleFormatError("front matter is not valid YAML: longer than 64 kB")
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise ArticleFormatError(f"front matter is not valid YAML: {problem}{where}") from None
    except (ValueError, RecursionError) as exc:
        # PyYAML builds dates itself: "2024-02-31" fails as a ValueError, not a YAMLError.
        raise ArticleFormatError(f"front matter is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ArticleFormatError(
            f"front matter is not valid YAML: expected 'key: value' lines, "
            f"got a {type(data).__name__}"
        )
    return _front_matter(data), lines[end + 1 :]


def _front_matter(data: Mapping[object, object]) -> _FrontMatter:
    # Only these keys are read: a key naming a path is never followed to another file.
    fields = {str(k).strip().lower(): v for k, v in data.items()}
    title = _scalar(fields.get("title"))
    source = _scalar(fields.get("source")) or _scalar(fields.get("outlet"))
    url = _scalar(fields.get("url"))
    if url and urlsplit(url).scheme.lower() not in ("http", "https"):
        logger.info("ignoring front matter url that is not http(s): %s", url)
        url = None
    raw_date = fields.get("date")
    if isinstance(raw_date, dt.datetime):
        date: str | None = raw_date.date().isoformat()
    elif isinstance(raw_date, dt.date):
        date = raw_date.isoformat()
    else:
        text = _scalar(raw_date)
        date = parse_date(text) if text else None
        if text and date is None:
            logger.info("ignoring front matter date that is not a full date: %s", text)
    return _FrontMatter(
        title=title,
        source=(_outlet_named(source) or source) if source else None,
        date=date,
        url=url,
    )


def _scalar(value: object) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return clean_display(str(value)).replace("\n", " ").strip() or None
    return None


def _page_lines(page: list[str], *, markdown: bool) -> Iterator[_Line]:
    """Yield the lines of a tidied page that hold words, numbered as in the page."""
    for number, raw in enumerate(page):
        text, heading, bullet = raw, False, False
        if markdown:
            text, heading, bullet = _strip_markdown(raw)
        elif match := _BULLET.fullmatch(raw):
            bullet = bool(match["text"])
        # Blank lines and rules ("---", "* * *") only separate paragraphs.
        if not _SEPARATOR_ONLY.fullmatch(text):
            yield _Line(text, number, bullet=bullet, heading=heading)


def _strip_markdown(text: str) -> tuple[str, bool, bool]:
    """Return a Markdown line as plain text, and whether it was a heading or a list item."""
    heading = bullet = False
    if _MD_LINK_DEFINITION.fullmatch(text):
        return "", False, False
    text = _MD_QUOTE.sub("", text, count=1) if text.startswith(">") else text
    if match := _MD_HEADING.fullmatch(text):
        text, heading = match["text"], True
    elif match := _BULLET.fullmatch(text):
        text, bullet = match["text"], True
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: m["text"], text)
    text = _MD_EMPHASIS.sub(lambda m: m["text"], text)
    return " ".join(text.split()), heading, bullet


def _read_page(lines: list[_Line]) -> tuple[list[_Story], list[tuple[int, int, str]], str | None]:
    """Sort a page's lines into stories; collect outlet clues and the scrape timestamp.

    An outlet clue is (rank, line index, name): rank 1 for a structural line (header,
    "المصدر:", signature), 2 for a social handle.
    """
    stories = [_Story()]
    outlets: list[tuple[int, int, str]] = []
    timestamp: str | None = None
    rules = [_classify(line.text) for line in lines]
    in_list = False  # inside a list of other stories' headlines
    index = 0
    while index < len(lines):
        line, rule = lines[index], rules[index]
        story = stories[-1]
        if in_list and rule.role is _Role.CONTENT:
            if line.bullet or not _is_prose(line.text):
                index += 1
                continue
            in_list = False
        match rule.role:
            case _Role.CONTENT:
                story.lines.append(line)
            case _Role.OUTLET | _Role.HANDLE:
                if rule.value:
                    outlets.append((1 if rule.role is _Role.OUTLET else 2, index, rule.value))
            case _Role.DATE:
                if rule.value:
                    story.dates.append(_DateLine(rule.value, rule.updated))
            case _Role.TIMESTAMP:
                timestamp = timestamp or rule.value
            case _Role.RELATED:
                in_list = True
            case _Role.READ_ALSO:
                if _opens_story(lines, rules, index):
                    stories.append(_Story(title=lines[index + 1].text))
                    index += 1
                else:
                    in_list = True
        index += 1
    return stories, outlets, timestamp


def _opens_story(lines: list[_Line], rules: list[_Rule], marker: int) -> bool:
    """Say whether a "read also" marker is followed by a headline and then running text."""
    headline = marker + 1
    if headline >= len(lines) or rules[headline].role is not _Role.CONTENT:
        return False
    if lines[headline].bullet or not _looks_like_title(lines[headline].text):
        return False
    for line, rule in zip(lines[headline + 1 :], rules[headline + 1 :], strict=True):
        if rule.role in (_Role.DROP, _Role.DATE, _Role.TIMESTAMP):
            continue
        return rule.role is _Role.CONTENT and not line.bullet and _is_prose(line.text)
    return False


def _choose_outlet(outlets: list[tuple[int, int, str]], stories: list[_Story]) -> str | None:
    """Pick the outlet: structural lines first, then handles, then attributions in the text."""
    if outlets:
        return min(outlets)[2]
    for story in stories:
        for line in story.lines:
            if not _ATTRIBUTION_HINT.search(line.text):
                continue  # folding every line of a long page is the costly part
            if match := _ATTRIBUTION.search(_fold(line.text)):
                return _outlet_named(line.text[match.start("outlet") : match.end("outlet")])
    return None


def _build_story(story: _Story) -> tuple[str, str, str | None] | None:
    """Return a story's title, body and date, or None when no text is left."""
    lines = story.lines
    title = story.title
    if title is None and lines:
        opening = lines[0]
        if opening.heading or (len(lines) > 1 and _looks_like_title(opening.text)):
            title = opening.text
            lines = lines[1:]
    if title is not None:
        # Pages often print the headline twice; the copy is not body text.
        title_key = _key(title)
        lines = [
            line
            for line in lines
            if len(line.text) > 2 * len(title) or _key(line.text) != title_key
        ]
    opening_date = None
    if lines and (split := _leading_date(lines[0].text)):
        opening_date, rest = split
        lines = [replace(lines[0], text=rest), *lines[1:]]
    body = _join_paragraphs(lines)
    if not body:
        return None
    if title is None:
        title = _title_from_text(body)
    dates = sorted(story.dates, key=lambda d: d.updated)  # a publication date beats an update
    date = dates[0].iso if dates else opening_date
    return title, body, date


def _join_paragraphs(lines: list[_Line]) -> str:
    """Join lines into paragraphs; a removed line between two lines also ends a paragraph."""
    paragraphs: list[list[str]] = []
    previous = -2
    for line in lines:
        if line.number != previous + 1:
            paragraphs.append([])
        paragraphs[-1].append(line.text)
        previous = line.number
    return "\n\n".join("\n".join(p) for p in paragraphs).strip()


def _title_from_text(body: str) -> str:
    """Make a title from the first sentence of a body, cut at a word boundary."""
    first_line = body.split("\n", 1)[0]
    match = re.match(r"(.+?[.!?؟؛…])(?=\s|$)", first_line)
    sentence = (match[1] if match else first_line).rstrip(".؛ ")
    if len(sentence) <= _TITLE_MAX_CHARS:
        return sentence
    cut = sentence[: _TITLE_MAX_CHARS - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ،,:؛-–") + "…"
