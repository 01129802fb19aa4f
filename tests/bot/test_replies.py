"""What the bot's replies look like: escaping, direction, splitting, dates, buttons."""

from __future__ import annotations

import html

import pytest

from bot import replies
from bot.replies import FSI, PDI, RLM
from retrieval.models import Passage
from tests.bot.conftest import answer, citation
from tests.fakes.telegram_api import MAX_TEXT_LENGTH, parse_html, utf16_len


def visible(message: str) -> str:
    """The text a Telegram user sees (raises like Telegram on broken HTML)."""
    text, _ = parse_html(message)
    return text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("في Moscow اليوم", f"في {FSI}Moscow{PDI} اليوم"),
        ("قناة “France 24 ” قالت", f"قناة “{FSI}France 24{PDI} ” قالت"),
        ("راجع https://x.com/a?b=1 الآن", f"راجع {FSI}https://x.com/a?b=1{PDI} الآن"),
        ("اذكر @sanad_test_bot ثم سؤالك", "اذكر @sanad_test_bot ثم سؤالك"),
        ("أرسل /help للمساعدة", "أرسل /help للمساعدة"),
        ("عام 2024 وليس ٢٠٢٣", "عام 2024 وليس ٢٠٢٣"),
        ("نص \u202eمقلوب", "نص مقلوب"),  # stray bidi controls from a source are dropped
        ("COVID-19.", f"{FSI}COVID-19{PDI}."),
    ],
)
def test_latin_runs_are_isolated_but_mentions_and_commands_stay_clickable(
    text: str, expected: str
) -> None:
    assert replies.isolate_latin(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-20", "20 فبراير 2024"),
        ("2023-10-27", "27 أكتوبر 2023"),
        (None, "تاريخ غير مذكور"),
        ("", "تاريخ غير مذكور"),
        ("2024-13-45", "2024-13-45"),
    ],
)
def test_dates_read_the_arabic_way(value: str | None, expected: str) -> None:
    assert replies.format_date(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.2, "ثانية واحدة"), (2, "ثانيتين"), (7, "7 ثوانٍ"), (45, "45 ثانية"), (120, "120 ثانية")],
)
def test_seconds_agree_with_their_number(seconds: float, expected: str) -> None:
    assert replies.seconds_phrase(seconds) == expected


def test_answer_escapes_html_from_sources_and_keeps_it_readable() -> None:
    cite = citation(
        title='عنوان <مهم> & "جديد" من France 24',
        source="BBC & <Co>",
        url="https://example.com/a?b=1&c=<2>",
        also=("الجزيرة", "فرانس24"),
    )
    [message] = replies.answer_messages(answer("جواب فيه <script> و & [1]", [cite]))

    text = visible(message)
    assert f"جواب فيه <{FSI}script{PDI}> و & [1]" in text
    assert f"[1] {FSI}BBC & <Co{PDI}> — " in text
    assert '<مهم> & "جديد"' in text
    assert "16 فبراير 2024" in text
    assert "ونقلته أيضًا: الجزيرة، فرانس24" in text
    assert 'href="https://example.com/a?b=1&amp;c=&lt;2&gt;"' in message


def test_missing_outlet_and_date_are_named_as_missing() -> None:
    [message] = replies.answer_messages(answer(citations=[citation(source=None, date=None)]))

    assert "[1] مصدر غير مذكور — روسيا تدعو الفصائل الفلسطينية إلى محادثات — تاريخ غير مذكور" in (
        visible(message)
    )


def test_every_line_of_an_arabic_answer_reads_right_to_left() -> None:
    cite = citation(source="Reuters", title="Russia invites Palestinian factions")
    [message] = replies.answer_messages(answer("Hamas وفد يصل موسكو. [1]", [cite]))

    lines = [line for line in visible(message).split("\n") if line.strip()]
    assert all(replies.starts_rtl(line) for line in lines), lines
    assert visible(message).startswith(RLM)


def test_a_refusal_without_citations_is_just_the_refusal() -> None:
    refusal = answer("لا تجيب المصادر المتاحة عن هذا السؤال.", [], refused=True)

    [message] = replies.answer_messages(refusal)

    assert visible(message) == "لا تجيب المصادر المتاحة عن هذا السؤال."


def test_a_refusal_with_closest_articles_does_not_call_them_sources() -> None:
    refusal = answer("لا تجيب المصادر عن هذا السؤال، وأقرب ما وجدته:", [citation()], refused=True)

    [message] = replies.answer_messages(refusal)

    assert "أقرب ما وجدته في المصادر" in visible(message)
    assert "\nالمصادر\n" not in visible(message)


def test_long_answers_split_under_the_limit_at_sentence_ends() -> None:
    sentence = "وأعلن نائب وزير الخارجية عن محادثات بين الفصائل في موسكو. [1] "
    long = answer(sentence * 150, [citation(n) for n in range(1, 4)])

    parts = replies.answer_messages(long)

    assert len(parts) >= 3
    texts = [visible(part) for part in parts]
    assert all(utf16_len(text) <= MAX_TEXT_LENGTH for text in texts)
    assert all(text.rstrip().endswith(("[1]", ".")) for text in texts[:-1])
    assert "المصادر" in texts[-1]
    joined = " ".join(text.replace(RLM, "") for text in texts)
    assert joined.count("[1]") == 150 + 1


def test_splitting_never_cuts_a_tag_or_an_entity_and_reopens_open_tags() -> None:
    bold = "<b>" + "&lt;&amp;&gt; " * 2000 + "</b>"
    link = '<a href="https://x.com/?a=1&amp;b=2">' + "نص الرابط " * 600 + "</a>"

    for source in (bold, link):
        parts = replies.split_html(source)
        assert len(parts) >= 2
        for part in parts:
            text, entities = parse_html(part)  # raises on a cut tag or entity
            assert utf16_len(text) <= MAX_TEXT_LENGTH
            assert entities, "each part keeps the formatting"
        joined = "".join(visible(part).replace(RLM, "") for part in parts)
        assert joined.replace(" ", "") == html.unescape(
            source.split(">", 1)[1].rsplit("<", 1)[0]
        ).replace(" ", "")


def test_text_without_any_boundary_is_still_split() -> None:
    parts = replies.split_html("ب" * 9000)

    assert [utf16_len(visible(p)) for p in parts] == [4095, 4095, 810]


def test_emoji_count_as_two_units_toward_the_limit() -> None:
    parts = replies.split_html("😀" * 3000)

    assert all(utf16_len(visible(p)) <= MAX_TEXT_LENGTH for p in parts)
    assert len(parts) == 2


def test_passage_marks_the_quoted_sentence() -> None:
    cite = citation(quote="دعت روسيا الفصائل إلى محادثات في موسكو.")
    passage = Passage(
        "art1:0",
        "art1",
        "art1.txt",
        "عنوان",
        "مقدمة الخبر.\nدعت روسيا  الفصائل إلى محادثات في موسكو. وقال مسؤول إن <الموعد> قريب.",
        1.0,
    )

    [message] = replies.passage_messages(cite, passage)

    assert "<b><u>دعت روسيا  الفصائل إلى محادثات في موسكو.</u></b>" in message
    assert "وقال مسؤول إن <الموعد> قريب." in visible(message)
    assert visible(message).startswith("[1] الجزيرة — ")


def test_passage_gone_after_a_reindex_shows_the_saved_quote() -> None:
    [message] = replies.passage_messages(citation(), None)

    assert "لم يعد هذا المقطع موجودًا في الفهرس" in visible(message)
    assert "<blockquote>دعت روسيا الفصائل إلى محادثات في موسكو.</blockquote>" in message


def test_passage_whose_text_changed_says_so_and_shows_both() -> None:
    passage = Passage("art1:0", "art1", "art1.txt", "عنوان", "نص جديد تماما.", 1.0)

    [message] = replies.passage_messages(citation(), passage)

    assert "تغيّر نص هذا المقطع منذ الجواب" in visible(message)
    assert "نص جديد تماما." in visible(message)
    assert "دعت روسيا الفصائل" in visible(message)


def test_buttons_fit_telegram_and_round_trip() -> None:
    cites = [citation(n, source="وكالة أنباء ذات اسم عربي طويل جدا جدا") for n in (1, 2, 3, 4)]
    biggest = 10**18 - 1

    keyboard = replies.answer_keyboard(biggest, cites)

    rows = keyboard.inline_keyboard
    assert [len(row) for row in rows] == [3, 1, 2]
    data = [button.callback_data for row in rows for button in row]
    assert all(isinstance(d, str) and len(d.encode()) <= 64 for d in data)
    assert [replies.parse_button(d) for d in data if isinstance(d, str)] == [
        replies.ButtonPress("cite", biggest, 1),
        replies.ButtonPress("cite", biggest, 2),
        replies.ButtonPress("cite", biggest, 3),
        replies.ButtonPress("cite", biggest, 4),
        replies.ButtonPress("feedback", biggest, 1),
        replies.ButtonPress("feedback", biggest, 0),
    ]
    assert rows[-1][0].text == "👍 مفيد"


@pytest.mark.parametrize("data", [None, "", "x:1:1", "c:1", "c:abc:1", "c:1:1:1", "f:-1:1"])
def test_forged_button_data_is_not_understood(data: str | None) -> None:
    assert replies.parse_button(data) is None


def test_inline_buttons_are_deep_links_into_the_private_chat() -> None:
    keyboard = replies.inline_keyboard(12, [citation(1), citation(2)], "sanad_test_bot")

    urls = [b.url for b in keyboard.inline_keyboard[0]]
    assert urls == [
        "https://t.me/sanad_test_bot?start=c12_1",
        "https://t.me/sanad_test_bot?start=c12_2",
    ]
    assert replies.parse_start_payload("c12_2") == (12, 2)
    assert replies.parse_start_payload("help") is None


def test_inline_message_is_cut_to_one_message() -> None:
    long = answer("جملة عن موسكو. " * 600)

    message = replies.inline_message(long)

    assert utf16_len(visible(message)) <= MAX_TEXT_LENGTH
    assert visible(message).endswith("لقراءته كاملًا.)")


def test_a_citation_button_without_an_outlet_names_the_article() -> None:
    keyboard = replies.answer_keyboard(1, [citation(source=None, title="روسيا تدعو الفصائل")])

    assert keyboard.inline_keyboard[0][0].text == "📖 [1] روسيا تدعو الفصائل"
