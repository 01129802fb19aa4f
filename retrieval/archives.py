"""Archive formats to `Article`s: saved HTML pages and JSON Lines dumps.

A newsroom's archive rarely comes as plain text. This module reads the two other formats a
source folder may hold and hands what it finds to the rules of `retrieval.articles`, so
that every format ends in the same `Article`s, the same reasons and the same limits.

- `.html` / `.htm`: trafilatura (this module is its one home) finds the main text; the
  title, outlet, date and url come from the page's tags, with the page's visible dateline
  as a fallback. The text then goes through the `.txt` rules: furniture lines are dropped
  and a "read also" story becomes its own article. Nothing is ever fetched: trafilatura
  and htmldate are given the decoded page, never a URL.
- `.jsonl`: one article per line (`title`, `text`, and optionally `source`, `date`, `url`).
  A dump is clean text written by a program, so only whitespace is tidied: no boilerplate
  rules and no story splitting, which could only remove real sentences. A bad line is
  reported by its number and the other lines are indexed.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from lxml import etree
from trafilatura.settings import Document

from retrieval.articles import (
    SkippedFile,
    outlet_named,
    parse_date,
    parse_dateline,
    parse_page,
)
from retrieval.errors import ArticleFormatError
from retrieval.models import Article
from retrieval.normalize import clean_display

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# HTML pages

# The HTML standard looks for a <meta charset> in the first 1024 bytes; pages written by
# hand put it later, so a little more is read.
_CHARSET_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""\A\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([\w.:-]+)""", re.I)
# Browsers read a page labelled Latin-1 or ASCII as windows-1252, and one labelled UTF-16
# without a byte order mark as UTF-8: markup that spells the label out in ASCII is not UTF-16.
_BROWSER_CODECS = {"latin-1": "cp1252", "ascii": "cp1252", "utf-16": "utf-8", "utf-32": "utf-8"}
_FRAGMENT_HINT = re.compile(r"<(?:html|body|head)\b", re.I)
# Only the markup is searched for a date: htmldate's search of the whole text takes a
# copyright year for 1 January, or a date from a list of other stories.
_DATE_SEARCH = {"extensive_search": False, "original_date": True}
# Elements whose text a reader never sees as part of the page.
_INVISIBLE = frozenset(
    {"head", "script", "style", "noscript", "template", "svg", "iframe", "select", "button"}
)
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "section", "table", "td", "th",
        "tr", "ul",
    }
)  # fmt: skip
# A line with fewer words is a headline, a byline or a caption rather than the first paragraph.
_PARAGRAPH_MIN_WORDS = 8
# Marks where an inline element starts or ends while the page's visible lines are read.
_PART_EDGE = "\x1f"
# Title suffixes like " | الجزيرة نت" or " - سكاي نيوز عربية".
_TITLE_SUFFIX = re.compile(r"^(?P<title>.+\S)\s+[|\-–—·•»:]{1,2}\s+(?P<outlet>[^|]{1,60})$")
# Elements of trafilatura's output that start a new line inside a paragraph.
_LINE_ELEMENTS = frozenset({"lb", "list", "item", "row", "p", "head", "quote", "code"})


def parse_html(data: bytes, file: str) -> list[Article]:
    """Read a saved HTML page into its articles: main text, title, outlet, date, url."""
    page = _decode_html(data)
    if not _FRAGMENT_HINT.search(page[:_CHARSET_SNIFF_BYTES]):
        # trafilatura refuses a bare fragment ("<p>...</p>") as not a document.
        page = f"<html><body>{page}</body></html>"
    tree = trafilatura.load_html(page)
    if tree is None:
        raise ArticleFormatError("not an HTML page (no markup could be parsed)")
    extracted = trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params=_DATE_SEARCH,
    )
    if not isinstance(extracted, Document) or not (body := _main_text(extracted.body)):
        raise ArticleFormatError("no article text found in the HTML page")
    site_name = _meta(tree, "og:site_name")
    url = _page_url(tree)
    source = _page_outlet(site_name, extracted.sitename, url)
    title = _page_title(tree, (site_name, source))
    date = _markup_date(extracted.date) or _visible_date(tree, body, title)
    return parse_page(body, file, title=title, source=source, date=date, url=url)


def _decode_html(data: bytes) -> str:
    """Decode a page as a browser would: byte order mark, then the declared charset, then UTF-8."""
    if not data:
        raise ArticleFormatError("empty file")
    if not data.strip():
        raise ArticleFormatError("empty file (only whitespace)")
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(data, "utf-8-sig", "UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(data, "utf-16", "UTF-16")
    if b"\x00" in data:
        raise ArticleFormatError("binary file (contains NUL bytes)")
    head = data[:_CHARSET_SNIFF_BYTES]
    found = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if found is None:
        return _decode_as(data, "utf-8", "UTF-8", hint=" and declares no charset")
    label = found[1].decode("ascii", "replace")
    try:
        name = codecs.lookup(label).name
    except LookupError:
        raise ArticleFormatError(f"declares an unknown charset ({label!r})") from None
    codec = next((c for prefix, c in _BROWSER_CODECS.items() if name.startswith(prefix)), name)
    if codec == "cp1252":
        # The five bytes windows-1252 leaves undefined are C1 controls in Latin-1.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return _decode_as(data, codec, label)


def _decode_as(data: bytes, codec: str, label: str, *, hint: str = "") -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ArticleFormatError(
            f"not {label.upper()} text (byte 0x{data[exc.start]:02x} at offset {exc.start}){hint}"
        ) from None


def _main_text(body: Any) -> str:
    """Render trafilatura's main text as page text: a blank line between paragraphs.

    List items become "- " lines, as a scraped `.txt` page shows them, so that the `.txt`
    rules know a list of other stories' headlines when they see one.
    """
    if body is None:
        return ""
    paragraphs = []
    for block in body:
        if not isinstance(block.tag, str) or block.tag == "graphic":
            continue
        lines = (" ".join(line.split()) for line in _element_text(block).split("\n"))
        paragraphs.append("\n".join(line for line in lines if line))
    return "\n\n".join(p for p in paragraphs if p)


def _element_text(element: Any) -> str:
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag != "graphic":
            text = _element_text(child)
            if child.tag == "item":
                text = f"- {text.strip()}"
            elif child.tag == "cell" and child.getprevious() is not None:
                text = f" | {text}"
            parts.append(f"\n{text}\n" if child.tag in _LINE_ELEMENTS else text)
        parts.append(child.tail or "")
    return "".join(parts)


def _meta(tree: Any, name: str) -> str | None:
    """Return the first non-empty `<meta property|name=name content>` of the page."""
    for value in tree.xpath("//meta[@property=$n or @name=$n]/@content", n=name):
        text = _one_line(str(value))
        if text:
            return text
    return None


def _one_line(text: str | None) -> str:
    return " ".join(clean_display(text).split()) if text else ""


def _page_url(tree: Any) -> str | None:
    """Return the page's own address (canonical link, then og:url) when it is http(s)."""
    links = tree.xpath("//link[@rel='canonical']/@href")
    for candidate in [*(str(link) for link in links), _meta(tree, "og:url")]:
        if not candidate:
            continue
        parts = urlsplit(candidate.strip())
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return candidate.strip()
    return None


def _page_outlet(site_name: str | None, sitename: str | None, url: str | None) -> str | None:
    """Name the outlet: a known outlet in og:site_name, the page's other tags or its host.

    An unknown og:site_name is kept as written; trafilatura's other guesses (a host name, a
    capitalised handle) only count when the outlet table knows them.
    """
    for clue in (site_name, sitename, url):
        if clue and (name := outlet_named(clue)):
            return name
    return site_name


def _page_title(tree: Any, outlets: tuple[str | None, ...]) -> str | None:
    """Return the page's title (og:title, <title>, then <h1>) without a " | Outlet" suffix.

    Only an outlet is cut off: a headline may itself hold a dash or a colon, and
    trafilatura's own title, cut at the first one, would lose half of it.
    """
    title = (
        _meta(tree, "og:title")
        or _meta(tree, "twitter:title")
        or _first_text(tree, "//title[not(ancestor::svg)]")
        or _first_text(tree, "//h1")
    )
    if not title:
        return None
    match = _TITLE_SUFFIX.match(title)
    if match:
        tail = match["outlet"].strip()
        named = {o.casefold() for o in outlets if o}
        if outlet_named(tail) or tail.casefold() in named:
            return match["title"]
    return title


def _first_text(tree: Any, path: str) -> str | None:
    for element in tree.xpath(path):
        if text := _one_line(element.text_content()):
            return text
    return None


def _markup_date(value: str | None) -> str | None:
    return parse_date(value) if value else None


def _visible_date(tree: Any, body: str, title: str | None) -> str | None:
    """Return the dateline printed above the main text (under the headline, as a reader sees).

    Only lines before the first paragraph are read: dates further down belong to other
    stories' teasers or to the copyright notice. The nearest publication date wins, then
    the nearest update.
    """
    opening = _opening(body, title)
    published: str | None = None
    updated: str | None = None
    for line, pieces in _visible_lines(tree):
        if opening and opening in line:
            return published or updated
        # A byline row often sets its parts side by side in <span>s ("نشر في: ..." beside
        # "آخر تحديث: ..."): each part is read alone first, then the row as a whole.
        dates = [found for piece in pieces if (found := parse_dateline(piece))]
        if not dates and (found := parse_dateline(line)):
            dates = [found]
        for iso, is_update in dates:
            if is_update:
                updated = iso
            else:
                published = iso
    return None  # the main text was not found on the page: no line is known to be above it


def _opening(body: str, title: str | None) -> str:
    """Return the start of the main text's first paragraph, to find it on the page."""
    for raw in body.split("\n"):
        line = _one_line(raw)
        # The main text may start with the headline or the byline: neither is a paragraph.
        words = len(line.split())
        if words >= _PARAGRAPH_MIN_WORDS and line != title and not parse_dateline(line):
            return line[:40]
    return ""


def _visible_lines(tree: Any) -> Iterator[tuple[str, list[str]]]:
    """Yield the page's visible lines in document order, each with its inline elements' parts.

    A block element (a paragraph, a heading, a list item, a <div>) makes its own line; the
    parts of a line are split where any inline element (<span>, <a>, <time>) starts or ends.
    """
    parts: list[str] = []
    walk = etree.iterwalk(tree, events=("start", "end"))
    for event, element in walk:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        edge = "\n" if tag in _BLOCKS else _PART_EDGE
        if event == "start":
            parts.append(edge)
            if not tag or tag in _INVISIBLE:
                walk.skip_subtree()
            elif element.text:
                parts.append(element.text)
        else:
            parts.append(edge)
            if element.tail:
                parts.append(element.tail)
    for raw in "".join(parts).split("\n"):
        if line := _one_line(raw.replace(_PART_EDGE, "")):
            pieces = [piece for p in raw.split(_PART_EDGE) if (piece := _one_line(p))]
            yield line, pieces if len(pieces) > 1 else []


# --------------------------------------------------------------------------------------------
# JSON Lines dumps


def parse_jsonl(text: str, file: str) -> tuple[list[Article], list[SkippedFile]]:
    """Read a dump of one JSON article per line; return its articles and its bad lines.

    A line's article id is the file's id with `#L` and the line number: it stays the same
    when other lines are edited or appended, as a dump grows.
    """
    base = PurePosixPath(file).with_suffix("").as_posix()
    articles: list[Article] = []
    bad: list[SkippedFile] = []
    # Not `splitlines`: JSON strings may hold U+2028 and other separators unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        try:
            articles.append(_jsonl_article(line, file, f"{base}#L{number}", where))
        except ArticleFormatError as exc:
            bad.append(SkippedFile(where, str(exc), line=number))
    if not articles:
        first = bad[0]
        raise ArticleFormatError(
            f"no article on any line ({len(bad)} bad; line {first.line}: {first.reason})"
        )
    return articles, bad


def _jsonl_article(line: str, file: str, article_id: str, where: str) -> Article:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArticleFormatError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise ArticleFormatError(f"invalid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ArticleFormatError(f"not a JSON object (a {_json_type(record)})")
    title = _one_line(_required(record, "title"))
    body = clean_display(_required(record, "text")).strip()
    if not title:
        raise ArticleFormatError("empty 'title'")
    if not body:
        raise ArticleFormatError("empty 'text'")
    source = _one_line(_optional(record, "source", where)) or None
    raw_date = _one_line(_optional(record, "date", where))
    date = parse_date(raw_date) if raw_date else None
    if raw_date and date is None:
        logger.warning("%s: date %r is not a full date; indexed without a date", where, raw_date)
    url = _one_line(_optional(record, "url", where)) or None
    if url and urlsplit(url).scheme.lower() not in ("http", "https"):
        logger.warning("%s: url %r is not http(s); indexed without a url", where, url)
        url = None
    return Article(
        id=article_id,
        file=file,
        title=title,
        text=body,
        source=(outlet_named(source) or source) if source else None,
        date=date,
        url=url,
    )


def _required(record: dict[str, Any], key: str) -> str:
    if key not in record or record[key] is None:
        raise ArticleFormatError(f"missing {key!r}")
    value = record[key]
    if not isinstance(value, str):
        raise ArticleFormatError(f"{key!r} is not a string (a {_json_type(value)})")
    return value


def _optional(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    logger.warning("%s: ignoring %r, which is a %s, not a string", where, key, _json_type(value))
    return None


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
