"""Archive formats: saved HTML pages and JSON Lines dumps become the same Articles as .txt."""

from __future__ import annotations

import json
import logging
import shutil
import socket
from pathlib import Path

import pytest

from retrieval.articles import LoadResult, SkippedFile, load_folder, parse_file
from retrieval.engine import Engine
from retrieval.errors import ArticleFormatError
from retrieval.models import Article
from retrieval.settings import Settings
from tests.fakes.embedder import FakeEmbedder

ARCHIVES = Path(__file__).resolve().parents[1] / "data" / "archives"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

LEAD = (
    "قال مسؤولون في وزارة الخارجية إن جولة جديدة من المحادثات بين الجانبين ستبدأ الأسبوع "
    "المقبل في العاصمة العمانية مسقط، بعد توقف دام أكثر من ثلاثة أشهر."
)
SECOND = (
    "وأضاف المسؤولون أن الوفدين سيبحثان ملفات الأمن والتجارة والطاقة، وأن الوساطة العمانية "
    "حظيت بترحيب من الطرفين."
)


def html_page(head: str = "", body: str = "", *, charset: str = "utf-8") -> str:
    """Return a small but whole news page around `body` (the story) and `head` (its tags)."""
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="{charset}">{head}</head>'
        '<body><nav><ul><li><a href="/">الرئيسية</a></li><li><a href="/world">العالم</a></li>'
        '<li><a href="/economy">اقتصاد</a></li></ul></nav>'
        f"<main><article>{body or f'<p>{LEAD}</p><p>{SECOND}</p>'}</article></main>"
        "<footer><p>© 2023 جميع الحقوق محفوظة</p></footer></body></html>"
    )


def parse_html_text(tmp_path: Path, page: str | bytes, name: str = "page.html") -> list[Article]:
    path = tmp_path / name
    path.write_bytes(page.encode("utf-8") if isinstance(page, str) else page)
    return parse_file(path, tmp_path)


def only(articles: list[Article]) -> Article:
    assert len(articles) == 1, [a.title for a in articles]
    return articles[0]


# --------------------------------------------------------------------------------------------
# The fixture pages


@pytest.fixture(scope="module")
def archive() -> LoadResult:
    return load_folder(ARCHIVES)


@pytest.fixture(scope="module")
def by_id(archive: LoadResult) -> dict[str, Article]:
    return {a.id: a for a in archive.articles}


def test_summit_page_metadata_comes_from_its_tags(by_id: dict[str, Article]) -> None:
    article = by_id["summit"]
    assert article.file == "summit.html"
    assert article.part == 0
    # og:title without its " | الجزيرة نت" suffix; og:site_name under its canonical name.
    assert article.title == "قمة عربية طارئة في القاهرة لبحث إعادة إعمار غزة"
    assert article.source == "الجزيرة"
    assert article.date == "2025-03-04"  # article:published_time, not the later modified time
    assert article.url == "https://www.aljazeera.net/news/2025/3/4/arab-summit-cairo-gaza"


def test_summit_page_keeps_every_paragraph_verbatim(by_id: dict[str, Article]) -> None:
    text = by_id["summit"].text
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("انطلقت في العاصمة المصرية القاهرة اليوم الثلاثاء")
    assert paragraphs[-1].startswith("ومن المنتظر أن يصدر عن القمة بيان ختامي")
    # Quotes are checked later as substrings of the text: the page's characters must survive.
    assert '"الخطة العربية تضمن بقاء الفلسطينيين على أرضهم"' in text
    assert "53 مليار دولار" in text


@pytest.mark.parametrize(
    "furniture",
    [
        "الرئيسية",  # menu
        "عاجل",  # breaking-news ticker
        "فيسبوك",  # share bar
        "نسخ الرابط",
        "شارك الخبر",
        "الكلمات المفتاحية",
        "مقالات ذات صلة",  # related articles, outside and inside the story
        "وزراء الخارجية العرب يجتمعون",
        "قادة عرب يصلون إلى القاهرة",
        "الأكثر قراءة",
        "ارتفاع أسعار النفط",
        "اقرأ أيضا",  # an inline teaser of another story
        "مصر تعرض خطتها",
        "تابعونا",
        "المصدر",
        "جميع الحقوق محفوظة",  # footer
        "سياسة الخصوصية",
        "نشر في",  # the dateline is metadata, not text
        "dataLayer",  # scripts and styles
        "font-family",
    ],
)
def test_summit_page_furniture_is_gone(by_id: dict[str, Article], furniture: str) -> None:
    assert furniture not in by_id["summit"].text


def test_read_also_story_is_split_into_its_own_article(by_id: dict[str, Article]) -> None:
    main, story = by_id["read_also"], by_id["read_also#1"]
    assert (main.part, story.part) == (0, 1)
    assert main.title == "الأمم المتحدة تحذر من موجة جفاف في القرن الأفريقي"
    assert story.title == "البنك الدولي يقر تمويلا لمشروعات المياه في الصومال"
    assert story.text.startswith("أقر البنك الدولي تمويلا بقيمة 150 مليون دولار")
    assert "البنك الدولي" not in main.text
    assert "الجفاف المقبل." in main.text
    assert "الجفاف المقبل" not in story.text
    # The outlet is the page's; the date is the main story's and is never borrowed.
    assert main.source == story.source == "سكاي نيوز عربية"  # from twitter:site @skynewsarabia
    assert main.date == "2024-06-12"  # the dateline under the headline: the page has no tags
    assert story.date is None
    assert (
        main.url
        == story.url
        == "https://www.skynewsarabia.com/world/1700001-un-drought-horn-africa"
    )


def test_read_also_page_keeps_lists_quotes_and_line_breaks(by_id: dict[str, Article]) -> None:
    text = by_id["read_also"].text
    assert "- مياه الشرب النظيفة\n- الغذاء والأدوية\n- أعلاف الماشية" in text
    assert '"لم نشهد وضعا كهذا منذ عقود"، قالت المديرة الإقليمية' in text
    # A <br> inside a paragraph is a line break, not a new paragraph.
    assert "مساعدات غذائية عاجلة.\nوأضاف البرنامج" in text
    for gone in ("أخبار ذات صلة", "مجاعة تهدد الملايين", "شارك", "واتساب", "أبوظبي - سكاي"):
        assert gone not in text


# --------------------------------------------------------------------------------------------
# HTML metadata


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        pytest.param(
            '<meta property="article:published_time" content="2024-05-02T10:00:00+03:00">',
            f"<p>نشر في: 9 مايو 2024</p><p>{LEAD}</p><p>{SECOND}</p>",
            "2024-05-02",
            id="published_time beats the visible date",
        ),
        pytest.param(
            '<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "NewsArticle", "datePublished": "2024-03-01T08:00:00Z", '
            '"dateModified": "2024-03-05T08:00:00Z"}</script>',
            "",
            "2024-03-01",
            id="JSON-LD datePublished",
        ),
        pytest.param(
            "",
            f'<time datetime="2024-04-03T08:00:00+03:00">3 أبريل</time><p>{LEAD}</p>'
            f"<p>{SECOND}</p>",
            "2024-04-03",
            id="time datetime",
        ),
        pytest.param(
            "",
            f'<h1>محادثات في مسقط</h1><div class="meta"><span>آخر تحديث: 21 يناير 2024</span>'
            f"<span>تاريخ النشر: 20 يناير 2024</span></div><p>{LEAD}</p><p>{SECOND}</p>",
            "2024-01-20",
            id="visible dateline, publication before update",
        ),
        pytest.param(
            "",
            f'<p>{LEAD}</p><p>{SECOND}</p><ul class="related"><li>خبر سابق 12/01/2022</li></ul>',
            None,
            id="no date from a related list or the copyright year",
        ),
    ],
)
def test_html_date(tmp_path: Path, head: str, body: str, expected: str | None) -> None:
    article = only(parse_html_text(tmp_path, html_page(head, body)))
    assert article.date == expected
    assert article.text == f"{LEAD}\n\n{SECOND}"


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        pytest.param(
            "<title>محادثات جديدة في مسقط - سكاي نيوز عربية</title>",
            "",
            "محادثات جديدة في مسقط",
            id="title tag without its outlet",
        ),
        pytest.param(
            '<meta property="og:title" content="محادثات جديدة في مسقط | Example News">'
            '<meta property="og:site_name" content="Example News">',
            "",
            "محادثات جديدة في مسقط",
            id="og:title without an unknown site name",
        ),
        pytest.param(
            '<meta property="og:title" content="مصر - السودان: محادثات حول سد النهضة">',
            "",
            "مصر - السودان: محادثات حول سد النهضة",
            id="a dash that is not before an outlet stays",
        ),
        pytest.param(
            "",
            f"<h1>محادثات جديدة في مسقط</h1><p>{LEAD}</p><p>{SECOND}</p>",
            "محادثات جديدة في مسقط",
            id="h1 when the page has no title tags",
        ),
    ],
)
def test_html_title(tmp_path: Path, head: str, body: str, expected: str) -> None:
    article = only(parse_html_text(tmp_path, html_page(head, body)))
    assert article.title == expected
    assert article.text == f"{LEAD}\n\n{SECOND}"  # the headline is not repeated in the text


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta property="og:site_name" content="BBC News عربي">', "بي بي سي عربي"),
        ('<meta property="og:site_name" content="صحيفة الوادي">', "صحيفة الوادي"),
        ('<link rel="canonical" href="https://arabic.rt.com/world/1234-x/">', "روسيا اليوم"),
        ('<meta property="og:url" content="https://example.org/news/1">', None),
    ],
)
def test_html_outlet(tmp_path: Path, head: str, expected: str | None) -> None:
    assert only(parse_html_text(tmp_path, html_page(head))).source == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<link rel="canonical" href="https://example.org/a">'
            '<meta property="og:url" content="https://example.org/b">',
            "https://example.org/a",
        ),
        (
            '<link rel="canonical" href="/relative/path">'
            '<meta property="og:url" content="https://example.org/b">',
            "https://example.org/b",
        ),
        ('<meta property="og:url" content="javascript:alert(1)">', None),
        ("", None),
    ],
)
def test_html_url_is_the_pages_own_and_http(tmp_path: Path, head: str, expected: str) -> None:
    assert only(parse_html_text(tmp_path, html_page(head))).url == expected


# --------------------------------------------------------------------------------------------
# HTML decoding and bad pages


def test_latin1_page_with_meta_charset_decodes(tmp_path: Path) -> None:
    page = (
        '<html lang="fr"><head><meta http-equiv="Content-Type" '
        'content="text/html; charset=ISO-8859-1">'
        "<title>Sommet arabe au Caire : l'Égypte présente son plan</title></head><body>"
        '<nav><a href="/">Accueil</a> <a href="/monde">Monde</a></nav><article>'
        "<p>Le sommet arabe réuni au Caire a adopté mardi le plan égyptien de reconstruction "
        "de Gaza, évalué à 53 milliards de dollars sur cinq ans.</p>"
        "<p>Les dirigeants ont appelé la communauté internationale à participer à une "
        "conférence des donateurs prévue dans les prochaines semaines.</p>"
        "</article></body></html>"
    )
    data = page.encode("latin-1")
    article = only(parse_html_text(tmp_path, data))
    assert article.title == "Sommet arabe au Caire : l'Égypte présente son plan"
    assert "plan égyptien de reconstruction" in article.text


def test_windows_1256_arabic_page_decodes(tmp_path: Path) -> None:
    data = html_page("<title>محادثات جديدة في مسقط</title>", charset="windows-1256")
    article = only(parse_html_text(tmp_path, data.encode("cp1256")))
    assert article.title == "محادثات جديدة في مسقط"
    assert article.text == f"{LEAD}\n\n{SECOND}"


def test_byte_order_mark_beats_the_declared_charset(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + html_page(charset="windows-1256").encode("utf-8")
    assert only(parse_html_text(tmp_path, data)).text == f"{LEAD}\n\n{SECOND}"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\n", "empty file (only whitespace)"),
        (b"<html>\x00\x00</html>", "binary file (contains NUL bytes)"),
        (
            html_page().replace('<meta charset="utf-8">', "").encode("cp1256"),
            "not UTF-8 text (byte 0x",
        ),
        (html_page(charset="klingon-8").encode(), "declares an unknown charset ('klingon-8')"),
        (
            b'<html><head><meta charset="utf-8"></head><body>\xe9t\xe9</body></html>',
            "not UTF-8 text (byte 0xe9 at offset 47)",
        ),
        (
            b"<html><head><title>x</title><script>var a = 1;</script></head><body></body></html>",
            "no article text found in the HTML page",
        ),
        (
            '<html><body><nav><a href="/">الرئيسية</a> <a href="/world">العالم</a></nav>'
            "<footer>جميع الحقوق محفوظة</footer></body></html>".encode(),
            "no article text",
        ),
    ],
)
def test_bad_pages_are_refused_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(ArticleFormatError) as caught:
        parse_html_text(tmp_path, data)
    assert str(caught.value).startswith(reason)


def test_huge_and_empty_pages_are_reported_by_load_folder(tmp_path: Path) -> None:
    page = html_page()
    (tmp_path / "good.html").write_text(page, encoding="utf-8")
    (tmp_path / "huge.html").write_text(page * 1000, encoding="utf-8")
    (tmp_path / "empty.htm").write_bytes(b"")
    result = load_folder(tmp_path, max_bytes=len(page.encode()) * 10)
    assert sorted(result.files) == ["good.html"]
    reasons = {s.file: s.reason for s in result.skipped}
    assert reasons["empty.htm"] == "empty file"
    assert reasons["huge.html"].startswith("too large (")


def test_malformed_html_still_parses(tmp_path: Path) -> None:
    page = (
        "<html><head><title>محادثات جديدة في مسقط | الجزيرة نت</title><body><div class=story>"
        f"<p>{LEAD}<p>{SECOND}</span></b><div></td><p"
    )
    article = only(parse_html_text(tmp_path, page))
    assert article.title == "محادثات جديدة في مسقط"
    assert article.text == f"{LEAD}\n\n{SECOND}"


def test_bare_fragment_is_read_as_a_page(tmp_path: Path) -> None:
    article = only(parse_html_text(tmp_path, f"<p>{LEAD}</p>\n<p>{SECOND}</p>\n"))
    assert article.text == f"{LEAD}\n\n{SECOND}"


def test_html_is_read_without_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an HTML page was read with a network call")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    result = load_folder(ARCHIVES)
    assert {a.id for a in result.articles} >= {"summit", "read_also", "read_also#1"}


# --------------------------------------------------------------------------------------------
# JSON Lines dumps


def test_good_dump_lines_load_with_their_metadata(by_id: dict[str, Article]) -> None:
    first = by_id["dump#L1"]
    assert first == Article(
        id="dump#L1",
        file="dump.jsonl",
        title="السعودية تعلن عن ميزانية 2025 بعجز متوقع",
        text=(
            "أعلنت وزارة المالية السعودية، الأربعاء، ميزانية العام المالي 2025 بإنفاق يبلغ نحو "
            "1285 مليار ريال وإيرادات تقدر بنحو 1184 مليار ريال.\n\nوتوقعت الوزارة أن يبلغ "
            "العجز نحو 101 مليار ريال، أي ما يعادل 2.3 في المئة من الناتج المحلي الإجمالي."
        ),
        source="العربية",
        date="2024-11-20",
        url="https://www.alarabiya.net/aswaq/economy/2024/11/20/saudi-budget-2025",
        part=0,
    )
    second = by_id["dump#L2"]
    assert (second.source, second.date, second.url) == ("رويترز", "2024-12-03", None)
    # Whitespace is tidied (runs of spaces, CRLF); paragraphs and letters are kept.
    assert second.text.startswith("أطلق المغرب أعمال بناء محطة")
    assert "سنويا.\n\nوقال مسؤولون" in second.text
    assert by_id["dump#L7"].date == "2024-12-15"


def test_bad_dump_lines_are_reported_by_line_and_the_rest_load(archive: LoadResult) -> None:
    dump_ids = sorted(a.id for a in archive.articles if a.file == "dump.jsonl")
    assert dump_ids == ["dump#L1", "dump#L2", "dump#L5", "dump#L7"]
    assert "dump.jsonl" in archive.files
    reports = [f"{s.file}: {s.reason}" for s in archive.skipped]
    assert reports == [
        "dump.jsonl:3: invalid JSON (Expecting ',' delimiter at column 126)",
        "dump.jsonl:4: missing 'text'",
    ]
    assert [s.line for s in archive.skipped] == [3, 4]


def test_dump_line_with_an_unreadable_date_loads_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(ARCHIVES / "dump.jsonl", tmp_path)
    with caplog.at_level(logging.WARNING, logger="retrieval.archives"):
        result = load_folder(tmp_path)
    tunisia = next(a for a in result.articles if a.id == "dump#L5")
    assert (tunisia.date, tunisia.source) == (None, "فرانس24")
    assert "dump.jsonl:5: date 'الأسبوع الماضي' is not a full date" in caplog.text


def jsonl(*records: object) -> str:
    return "\n".join(
        r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records
    )


GOOD_RECORD = {"title": "محادثات جديدة في مسقط", "text": LEAD}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON (Expecting property name enclosed in double quotes"),
        ('["title", "text"]', "not a JSON object (a list)"),
        ('"just a string"', "not a JSON object (a string)"),
        ('{"text": "نص"}', "missing 'title'"),
        ('{"title": "عنوان", "text": null}', "missing 'text'"),
        ('{"title": "عنوان", "text": 42}', "'text' is not a string (a number)"),
        ('{"title": "عنوان", "text": ["نص"]}', "'text' is not a string (a list)"),
        ('{"title": "  ", "text": "نص"}', "empty 'title'"),
        ('{"title": "عنوان", "text": "\\u200f \\n "}', "empty 'text'"),
    ],
)
def test_bad_dump_line_reasons(tmp_path: Path, line: str, reason: str) -> None:
    (tmp_path / "dump.jsonl").write_text(jsonl(GOOD_RECORD, line), encoding="utf-8")
    result = load_folder(tmp_path)
    assert [a.id for a in result.articles] == ["dump#L1"]
    [skipped] = result.skipped
    assert (skipped.file, skipped.line) == ("dump.jsonl:2", 2)
    assert skipped.reason.startswith(reason)


def test_dump_with_no_good_line_is_skipped_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "dump.jsonl").write_text("{oops\n\n[1]\n", encoding="utf-8")
    result = load_folder(tmp_path)
    assert result.articles == []
    assert result.files == {}
    assert result.skipped == [
        SkippedFile(
            "dump.jsonl",
            "no article on any line (2 bad; line 1: invalid JSON "
            "(Expecting property name enclosed in double quotes at column 2))",
        )
    ]


def test_dump_line_ids_stay_when_other_lines_change(tmp_path: Path) -> None:
    records = [{"title": f"خبر رقم {n}", "text": f"{LEAD} ({n})"} for n in range(1, 4)]
    path = tmp_path / "dump.jsonl"
    path.write_text(jsonl(*records), encoding="utf-8")
    before = {a.id: a.text for a in load_folder(tmp_path).articles}
    edited = [records[0], {**records[1], "text": SECOND}, records[2], GOOD_RECORD]
    path.write_text(jsonl(*edited), encoding="utf-8")
    after = {a.id: a.text for a in load_folder(tmp_path).articles}
    assert list(after) == ["dump#L1", "dump#L2", "dump#L3", "dump#L4"]
    assert after["dump#L1"] == before["dump#L1"]
    assert after["dump#L3"] == before["dump#L3"]
    assert after["dump#L2"] == SECOND


def test_dump_bad_lines_are_listed_in_line_order(tmp_path: Path) -> None:
    lines = [GOOD_RECORD] * 8 + ["{broken", "{broken"]
    (tmp_path / "dump.jsonl").write_text(jsonl(*lines), encoding="utf-8")
    assert [s.file for s in load_folder(tmp_path).skipped] == ["dump.jsonl:9", "dump.jsonl:10"]


def test_dump_fields_are_tidied_and_checked(tmp_path: Path) -> None:
    record = {
        "title": "محادثات\nجديدة   في مسقط",
        "text": f"\ufeff{LEAD}\u2028{SECOND}",
        "source": "  Al Jazeera ",
        "date": "2024-02-16T10:00:00Z",
        "url": "ftp://example.org/x",
        "extra": {"ignored": True},
    }
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl(record).encode("utf-8") + b"\r\n")
    article = only(parse_file(path, tmp_path))
    assert article.title == "محادثات جديدة في مسقط"
    assert (article.source, article.date, article.url) == ("الجزيرة", "2024-02-16", None)
    # U+2028 inside a JSON string is part of the text, not the end of a line.
    assert LEAD in article.text
    assert SECOND in article.text


def test_parse_file_logs_the_bad_lines_of_a_dump(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_text(jsonl(GOOD_RECORD, "{broken"), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert [a.id for a in parse_file(path, tmp_path)] == ["dump#L1"]
    assert "skipped dump.jsonl:2: invalid JSON" in caplog.text


# --------------------------------------------------------------------------------------------
# A folder of every format


def test_folder_mixing_formats_loads_them_all_with_unique_ids(tmp_path: Path) -> None:
    seed = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(seed, tmp_path / seed.name)
    for fixture in ARCHIVES.iterdir():
        shutil.copy(fixture, tmp_path / fixture.name)
    # Same base name in three formats: their ids must not collide.
    (tmp_path / "same.txt").write_text(f"{LEAD}\n\n{SECOND}", encoding="utf-8")
    (tmp_path / "same.html").write_text(html_page(), encoding="utf-8")
    (tmp_path / "same.jsonl").write_text(jsonl(GOOD_RECORD, GOOD_RECORD), encoding="utf-8")

    result = load_folder(tmp_path)

    ids = [a.id for a in result.articles]
    assert len(ids) == len(set(ids))
    fixtures = ["dump.jsonl", "read_also.html", "summit.html"]
    assert sorted(result.files) == sorted(
        [seed.name, *fixtures, "same.html", "same.jsonl", "same.txt"]
    )
    assert {"same.txt", "same.html", "same.jsonl#L1", "same.jsonl#L2"} <= set(ids)
    assert {"summit", "read_also", "read_also#1", "dump#L1", seed.stem} <= set(ids)
    assert {a.file for a in result.articles} == set(result.files)
    assert [s.file for s in result.skipped] == ["dump.jsonl:3", "dump.jsonl:4"]


def test_index_reports_bad_dump_lines_and_reindexes_nothing_when_unchanged(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    shutil.copytree(ARCHIVES, source)
    settings = Settings(SANAD_DATA_DIR=tmp_path / "data", SANAD_SOURCE_DIR=source)
    engine = Engine(settings, embedder=FakeEmbedder())

    first = engine.reindex()
    assert sorted(first.added) == [
        "dump#L1", "dump#L2", "dump#L5", "dump#L7", "read_also", "read_also#1", "summit",
    ]  # fmt: skip
    # What `sanad index` prints, one line per skipped file or line.
    assert [f"skipped {s['file']}: {s['reason']}" for s in first.as_dict()["skipped"]] == [
        "skipped dump.jsonl:3: invalid JSON (Expecting ',' delimiter at column 126)",
        "skipped dump.jsonl:4: missing 'text'",
    ]
    second = engine.reindex()
    assert (second.added, second.changed, second.embedded) == ([], [], 0)
    assert len(second.unchanged) == 7
