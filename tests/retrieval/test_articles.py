"""Reading source files into Articles: dates, boilerplate, outlets, parts, and bad files."""

from __future__ import annotations

import codecs
import hashlib
import os
from pathlib import Path

import pytest

from retrieval.articles import (
    LoadResult,
    SkippedFile,
    load_folder,
    parse_date,
    parse_file,
    parse_text,
)
from retrieval.errors import ArticleFormatError
from retrieval.models import Article

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

TITLE = "روسيا تستضيف محادثات الفصائل الفلسطينية في موسكو"
BEFORE = "قالت مصادر دبلوماسية إن المحادثات ستبدأ الأسبوع المقبل في موسكو."
AFTER = "وأضافت المصادر أن الوفود ستصل تباعا إلى العاصمة الروسية."


def only_article(text: str, file: str = "page.txt") -> Article:
    articles = parse_text(text, file)
    assert len(articles) == 1, [a.title for a in articles]
    return articles[0]


def page(*lines: str) -> str:
    return "\n\n".join(lines)


# --------------------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Formats found in the seeds.
        ("نشرت في: 27/10/2023 – 16:40", "2023-10-27"),
        ("تاريخ النشر: 16th, February 2024 GMT", "2024-02-16"),
        ("قسم العلاقات الدولية 23/10/2024", "2024-10-23"),
        ("فبراير ۲۰، ۲۰۲٤اتخذت روسيا خطوة", "2024-02-20"),
        ("2025-03-20@01:50:08 GMT", "2025-03-20"),
        ("2025-03-20", "2025-03-20"),
        # Day month year, with the month named the Egyptian, Levantine or English way.
        ("20 فبراير 2024", "2024-02-20"),
        ("20 شباط 2024", "2024-02-20"),
        ("20 فبراير/شباط 2024", "2024-02-20"),
        ("29 شباط/ فبراير 2024", "2024-02-29"),
        ("20 من فبراير 2024", "2024-02-20"),
        ("5 كانون الثاني 2024", "2024-01-05"),
        ("10 آذار 2020", "2020-03-10"),
        ("10 نيسان 2020", "2020-04-10"),
        ("3 أيار 2022", "2022-05-03"),
        ("9 حزيران 2021", "2021-06-09"),
        ("10 تموز 2020", "2020-07-10"),
        ("3 آب 2022", "2022-08-03"),
        ("10 أيلول 2020", "2020-09-10"),
        ("1 تشرين الأول 2023", "2023-10-01"),
        ("1 تشرين ألأول 2023", "2023-10-01"),
        ("12 تشرين الثاني 2023", "2023-11-12"),
        ("5 كانون الأول 2023", "2023-12-05"),
        ("10 ماي 2020", "2020-05-10"),
        ("10 مايو 2020", "2020-05-10"),
        ("10 يونيه 2020", "2020-06-10"),
        ("10 يوليه 2020", "2020-07-10"),
        ("10 اغسطس 2020", "2020-08-10"),
        ("10 أغسطس 2020", "2020-08-10"),
        ("20 Feb 2024", "2024-02-20"),
        ("السبت 5 أكتوبر 2024 - 10:00", "2024-10-05"),
        # Month day, year.
        ("February 20, 2024", "2024-02-20"),
        ("Feb. 20, 2024", "2024-02-20"),
        ("March 3rd 2024", "2024-03-03"),
        ("حزيران/يونيو 9، 2021", "2021-06-09"),
        # Arabic-Indic digits, and numeric dates that can only be month first.
        ("٢٧/١٠/٢٠٢٣", "2023-10-27"),
        ("٢٠ فبراير ٢٠٢٤", "2024-02-20"),
        ("10/13/2024", "2024-10-13"),
        ("2024/02/20", "2024-02-20"),
        ("29/02/2024", "2024-02-29"),
        # A Hijri date beside the Gregorian one: only the Gregorian one is a calendar date.
        ("6 شعبان 1445 هـ الموافق 16 فبراير 2024", "2024-02-16"),
        # Not dates, or not full ones.
        ("31/02/2024", None),
        ("29/02/2023", None),
        ("13/13/2024", None),
        ("29 فبراير/شباط الجاري", None),
        ("ستمتد حتى 1 أو 2 من مارس/آذار المقبل", None),
        ("فبراير 2024", None),
        ("1445/08/06", None),
        ("ممارسة 5 2024", None),
        ("قتل 1400 شخص في 7 هجمات", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


# --------------------------------------------------------------------------------------------
# Boilerplate


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        # Navigation and page furniture.
        ("آخر الأخبارأخبار دولية", False),
        ("آسياأخبار العالم", False),
        ("الرئيسية > أخبار > العالم", False),
        ("5 دقائق", False),
        ("وقت القراءة: 3 دقائق", False),
        ("مصدر الخبر", False),
        ("للمزيد Facebook", False),
        ("فيسبوك تويتر واتساب", False),
        ("تابعونا على تيليجرام", False),
        ("شارك", False),
        ("اترك تعليقاً", False),
        ("لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *", False),
        ("زر الذهاب إلى الأعلى", False),
        ("إغلاق", False),
        ("إعلان", False),
        ("جميع الحقوق محفوظة © 2024", False),
        ("مقالات ذات صلة", False),
        ("اظهر المزيد", False),
        # Date and byline lines (their date is kept as metadata).
        ("نشرت في: 27/10/2023 – 16:40", False),
        ("تاريخ النشر: 16th, February 2024 GMT", False),
        ("قسم العلاقات الدولية 23/10/2024", False),
        ("آخر تحديث: 20/02/2024 10:15", False),
        ("2025-03-20@01:50:08 GMT", False),
        # Source, signature and social lines (their outlet is kept as metadata).
        ("المصدر: الجزيرة", False),
        ("فرانس24/ رويترز/ أ ف ب", False),
        ("@france24", False),
        ("#FreeGaza #Palestine #غزة", False),
        ("إذا كنتم تدافعون عن الحقيقة والعدالة، شاركوا هذا الفيديو لنشر المعرفة.", False),
        ("النص العربي:", False),
        ("اقرأ أيضاالصين تعلن استعدادها للتنسيق مع روسيا", False),
        # Body text that merely contains those words.
        ("وأضاف المصدر أن الوفد سيصل غدا إلى موسكو.", True),
        ("المصدر الدبلوماسي قال إن الاجتماع سيعقد بحضور جميع الفصائل.", True),
        ("وقال المتحدث إن المجلس الأعلى للأمن القومي سيجتمع مساء اليوم.", True),
        ("وصعد الجنود إلى الأعلى من المبنى بعد القصف.", True),
        ("وقال مراسل الجزيرة إن الغارة استهدفت مدرسة تابعة للأونروا.", True),
        ("وشارك في الاجتماع ممثلون عن الفصائل الفلسطينية.", True),
        ("ونشرت الصحيفة في 20/02/2024 تقريرا مطولا عن الزيارة.", True),
        ("في 7 أكتوبر 2023 هاجمت حماس مواقع إسرائيلية، وفق الجيش الإسرائيلي.", True),
        ("أخبار العالم العربي تتصدر اهتمام القراء هذا الأسبوع.", True),
        ("وأعلنت الوزارة أن 5 دقائق كانت كافية لإخلاء المبنى.", True),
        ("إعلان موسكو المشترك يدعو إلى وقف فوري لإطلاق النار.", True),
        ("مذيع الأخبار: من المقرر أن تجتمع الفصائل الفلسطينية في موسكو.", True),
        ("رفع حدة التوتر… “أمر سيء جدا”", True),
        ("• البند الأول من الاتفاق يتعلق بتبادل الأسرى.", True),
    ],
)
def test_boilerplate_line_is_removed_or_kept(line: str, kept: bool) -> None:
    article = only_article(page(TITLE, BEFORE, line, AFTER))
    assert (line in article.text) is kept
    # Removing a line never ends the story around it.
    assert article.text.startswith(BEFORE)
    assert article.text.endswith(AFTER)


def test_related_list_after_its_heading_is_removed() -> None:
    text = page(
        TITLE,
        BEFORE,
        "مقالات مشابهة",
        "  • لم نغلق باب التفاوض..حماس مستعدة لمحادثات جديدة\n  • حماس تنعى عددا من قادتها",
        "الفصائل الفلسطينية تنعى قادة منها",
    )
    article = only_article(text)
    assert article.text == BEFORE


# --------------------------------------------------------------------------------------------
# Outlets


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["الجزيرة:", TITLE, BEFORE], "الجزيرة"),
        ([TITLE, BEFORE, "المصدر: الجزيرة"], "الجزيرة"),
        ([TITLE, BEFORE, "المصدر: وكالة سبق"], "وكالة سبق"),
        ([TITLE, BEFORE, "المصدر: وكالات"], None),
        ([TITLE, BEFORE, "المصدر: https://www.aljazeera.net/news/2024/2/16/x"], "الجزيرة"),
        ([TITLE, BEFORE, "فرانس24/ رويترز/ أ ف ب"], "فرانس24"),
        ([TITLE, BEFORE, "(رويترز)"], "رويترز"),
        ([TITLE, BEFORE, "Reuters - AFP"], "رويترز"),
        ([TITLE, BEFORE, "@AJArabic"], "الجزيرة"),
        ([TITLE, BEFORE, "@france24", "المصدر: العربية"], "العربية"),
        ([TITLE, "قال مراسل الجزيرة إن الغارة استهدفت مدرسة."], "الجزيرة"),
        ([TITLE, "قال مراسل الجزيرة إن الغارة استهدفت مدرسة.", "رويترز"], "رويترز"),
        ([TITLE, "ويوضح مراسل قناة “فرانس 24 ” أن روسيا تريد دورا."], "فرانس24"),
        # Outlet names used as ordinary words are not attributions.
        ([TITLE, "دعت روسيا اليوم الجمعة قادة الفصائل إلى موسكو."], None),
        ([TITLE, "تسعى روسيا لتعزيز نفوذها في الشرق الأوسط."], None),
        ([TITLE, "أكدت الرئاسة العربية للقمة دعمها للمحادثات."], None),
    ],
)
def test_outlet(lines: list[str], expected: str | None) -> None:
    assert only_article(page(*lines)).source == expected


# --------------------------------------------------------------------------------------------
# Titles, paragraphs, parts


def test_page_without_title_line_takes_its_first_sentence() -> None:
    text = (
        "أعلنت روسيا أنها دعت قادة الفصائل الفلسطينية إلى موسكو. "
        "وقال نائب وزير الخارجية إن المناقشات ستمتد يومين."
    )
    article = only_article(text)
    assert article.title == "أعلنت روسيا أنها دعت قادة الفصائل الفلسطينية إلى موسكو"
    assert article.text == text


def test_title_from_a_long_sentence_is_cut_at_a_word() -> None:
    sentence = " ".join(["وأوضح المسؤول أن الوفود الفلسطينية ستصل تباعا"] * 8) + "."
    article = only_article(sentence)
    assert len(article.title) <= 120
    assert article.title.endswith("…")
    assert sentence.startswith(article.title.removesuffix("…"))
    assert sentence[len(article.title) - 1] == " "


def test_paragraphs_and_line_breaks_are_kept() -> None:
    article = only_article(f"{TITLE}\n\n\n{BEFORE}\nسطر ثان من الفقرة نفسها.\n\n\n\n{AFTER}\n")
    assert article.text == f"{BEFORE}\nسطر ثان من الفقرة نفسها.\n\n{AFTER}"


def test_spaces_and_invisible_marks_are_tidied_but_letters_kept() -> None:
    article = only_article(f"{TITLE}\n\n\u200fوقال\u00a0الوزيرُ   «نحن هنا».\u200b  ")
    assert article.text == "وقال الوزيرُ «نحن هنا»."


def test_markdown_heading_is_the_title_and_markers_are_stripped() -> None:
    text = (
        "# اجتماع الفصائل في موسكو\n\n"
        "> قال **بوغدانوف** إن [الاجتماع](https://example.com/a) سيعقد قريبا.\n\n"
        "## خلفية\n\n"
        "- بدأت الحرب في *أكتوبر* الماضي.\n"
    )
    article = only_article(text, "notes/meeting.md")
    assert article.title == "اجتماع الفصائل في موسكو"
    assert article.text == (
        "قال بوغدانوف إن الاجتماع سيعقد قريبا.\n\nخلفية\n\nبدأت الحرب في أكتوبر الماضي."
    )
    assert article.id == "notes/meeting"


def test_read_also_story_becomes_its_own_part() -> None:
    text = page(
        "الجزيرة:",
        TITLE,
        "تاريخ النشر: 16th, February 2024 GMT",
        BEFORE,
        "إقرأ أيضاً:",
        "حماس تدعو الوسطاء للتدخل",
        "نشرت في: 20/03/2025 – 10:00",
        "دعت حركة حماس الوسطاء إلى التدخل فورا.",
        "مقالات مشابهة",
        "  • خبر آخر لا علاقة له",
    )
    first, second = parse_text(text, "news/page.txt")
    assert (first.id, first.part, first.title, first.date) == ("news/page", 0, TITLE, "2024-02-16")
    assert first.text == BEFORE
    assert (second.id, second.part) == ("news/page#1", 1)
    assert second.title == "حماس تدعو الوسطاء للتدخل"
    assert second.text == "دعت حركة حماس الوسطاء إلى التدخل فورا."
    assert second.date == "2025-03-20"
    assert second.source == first.source == "الجزيرة"


def test_read_also_story_never_borrows_a_date() -> None:
    text = page(
        "2025-03-20@01:50:08 GMT",
        TITLE,
        BEFORE,
        "اقرأ أيضا",
        "حماس تدعو الوسطاء للتدخل",
        "دعت حركة حماس الوسطاء إلى التدخل فورا.",
    )
    first, second = parse_text(text, "page.txt")
    # The scrape timestamp is the only date on the page: good enough for the main story only.
    assert first.date == "2025-03-20"
    assert second.date is None


def test_read_also_heading_over_a_list_is_boilerplate() -> None:
    text = page(TITLE, BEFORE, "اقرأ أيضا", "• خبر أول عن غزة\n• خبر ثان عن موسكو")
    assert only_article(text).text == BEFORE


def test_glued_opening_date_is_taken_off_the_text() -> None:
    article = only_article(f"{TITLE}\nفبراير ۲۰، ۲۰۲٤اتخذت روسيا خطوة جديدة.")
    assert article.date == "2024-02-20"
    assert article.text == "اتخذت روسيا خطوة جديدة."


def test_sentence_opening_with_a_date_is_left_whole() -> None:
    text = "7 أكتوبر 2023 كان يوما فاصلا في الحرب."
    article = only_article(page(TITLE, text))
    assert article.text == text
    assert article.date is None


# --------------------------------------------------------------------------------------------
# Front matter


def test_front_matter_overrides_what_is_inferred() -> None:
    text = (
        "---\n"
        "title: عنوان من الترويسة\n"
        "source: Reuters\n"
        "date: 2024-02-20\n"
        "url: https://example.com/news/1\n"
        "include: /etc/passwd\n"
        "---\n" + page("الجزيرة:", TITLE, "نشرت في: 27/10/2023 – 16:40", BEFORE)
    )
    article = only_article(text)
    assert (article.title, article.source, article.date, article.url) == (
        "عنوان من الترويسة",
        "رويترز",
        "2024-02-20",
        "https://example.com/news/1",
    )
    assert article.text == BEFORE


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("date: 20/02/2024", "2024-02-20"),
        ("date: '16th, February 2024'", "2024-02-16"),
        ("date: 2024-02-20T10:15:00Z", "2024-02-20"),
        ("date: قريبا", "2023-10-27"),
    ],
)
def test_front_matter_date_formats(field: str, expected: str) -> None:
    text = f"---\n{field}\n---\n" + page(TITLE, "نشرت في: 27/10/2023 – 16:40", BEFORE)
    assert only_article(text).date == expected


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "../other/file.txt", "ftp://x.org/a"]
)
def test_front_matter_url_must_be_http(url: str) -> None:
    text = f"---\nurl: '{url}'\n---\n" + page(TITLE, BEFORE)
    assert only_article(text).url is None


def test_front_matter_url_applies_to_every_part_and_title_to_the_first() -> None:
    text = "---\nurl: https://example.com/a\ntitle: عنوان\n---\n" + page(
        TITLE, BEFORE, "اقرأ أيضا", "خبر ثان", "نص الخبر الثاني كاملا."
    )
    first, second = parse_text(text, "page.txt")
    assert first.url == second.url == "https://example.com/a"
    assert (first.title, second.title) == ("عنوان", "خبر ثان")


@pytest.mark.parametrize(
    "front",
    [
        "---\ntitle: [unclosed\n---\n",
        "---\n- a\n- b\n---\n",
        "---\njust a sentence\n---\n",
        "---\ndate: 2024-02-31\n---\n",
        "---\ntitle: no end\n",
    ],
)
def test_broken_front_matter_is_an_error(front: str) -> None:
    with pytest.raises(ArticleFormatError, match="front matter is not valid YAML"):
        parse_text(front + page(TITLE, BEFORE), "page.md")


def test_page_of_boilerplate_only_is_an_error() -> None:
    with pytest.raises(ArticleFormatError, match="no article text after removing boilerplate"):
        parse_text(page("آخر الأخبارأخبار دولية", "5 دقائق", "زر الذهاب إلى الأعلى"), "x.txt")


# --------------------------------------------------------------------------------------------
# The seed pages


@pytest.fixture(scope="module")
def seeds() -> LoadResult:
    return load_folder(SEEDS)


@pytest.fixture(scope="module")
def seed_articles(seeds: LoadResult) -> dict[str, Article]:
    return {article.id: article for article in seeds.articles}


def test_seeds_load_as_six_articles(seeds: LoadResult) -> None:
    assert seeds.skipped == []
    assert len(seeds.articles) == 6
    assert sorted(seeds.files) == sorted(p.name for p in SEEDS.glob("*.txt"))
    for name, digest in seeds.files.items():
        assert digest == hashlib.sha256((SEEDS / name).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("article_id", "part", "title", "source", "date"),
    [
        (
            "000_66a249f8971aa960",
            0,
            "روسيا تدعو الفصائل الفلسطينية إلى محادثات في غمرة توتر مع إسرائيل",
            None,
            None,
        ),
        (
            "001_373f44fd59baddba",
            0,
            "الكرملين يدافع عن قرار دعوة وفد من حماس غداة لقاء مسؤولين من الحركة"
            " وقياديين إيرانيين بموسكو",
            "فرانس24",
            "2023-10-27",
        ),
        (
            "002_27a3148d552c7d9d",
            0,
            "روسيا تدعو قادة الفصائل الفلسطينية لمحادثات بموسكو",
            "الجزيرة",
            "2024-02-16",
        ),
        (
            "002_27a3148d552c7d9d#1",
            1,
            "حماس تدعو الوسطاء للتدخل فورا لكبح جرائم الاحتلال بغزة",
            "الجزيرة",
            None,
        ),
        (
            "003_67f142e8dd789aaa",
            0,
            "يدعو بوتين حماس لإجراء محادثات في موسكو بينما تتخذ الحرب منحىً عالميًّا",
            "فرانس24",
            "2024-02-20",
        ),
        (
            "004_f34d176aa109b3d9",
            0,
            "وفد من «حماس» يصل موسكو لبحث سبل وقف الحرب في غزة وتعزيز الجهود الدبلوماسية",
            None,
            "2024-10-23",
        ),
    ],
)
def test_seed_metadata(
    seed_articles: dict[str, Article],
    article_id: str,
    part: int,
    title: str,
    source: str | None,
    date: str | None,
) -> None:
    article = seed_articles[article_id]
    assert (article.part, article.title, article.source, article.date) == (
        part,
        title,
        source,
        date,
    )
    assert article.file == article_id.split("#")[0] + ".txt"
    assert article.url is None
    # The headline is the title, not a line of the body (002 prints it twice).
    assert title not in article.text


def test_seed_002_stories_do_not_mix(seed_articles: dict[str, Article]) -> None:
    main = seed_articles["002_27a3148d552c7d9d"].text
    also = seed_articles["002_27a3148d552c7d9d#1"].text
    assert "155 شهيدا" in also
    assert "الأونروا" not in main
    assert "بوغدانوف" not in also
    assert main.endswith("ورفضها المعلن إقامة دولة فلسطينية.")
    assert also.startswith("دعت حركة المقاومة الإسلامية (حماس) الوسطاء الضامنين")
    assert also.endswith("وهو ما ترفضه حماس.")


def test_seed_003_body_starts_after_its_glued_date(seed_articles: dict[str, Article]) -> None:
    assert seed_articles["003_67f142e8dd789aaa"].text.startswith("اتخذت روسيا خطوة أكثر جدية")


BOILERPLATE_PHRASES = [
    "آخر الأخبارأخبار دولية",
    "آسياأخبار العالم",
    "نشرت في",
    "5 دقائق",
    "تاريخ النشر",
    "2025-03-20@",
    "قسم العلاقات الدولية",
    "مصدر الخبر",
    "للمزيد Facebook",
    "مقالات ذات صلة",
    "مقالات مشابهة",
    "اترك تعليق",
    "بريدك الإلكتروني",
    "زر الذهاب إلى الأعلى",
    "اظهر المزيد",
    "فرانس24/ رويترز",
    "المصدر: الجزيرة",
    "الجزيرة:",
    "إقرأ أيضاً",
    "اقرأ أيضا",
    "@france24",
    "#FreeGaza",
    "شاركوا هذا الفيديو",
    "النص العربي:",
    "•",
    "لم نغلق باب التفاوض",
    "هاني الفيومي",
]
# Words that are also ordinary body words ("إغلاق المعابر"): only a whole line is boilerplate.
BOILERPLATE_LINES = {"إغلاق", "إعلان"}


def test_no_boilerplate_survives_in_seed_bodies(seeds: LoadResult) -> None:
    for article in seeds.articles:
        found = [phrase for phrase in BOILERPLATE_PHRASES if phrase in article.text]
        assert found == [], article.id
        assert BOILERPLATE_LINES.isdisjoint(article.text.splitlines()), article.id


@pytest.mark.parametrize(
    ("article_id", "sentence"),
    [
        ("000_66a249f8971aa960", "موسكو تسعى إلى لعب دور الوسيط في أزمة غزة"),
        ("000_66a249f8971aa960", "موسكو - دعت روسيا اليوم الجمعة قادة حماس"),
        ("000_66a249f8971aa960", "وبين أن المناقشات ستمتد حتى 1 أو 2 من آذار/مارس."),
        ("000_66a249f8971aa960", 'معتبرا أن "موسكو تدعم أعداء الدولة العبرية".'),
        ("001_373f44fd59baddba", "قالت روسيا الجمعة مدافعة عن قرارها دعوة وفد من حركة حماس"),
        ("001_373f44fd59baddba", "ووصفت دعوتهم إلى موسكو بأنها “مؤسفة”."),
        ("001_373f44fd59baddba", "رفع حدة التوتر… “أمر سيء جدا”"),
        ("001_373f44fd59baddba", "هذا، وكانت قد أعلنت وزارة الخارجية الروسية أن ممثلين لإيران"),
        ("001_373f44fd59baddba", "“تصعيد غير مسبوق للصراع”"),
        ("001_373f44fd59baddba", "ولا تعتبرها “إرهابية” على عكس الولايات المتحدة."),
        ("002_27a3148d552c7d9d", "يوم 29 فبراير/شباط الجاري."),
        ("002_27a3148d552c7d9d", "وقال إن المناقشات ستمتد حتى 1 أو 2 من مارس/آذار المقبل."),
        ("002_27a3148d552c7d9d", "وندد الرئيس الروسي فلاديمير بوتين مرارا بالعدوان"),
        ("002_27a3148d552c7d9d#1", "واستُشهد 3 فلسطينيين من عائلة واحدة"),
        ("002_27a3148d552c7d9d#1", "وقال مراسل الجزيرة إن غارة إسرائيلية استهدفت"),
        ("002_27a3148d552c7d9d#1", "وأكدت أن إغلاق المعابر واستمرار العدوان"),
        ("003_67f142e8dd789aaa", "وقال اشتية: “وجهت روسيا الدعوة لكافة الفصائل الفلسطينية"),
        ("003_67f142e8dd789aaa", "والتي وصفها بوتين بأنها “إبادة جماعية”."),
        ("003_67f142e8dd789aaa", "مذيع الأخبار: من المقرر أن تجتمع الفصائل الفلسطينية"),
        ("003_67f142e8dd789aaa", "ستأتي إلى موسكو في 29 شباط/ فبراير."),
        ("003_67f142e8dd789aaa", "بوتين: هذه مهمة إنسانية نبيلة ومهمة للغاية"),
        ("004_f34d176aa109b3d9", "وصل وفد من حركة «حماس» إلى العاصمة الروسية موسكو"),
        ("004_f34d176aa109b3d9", "في الصراع الفلسطيني-الإسرائيلي."),
        ("004_f34d176aa109b3d9", "وتجنيب القطاع المزيد من الخسائر."),
    ],
)
def test_seed_news_text_survives(
    seed_articles: dict[str, Article], article_id: str, sentence: str
) -> None:
    assert sentence in seed_articles[article_id].text


def test_seed_paragraphs_are_separated_by_one_blank_line(seeds: LoadResult) -> None:
    for article in seeds.articles:
        assert article.text == article.text.strip()
        assert "\n\n\n" not in article.text
    # 001 has 28 paragraphs between its title and its signature; one is a "read also" link.
    assert seeds.articles[1].text.count("\n\n") == 26


# --------------------------------------------------------------------------------------------
# Files and folders

GOOD = page(TITLE, BEFORE, AFTER).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\r\n", "empty file (only whitespace)"),
        (b"abc\x00def", "binary file (contains NUL bytes)"),
        ("café crème".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
        (codecs.BOM_UTF8 + b"ok \xff", "not UTF-8 text (byte 0xff at offset 6)"),
        (codecs.BOM_UTF16_LE + "abc\x00".encode("utf-16-le"), "binary file (contains NUL"),
        (b"---\ntitle: [x\n---\nbody.", "front matter is not valid YAML"),
        ("زر الذهاب إلى الأعلى\nإغلاق".encode(), "no article text after removing boilerplate"),
    ],
)
def test_parse_file_refuses_bad_files(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(ArticleFormatError) as caught:
        parse_file(path, tmp_path)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        codecs.BOM_UTF8 + GOOD,
        codecs.BOM_UTF16_LE + GOOD.decode().encode("utf-16-le"),
        codecs.BOM_UTF16_BE + GOOD.decode().encode("utf-16-be"),
        GOOD.replace(b"\n", b"\r\n"),
    ],
)
def test_parse_file_reads_utf8_and_utf16_with_bom(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "good.txt"
    path.write_bytes(data)
    [article] = parse_file(path, tmp_path)
    assert (article.id, article.file, article.title) == ("sub/good", "sub/good.txt", TITLE)
    assert article.text == f"{BEFORE}\n\n{AFTER}"


def test_parse_file_reports_a_vanished_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleFormatError, match="file vanished while indexing"):
        parse_file(tmp_path / "gone.txt", tmp_path)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ArticleFormatError, match="source folder does not exist"):
        load_folder(tmp_path / "nowhere")


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    """A source folder with good files, bad files, ignored files and awkward links."""
    root = tmp_path / "articles"
    outside = tmp_path / "outside"
    for folder in (root / "sub", root / ".git", outside):
        folder.mkdir(parents=True)
    files: dict[str, bytes] = {
        "good.txt": GOOD,
        "sub/nested.txt": GOOD,
        "notes.md": b"# " + TITLE.encode() + b"\n\n" + BEFORE.encode(),
        "utf16.txt": codecs.BOM_UTF16_LE + GOOD.decode().encode("utf-16-le"),
        "empty.txt": b"",
        "blank.txt": b" \n \n",
        "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00",
        "latin1.txt": "café".encode("latin-1"),
        "big.txt": GOOD * 20,
        "broken.md": b"---\ntitle: [x\n---\n" + GOOD,
        "furniture.txt": "مقالات ذات صلة\nزر الذهاب إلى الأعلى".encode(),
        "data.json": b'{"not": "an article"}',
        "picture.png": b"\x89PNG\x00",
        ".hidden.txt": GOOD,
        ".git/config.txt": GOOD,
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (outside / "secret.txt").write_bytes(GOOD)
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    (root / "alias.txt").symlink_to(root / "good.txt")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    (root / "self.txt").symlink_to(root / "self.txt")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    return root


@pytest.fixture
def messy(messy_folder: Path) -> LoadResult:
    return load_folder(messy_folder, max_bytes=len(GOOD) * 10)


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ("empty.txt", "empty file"),
        ("blank.txt", "empty file (only whitespace)"),
        ("binary.txt", "binary file (contains NUL bytes)"),
        ("latin1.txt", "not UTF-8 text (byte 0xe9 at offset 3)"),
        ("big.txt", "too large ("),
        ("broken.md", "front matter is not valid YAML: "),
        ("furniture.txt", "no article text after removing boilerplate"),
        ("escape.txt", "symlink points outside the source folder"),
        ("escape_dir", "symlink points outside the source folder"),
        ("sub/up", "symlink loop"),
        ("self.txt", "symlink loop"),
        ("dangling.txt", "broken symlink"),
    ],
)
def test_bad_files_are_reported_by_name(messy: LoadResult, file: str, reason: str) -> None:
    reasons = {skipped.file: skipped.reason for skipped in messy.skipped}
    assert reasons[file].startswith(reason)


def test_good_files_load_beside_bad_ones(messy: LoadResult) -> None:
    assert sorted(messy.files) == [
        "alias.txt",
        "good.txt",
        "notes.md",
        "sub/nested.txt",
        "utf16.txt",
    ]
    assert [a.file for a in messy.articles] == sorted(messy.files)
    assert all(a.title == TITLE for a in messy.articles)
    # Every candidate is either read or reported; hidden and other files are neither.
    assert set(messy.files).isdisjoint(s.file for s in messy.skipped)
    assert len(messy.skipped) == 12
    assert messy.skipped == sorted(messy.skipped, key=lambda s: s.file)
    assert all(isinstance(s, SkippedFile) for s in messy.skipped)


def test_too_large_reason_names_both_sizes(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 52_400_000)
    [skipped] = load_folder(tmp_path).skipped
    assert skipped == SkippedFile("big.txt", "too large (52.4 MB > 20 MB limit)")


def test_suffixes_choose_the_files(messy_folder: Path) -> None:
    result = load_folder(messy_folder, suffixes=(".md",))
    assert sorted(result.files) == ["notes.md"]
    assert [s.file for s in result.skipped] == ["broken.md", "escape_dir", "sub/up"]


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    (tmp_path / "locked.txt").write_bytes(GOOD)
    (tmp_path / "locked.txt").chmod(0)
    [skipped] = load_folder(tmp_path).skipped
    assert skipped.reason == "cannot read file (permission denied)"
