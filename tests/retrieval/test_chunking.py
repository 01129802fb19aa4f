"""Sentence splitting and passages: what a quote can be and what the index stores."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from retrieval.chunking import chunk_article, sentences_in, split_sentences
from retrieval.models import Article, Chunk

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_66a249f8971aa960.txt"

CLAUSES = [
    "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو",
    "وقال المسؤول إن الدعوة شملت جميع القوى السياسية",
    "وندد الرئيس الروسي مرارا بالقصف على غزة",
    "وأكد الكرملين استعداده لدعم جهود إطلاق سراح الرهائن",
    "ورد الجيش بحرب على القطاع",
    "وأعربت وزارة الخارجية عن امتنانها بعد إطلاق سراح محتجزتين",
]


def sentences(text: str, max_chars: int = 600) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text, max_chars)]


def news_article(paragraphs: int = 6, per_paragraph: int = 3) -> Article:
    """Build an article of numbered sentences of varied length, in blank-line paragraphs."""
    blocks = []
    for p in range(paragraphs):
        lines = []
        for s in range(per_paragraph):
            n = p * per_paragraph + s
            clause = "، ".join(CLAUSES[(n + k) % len(CLAUSES)] for k in range(1 + n % 3))
            lines.append(f"{clause} في الجملة {n}{'؟' if n % 4 == 3 else '.'}")
        blocks.append(" ".join(lines))
    return Article(id="a1", file="a1.txt", title="عنوان الخبر", text="\n\n".join(blocks))


def seed_article() -> Article:
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    return Article(id="seed0", file=SEED.name, title=title.strip(), text=body.strip())


def sentences_of(article: Article, chunk: Chunk) -> list[tuple[int, int]]:
    return sentences_in(article.text, chunk.start, chunk.end)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("هل وصل الوفد؟ نعم وصل.", ["هل وصل الوفد؟", "نعم وصل."]),
        ("دعت روسيا الفصائل؛ ورفضت إسرائيل.", ["دعت روسيا الفصائل؛", "ورفضت إسرائيل."]),
        ("هل انتهت الحرب؟!  لا.", ["هل انتهت الحرب؟!", "لا."]),
        (
            "قال الوزير، في بيان، إن المحادثات مستمرة.",
            ["قال الوزير، في بيان، إن المحادثات مستمرة."],
        ),
        ("قال المسؤول: المحادثات مستمرة.", ["قال المسؤول: المحادثات مستمرة."]),
        ("بلغ النمو 3.5 بالمئة وقتل 1.400 شخص.", ["بلغ النمو 3.5 بالمئة وقتل 1.400 شخص."]),
        ('قال "لن نتراجع." ثم غادر.', ['قال "لن نتراجع."', "ثم غادر."]),
        ("قال: «لن نتراجع!» ثم غادر.", ["قال: «لن نتراجع!»", "ثم غادر."]),
        ("أعلن الوفد وصوله (إلى موسكو.) ثم غادر.", ["أعلن الوفد وصوله (إلى موسكو.)", "ثم غادر."]),
        ("السطر الأول\nالسطر الثاني", ["السطر الأول", "السطر الثاني"]),
        ("انتهى الاجتماع…ثم بدأ المؤتمر", ["انتهى الاجتماع…", "ثم بدأ المؤتمر"]),
        ("انتهى الاجتماع.وقال الوزير", ["انتهى الاجتماع.", "وقال الوزير"]),
        ("وصل د. محمد إلى موسكو.", ["وصل د. محمد إلى موسكو."]),
        ("نقلت (أ.ف.ب) عن مصدر أن الوفد وصل.", ["نقلت (أ.ف.ب) عن مصدر أن الوفد وصل."]),
        (
            "The U.S. envoy met Mr. Lavrov. Talks began!",
            ["The U.S. envoy met Mr. Lavrov.", "Talks began!"],
        ),
        ("  مسافات  \n\n  حول الجمل.  ", ["مسافات", "حول الجمل."]),
        ("***\nنص الخبر.\n- - -", ["نص الخبر."]),
        ("1. دعت روسيا الفصائل.\n2. رفضت إسرائيل.", ["1. دعت روسيا الفصائل.", "2. رفضت إسرائيل."]),
        ("قتل 12 شخصا عام 2024. وأصيب 30.", ["قتل 12 شخصا عام 2024.", "وأصيب 30."]),
        ("", []),
        (" \n\n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "هل وصل الوفد؟ نعم.\n\n  قال: «لن نتراجع.» ثم غادر… وانتهى.  ",
        seed_article().text,
        news_article().text,
    ],
)
def test_sentence_spans_map_back_into_the_text(text: str) -> None:
    spans = split_sentences(text)
    assert spans
    for (_, end), (next_start, _) in pairwise(spans):
        assert end <= next_start
    for start, end in spans:
        assert text[start:end] == text[start:end].strip()
        assert text[start:end]


def test_an_over_long_sentence_is_cut_after_a_comma() -> None:
    text = "، ".join(CLAUSES * 3) + "."
    pieces = sentences(text, max_chars=200)
    assert len(pieces) > 1
    assert all(len(piece) <= 200 for piece in pieces)
    assert all(piece.endswith("،") for piece in pieces[:-1])
    assert " ".join(pieces) == text


def test_an_over_long_sentence_without_commas_is_cut_between_words() -> None:
    text = " ".join(CLAUSES * 3).replace("،", "") + "."
    spans = split_sentences(text, max_chars=150)
    assert len(spans) > 1
    for start, end in spans:
        assert end - start <= 150
        assert start == 0 or text[start - 1] == " "
        assert end == len(text) or text[end] == " "


def test_a_single_word_longer_than_the_limit_is_kept_whole() -> None:
    # The one documented way a piece exceeds max_chars: there is nowhere to cut it.
    url = "https://example.com/" + "a" * 80
    assert sentences(f"المصدر {url} متاح", max_chars=40) == ["المصدر", url, "متاح"]


def test_sentences_in_finds_the_sentences_of_a_passage() -> None:
    text = "الجملة الأولى. الجملة الثانية؟ الجملة الثالثة؛ الجملة الرابعة."
    start = text.index("الجملة الثانية")
    end = text.index(" الجملة الرابعة")
    spans = sentences_in(text, start, end)
    assert [text[s:e] for s, e in spans] == ["الجملة الثانية؟", "الجملة الثالثة؛"]


@pytest.mark.parametrize("max_chars", [150, 300, 700])
@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_chunks_are_exact_ordered_and_cover_every_sentence(max_chars: int, overlap: int) -> None:
    article = news_article()
    chunks = chunk_article(article, max_chars=max_chars, overlap=overlap)

    assert [chunk.id for chunk in chunks] == [f"a1:{i}" for i in range(len(chunks))]
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.article_id == "a1"
        assert chunk.text == article.text[chunk.start : chunk.end]
        assert len(chunk.text) <= max_chars
    # Each passage starts and ends later than the one before: none repeats only old text.
    for before, after in pairwise(chunks):
        assert before.start < after.start
        assert before.end < after.end
    sentence_spans = split_sentences(article.text, min(max_chars, 600))
    for start, end in sentence_spans:
        assert any(c.start <= start and end <= c.end for c in chunks), article.text[start:end]


def test_neighbouring_chunks_share_one_sentence() -> None:
    article = news_article()
    chunks = chunk_article(article, max_chars=400, overlap=1)
    assert len(chunks) > 2
    for before, after in pairwise(chunks):
        shared = set(sentences_of(article, before)) & set(sentences_of(article, after))
        assert len(shared) == 1
        assert sentences_of(article, after)[0] == sentences_of(article, before)[-1]


def test_without_overlap_chunks_do_not_share_text() -> None:
    chunks = chunk_article(news_article(), max_chars=400, overlap=0)
    for before, after in pairwise(chunks):
        assert before.end < after.start


def test_chunks_prefer_to_end_at_a_paragraph() -> None:
    first = "دعت روسيا قادة الفصائل إلى محادثات في موسكو. وقال المسؤول إن الدعوة شملت الجميع."
    second = "وندد الرئيس الروسي بالقصف. وأكد الكرملين استعداده للوساطة."
    article = Article(id="p", file="p.txt", title="", text=f"{first}\n\n{second}")
    chunks = chunk_article(article, max_chars=2 * len(first), overlap=0)
    assert [chunk.text for chunk in chunks] == [first, second]


def test_the_last_chunk_adds_new_text_even_when_overlap_does_not_fit() -> None:
    text = f"جملة قصيرة. {CLAUSES[0]}، {CLAUSES[1]}. {CLAUSES[3]}، {CLAUSES[5]}."
    article = Article(id="o", file="o.txt", title="", text=text)
    chunks = chunk_article(article, max_chars=140, overlap=1)
    assert chunks[-1].end == len(text)
    assert chunks[-1].start > chunks[-2].start
    assert chunks[-1].text.startswith(CLAUSES[3])


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_an_empty_article_has_no_chunks(text: str) -> None:
    assert chunk_article(Article(id="e", file="e.txt", title="عنوان", text=text)) == []


def test_the_title_is_not_part_of_any_chunk() -> None:
    article = Article(id="t", file="t.txt", title="عنوان لا يتكرر", text="نص الخبر. وجملة ثانية.")
    chunks = chunk_article(article)
    assert [chunk.text for chunk in chunks] == ["نص الخبر. وجملة ثانية."]


@pytest.mark.parametrize(("max_chars", "overlap"), [(0, 1), (700, -1)])
def test_chunk_article_rejects_impossible_sizes(max_chars: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"max_chars|overlap"):
        chunk_article(news_article(), max_chars=max_chars, overlap=overlap)


def test_a_seed_article_gives_a_few_chunks_of_a_few_sentences() -> None:
    article = seed_article()
    chunks = chunk_article(article)

    assert 3 <= len(chunks) <= 10
    assert chunks[0].text.startswith("موسكو تسعى إلى لعب دور الوسيط")
    assert chunks[-1].text.endswith('أعداء الدولة العبرية".')
    for chunk in chunks:
        assert chunk.text == article.text[chunk.start : chunk.end]
        assert len(chunk.text) <= 700
        assert 1 <= len(sentences_of(article, chunk)) <= 4
        assert article.title not in chunk.text
    # The quoted "terrorist" label stays inside its sentence, with the full stop after it.
    quotable = [article.text[s:e] for c in chunks for s, e in sentences_of(article, c)]
    assert any(q.endswith('منظمتين "إرهابيتين".') for q in quotable)
