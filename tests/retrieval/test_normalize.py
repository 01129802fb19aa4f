"""Arabic normalisation: what readers, the dense model and the lexical index each see."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.normalize import (
    clean_display,
    detect_language,
    fold_digits,
    for_embedding,
    for_search,
    stem,
    tokenize,
)

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_66a249f8971aa960.txt"


def search_stem(word: str) -> str:
    return stem(for_search(word))


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("۲۰۲٤", "2024"),  # Persian digits with an Arabic-Indic four, as in the seeds
        ("٢٠٢٤", "2024"),
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
        ("فبراير ۲۰، ۲۰۲٤", "فبراير 20، 2024"),
        ("29 فبراير/شباط", "29 فبراير/شباط"),
    ],
)
def test_fold_digits_gives_ascii_digits(raw: str, expected: str) -> None:
    assert fold_digits(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("غزة\u200f اليوم", "غزة اليوم"),  # right-to-left mark
        ("\u202bموسكو\u202c", "موسكو"),  # bidi embedding
        ("\u2067حماس\u2069", "حماس"),  # bidi isolate
        ("الحك\u200dومة", "الحكومة"),  # zero-width joiner inside a word
        ("\ufeffموسكو\u061c", "موسكو"),  # byte order mark, Arabic letter mark
        ("وقال\u00a0عضو", "وقال عضو"),  # non-breaking space, as in the seeds
        ("قال\u202fبوتين\u2009اليوم", "قال بوتين اليوم"),
        ("سطر أول\r\nسطر ثان\rثالث", "سطر أول\nسطر ثان\nثالث"),
        ("  كلمة \t\t  أخرى  ", "كلمة أخرى"),
        ("فقرة أولى.  \n\n  فقرة ثانية.", "فقرة أولى.\n\nفقرة ثانية."),
    ],
)
def test_clean_display_removes_invisible_characters_and_odd_spaces(
    raw: str, expected: str
) -> None:
    assert clean_display(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "مُحَمَّدٌ رَسُولُ",
        "في عام ٢٠٢٤ و۲۰۲٤",
        "«الحكومة»، قالت: “نعم”؛ ماذا؟",
        "الـحرب ﻻ",
        "أإآٱ ى ة ؤ ئ",
    ],
)
def test_clean_display_keeps_every_visible_character(text: str) -> None:
    assert clean_display(text) == text


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("الحُكُومَةُ", "الحكومة"),  # diacritics
        ("هَٰذَا", "هذا"),  # superscript alef
        ("فِيهِۛ", "فيه"),  # Quranic annotation mark
        ("أحمد", "احمد"),  # hamza above alef
        ("إسرائيل", "اسرائيل"),  # hamza below alef
        ("آلاف", "الاف"),  # madda
        ("ٱلله", "الله"),  # wasla
        ("مدرسة", "مدرسه"),  # taa marbuta
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("فارسی", "فارسي"),  # Persian yeh
        ("کتاب", "كتاب"),  # Persian kaf
        ("الحكـــومة", "الحكومة"),  # tatweel
        ("الحك\u200dومة", "الحكومة"),  # zero-width joiner
        ("\ufefb", "لا"),  # lam-alef ligature
        ("\ufecf\ufeb0\ufe93", "غزة"),  # presentation forms of غزة
        ("۲۰۲٤", "2024"),
        ("٣٫٥", "3.5"),  # Arabic decimal separator
        ("«الحكومة»", "الحكومة"),
        ("“Gaza”", "gaza"),
    ],
)
def test_spelling_variants_share_a_search_form(variant: str, plain: str) -> None:
    assert for_search(variant) == for_search(plain)


def test_hamza_seats_fold_together_but_not_into_waw() -> None:
    # The same word is written on either seat; folding ؤ into و would instead merge
    # رؤية "vision" with روية "deliberation" and رؤى "visions" with روى "narrated".
    assert for_search("مسؤول") == for_search("مسئول")
    assert for_search("رؤية") != for_search("روية")
    assert for_search("رؤى") != for_search("روى")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أعلنت الحكومةُ", "أعلنت الحكومة"),  # keeps أ and ة, drops the damma
        ("إلى مستشفى", "إلى مستشفى"),  # keeps إ and ى
        ("مسؤول", "مسؤول"),
        ("الحكـــومة", "الحكومة"),
        ("ا\u0654علنت", "أعلنت"),  # a decomposed hamza is composed, not dropped
        ("\ufefb", "لا"),
        ("فبراير ۲۰، ۲۰۲٤", "فبراير 20، 2024"),
        ("«الحكومة»", "«الحكومة»"),
    ],
)
def test_embedding_form_strips_marks_but_keeps_letters(raw: str, expected: str) -> None:
    assert for_embedding(raw) == expected


@pytest.mark.parametrize(
    "variant",
    ["«الحكومة،»", "الحكومة،", "(الحكومة)", "الحكومة؟", "الحكومة؛", "”الحكومة“", "الحكومة."],
)
def test_punctuation_around_a_word_does_not_change_its_token(variant: str) -> None:
    assert tokenize(variant) == tokenize("الحكومة")


@pytest.mark.parametrize(
    ("question", "content"),
    [
        ("ما هي عاصمة فلسطين؟", "عاصمة فلسطين"),
        ("من هو رئيس وزراء إسرائيل؟", "رئيس وزراء إسرائيل"),
        ("متى تبدأ المحادثات في موسكو؟", "تبدأ المحادثات موسكو"),
        ("لماذا دعت روسيا هذه الفصائل إلى موسكو؟", "دعت روسيا الفصائل موسكو"),
        ("هل قال بوتين إن الحرب على غزة كانت خطأ؟", "قال بوتين الحرب غزة خطأ"),
        ("وفي ذلك الوقت، فإن الوفد الذي وصل", "الوقت الوفد وصل"),
        ("What did Russia say about the talks?", "Russia say talks"),
    ],
)
def test_question_and_function_words_are_dropped(question: str, content: str) -> None:
    assert tokenize(question) == tokenize(content)


@pytest.mark.parametrize(
    ("dialect", "standard"),
    [
        ("شو صار بغزة امبارح؟", "ماذا حدث في غزة أمس؟"),
        ("مين رئيس وزراء إسرائيل؟", "من رئيس وزراء إسرائيل؟"),
        ("إمتى المحادثات في موسكو؟", "متى المحادثات في موسكو؟"),
        ("امتى المحادثات في موسكو؟", "متى المحادثات في موسكو؟"),
        ("ليش روسيا دعت حماس؟", "لماذا روسيا دعت حماس؟"),
        ("ليه روسيا دعت حماس؟", "لماذا روسيا دعت حماس؟"),
        ("وين المفاوضات؟", "أين المفاوضات؟"),
        ("فين المفاوضات؟", "أين المفاوضات؟"),
        ("كيفاش ردت إسرائيل؟", "كيف ردت إسرائيل؟"),
        ("ازاي ردت إسرائيل؟", "كيف ردت إسرائيل؟"),
        ("إيش قال بوتين؟", "ماذا قال بوتين؟"),
        ("قديش عدد الرهائن؟", "كم عدد الرهائن؟"),
        ("كام عدد الرهائن؟", "كم عدد الرهائن؟"),
        ("حكى بوتين عن غزة", "قال بوتين عن غزة"),
    ],
)
def test_dialect_questions_meet_standard_ones(dialect: str, standard: str) -> None:
    assert tokenize(dialect) == tokenize(standard)


@pytest.mark.parametrize(
    ("question", "standard"),
    [
        ("وقديش عدد الرهائن؟", "كم عدد الرهائن؟"),
        ("وبماذا خرج الاجتماع؟", "ماذا خرج الاجتماع؟"),
        ("فمين رئيس الوفد؟", "من رئيس الوفد؟"),
    ],
)
def test_question_words_behind_a_clitic_carry_no_content(question: str, standard: str) -> None:
    assert tokenize(question) == tokenize(standard)


def test_words_that_only_start_like_a_clitic_stay() -> None:
    # و، ب and ل are also the first letters of content words.
    assert len(tokenize("ولي بيروت لندن")) == 3


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("محادثات يوم 29 فبراير", ["29"]),
        ("فبراير ۲۰، ۲۰۲٤", ["20", "2024"]),
        ("نمو بنسبة ٣٫٥ في المئة عام 2024.", ["3.5", "2024"]),
        ("قتل 1,400 شخص", ["1,400"]),
        ("الـ29 من الشهر", ["29"]),
    ],
)
def test_numbers_are_kept_as_tokens(text: str, numbers: list[str]) -> None:
    assert [token for token in tokenize(text) if token[0].isdigit()] == numbers


@pytest.mark.parametrize(
    "family",
    [
        ("الفلسطينية", "فلسطينية", "للفلسطينيين", "الفلسطينيون", "فلسطيني", "فلسطين"),
        ("روسيا", "الروسية", "لروسيا", "وروسيا", "روسيتين", "الروسي"),
        ("إسرائيل", "الإسرائيلي", "الإسرائيلية", "إسرائيليون", "لإسرائيل"),
        ("لبنان", "اللبنانية", "للبنان", "لبنانيون"),
        ("سوريا", "السورية", "السوريين"),
        ("الحكومة", "حكومة", "للحكومة", "والحكومات", "حكومتها"),
        ("المفاوضات", "مفاوضات", "بالمفاوضات", "مفاوضاتها"),
        ("المحادثات", "محادثات", "بمحادثات", "للمحادثات"),
        ("مسؤول", "المسؤولين", "مسئولون", "والمسؤولون"),
        ("الدولة", "دولة", "دولتين", "الدول"),
        ("البيان", "بيان", "بيانات"),
        ("الوزير", "وزير", "والوزير", "بوزير"),
        ("وزارة", "الوزارة", "بوزارة", "وزارتها"),
        ("غزة", "بغزة", "وغزة", "لغزة"),
        ("حماس", "لحماس", "وحماس", "بحماس"),
        ("الكرملين", "كرملين", "والكرملين"),
    ],
)
def test_a_word_family_reaches_one_stem(family: tuple[str, ...]) -> None:
    assert len({search_stem(word) for word in family}) == 1, [search_stem(w) for w in family]


@pytest.mark.parametrize("token", ["gaza", "putin", "2024", "3.5"])
def test_stem_leaves_non_arabic_tokens_alone(token: str) -> None:
    assert stem(token) == token


@pytest.mark.parametrize("word", ["حرب", "بيت", "ولد", "غزة", "قال"])
def test_stem_leaves_three_letter_words_alone(word: str) -> None:
    assert search_stem(word) == for_search(word)


def test_stems_are_stable_and_keep_three_letters(seed_text: str) -> None:
    words = set(for_search(seed_text).split())
    for word in words:
        token = "".join(char for char in word if char.isalpha())
        if len(token) < 3:
            continue
        assert len(stem(token)) >= 3, token
        assert stem(stem(token)) == stem(token), token


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ماذا قالت روسيا عن المحادثات؟", "ar"),
        ("What did Russia say about the talks?", "en"),
        ("ماذا قال Putin عن المحادثات في موسكو؟", "ar"),
        ("Did Putin meet حماس in Moscow?", "en"),
        ("\ufecf\ufeb0\ufe93", "ar"),
        ("2024 ٢٠٢٤ ؟!", "unknown"),
        ("", "unknown"),
    ],
)
def test_detect_language_follows_the_dominant_script(text: str, language: str) -> None:
    assert detect_language(text) == language
