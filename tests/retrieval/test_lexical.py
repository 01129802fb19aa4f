"""The lexical index: BM25 over Arabic search terms, and names spelled another way."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import lexical
from retrieval.engine import Engine
from retrieval.lexical import LexicalIndex, spelling_variant
from retrieval.normalize import tokenize

ROWS = [
    ("a:0", "الخارجية الروسية", "قالت المتحدثة ماريا زاخاروفا إن موسكو ترحب بالوفد."),
    ("b:0", "روسيا والفصائل", "أعلن نائب الوزير ميخائيل بوغدانوف موعد المحادثات في موسكو."),
    ("c:0", "غزة", "يتواصل القصف على القطاع منذ أسابيع وسط دعوات إلى التهدئة."),
    ("d:0", "السياسة", "تحدث المسؤولون عن دوافع القرار وعن التواصل مع جميع الأطراف."),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> LexicalIndex:
    folder: Path = tmp_path_factory.mktemp("lexical")
    lexical.build(folder, ROWS)
    return LexicalIndex.load(folder)


@pytest.mark.parametrize(
    ("misspelled", "passages"),
    [
        ("زخاروفا", {"a:0"}),  # a long vowel left out of a foreign name
        ("بوجدانوف", {"b:0"}),  # ج for the «g» others write غ
        ("موسكوا", {"a:0", "b:0"}),  # a stray alef at the end
    ],
)
def test_a_name_spelled_another_way_finds_its_passages(
    index: LexicalIndex, misspelled: str, passages: set[str]
) -> None:
    assert not index.knows(tokenize(misspelled)[0])
    assert {pid for pid, _ in index.search(misspelled, k=4)} == passages


def test_known_words_and_other_words_of_a_root_stay_as_they_are(index: LexicalIndex) -> None:
    tokens = tokenize("يدافع التواصل القصف")
    # «يدافع» is another word than «دوافع» though their letters are close: not resolved.
    assert index.resolve(tokens) == tokens


def test_a_word_with_no_close_variant_stays_unknown(index: LexicalIndex) -> None:
    tokens = tokenize("الكبسة")
    assert index.resolve(tokens) == tokens
    assert index.search("الكبسة", k=4) == []


def test_spelling_variant_allows_one_letter_not_the_first() -> None:
    assert spelling_variant("زاخاروفا", "زخاروفا")
    assert spelling_variant("شهداء", "شهدا")
    assert spelling_variant("غدانوف", "جدانوف")
    assert not spelling_variant("يدافع", "دافع")  # a verb's person prefix
    assert not spelling_variant("موسكو", "موسكو")  # the same word
    assert not spelling_variant("توصيل", "يتواصل")  # two letters apart


def test_the_engine_finds_a_misspelled_name_in_the_seeds(seeded_engine: Engine) -> None:
    result = seeded_engine.search("بوجدانوف", mode="lexical", top_k=3)
    assert result.passages
    assert all("بوغدانوف" in p.text for p in result.passages)
