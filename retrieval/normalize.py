"""Arabic text normalisation: display, embedding and search forms; tokenizer; stemmer.

Three forms of the same text, each a superset of the previous one's cleaning:

- `clean_display`: what readers see and what quotes are cut from (invisible controls and odd
  spaces removed, everything else kept);
- `for_embedding`: what the dense model sees (diacritics, tatweel and Quranic marks stripped,
  digits folded, letters untouched because folding them lowered the model's scores);
- `for_search`: what the lexical index sees (hamza seats, alef maqsura, taa marbuta and
  Persian letters folded, Latin lowercased, quote marks removed).

`tokenize` turns the search form into stemmed index terms and `stem` is the light stemmer
behind it. All tables and patterns are built once at import; nothing here reads files or the
environment.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def _chars(*ranges: tuple[int, int]) -> list[str]:
    return [chr(code) for low, high in ranges for code in range(low, high + 1)]


# Invisible format characters: zero-width space/joiners, LRM/RLM, bidi embeddings and
# isolates, the BOM, the Arabic letter mark. Soft hyphen and word joiner are invisible too
# and would otherwise split a word in two for the lexical index. Stray C0 controls carry no
# text.
_INVISIBLE = _chars(
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
    (0xFEFF, 0xFEFF),
    (0x061C, 0x061C),
    (0x00AD, 0x00AD),
    (0x2060, 0x2060),
    (0x0000, 0x0008),
    (0x000E, 0x001F),
    (0x007F, 0x007F),
)
_SPACES = ["\t", "\u00a0", "\u1680", "\u202f", "\u205f", "\u3000", *_chars((0x2000, 0x200A))]
_LINE_BREAKS = ["\v", "\f", "\x85", "\u2028", "\u2029"]

_DISPLAY_TABLE = str.maketrans(
    {
        **dict.fromkeys(_INVISIBLE),
        **dict.fromkeys(_SPACES, " "),
        **dict.fromkeys(_LINE_BREAKS, "\n"),
    }
)
_CRLF = re.compile(r"\r\n?")
_SPACE_RUN = re.compile(r" {2,}")
_LINE_EDGES = re.compile(r" *\n *")

# Harakat, tanween, shadda, sukun and the other combining marks of the Arabic block
# (U+064B-065F), superscript alef (U+0670), tatweel (U+0640), Quranic annotation marks
# (U+06D6-06ED) and the small honorific signs above letters (U+0610-061A), which are
# combining marks too and would otherwise split words.
_MARKS = _chars((0x064B, 0x065F), (0x0670, 0x0670), (0x0640, 0x0640), (0x06D6, 0x06ED))
_MARKS += _chars((0x0610, 0x061A))
_EMBED_TABLE = {**str.maketrans(dict.fromkeys(_MARKS)), **_DIGITS}
_PRESENTATION_FORMS = re.compile(r"[\uFB50-\uFDFF\uFE70-\uFEFE]+")

# Hamza seats: أ إ آ ٱ are spelled interchangeably, so they fold to bare alef. ؤ and ئ fold
# to the bare hamza ء rather than to و and ي: writers alternate between the two seats
# (مسؤول / مسئول) but folding ؤ to و would merge distinct words (رؤية "vision" with روية
# "deliberation", رؤى "visions" with روى "narrated").
_QUOTES = "«»‹›“”„‟\"'‘’‚‛`´"
_SEARCH_TABLE = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "ء",
        "ئ": "ء",
        "ى": "ي",
        "ی": "ي",
        "ة": "ه",
        "ک": "ك",
        "٫": ".",
        "٬": ",",
        **dict.fromkeys(_QUOTES),
    }
)

# A number keeps its decimal or thousands separator ("3.5", "1,400"); otherwise a token is a
# run of letters, so Arabic and Latin text glued to digits ("الـ29") splits into parts.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_ARABIC_LETTERS = "\u0621-\u063a\u0641-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06fa-\u06ff"
_ARABIC_LETTER = re.compile(f"[{_ARABIC_LETTERS}]")
# Language detection may see raw text, where presentation forms still stand for letters.
_ARABIC_ANY_LETTER = re.compile(f"[{_ARABIC_LETTERS}\ufb50-\ufdfb\ufe70-\ufefc]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F]")


def fold_digits(text: str) -> str:
    """Turn Arabic-Indic and Persian digits into ASCII digits."""
    return text.translate(_DIGITS)


def clean_display(text: str) -> str:
    """Remove invisible controls and odd spaces, keeping every visible character as it is."""
    text = _CRLF.sub("\n", text).translate(_DISPLAY_TABLE)
    text = _SPACE_RUN.sub(" ", text)
    return _LINE_EDGES.sub("\n", text).strip(" ")


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def for_embedding(text: str) -> str:
    """Return the form fed to the dense model: marks stripped, digits folded, letters kept."""
    # Compose first: a decomposed أ (alef + U+0654) would otherwise lose its hamza with the
    # other marks and come out as a folded letter, which the model is not meant to see.
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _PRESENTATION_FORMS.sub(_nfkc, clean_display(text))
    return text.translate(_EMBED_TABLE)


def for_search(text: str) -> str:
    """Return the lexical form: the embedding form with letters folded and quotes removed."""
    return for_embedding(text).translate(_SEARCH_TABLE).lower()


# Prefixes are clitics: a conjunction (و ف), a preposition (ب ك ل) and the article (ال), in
# that order, with ل + ال written لل. Suffixes are pronouns, plural, dual and feminine
# endings and the nisba ending ي / يه, plus يا so that a country (روسيا) meets its adjective
# (الروسية). Longest first, so يه goes before ه and تين before ين.
_ARTICLE_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_LETTER_PREFIXES = frozenset("وفبكل")
_SUFFIXES = (
    *("هما", "كما", "تين", "تان"),
    *("ها", "هم", "هن", "كم", "نا", "ات", "ان", "ون", "ين", "يه", "يا"),
    *("ه", "ي"),
)
# After one of these, a final ت is a taa marbuta in construct (حكومتها = حكومة + ها), unless
# it closes the plural ات (مفاوضاتها = مفاوضات + ها).
_PRONOUNS = frozenset(("هما", "كما", "ها", "هم", "هن", "كم", "نا"))
_MIN_STEM = 3


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Strip Arabic clitic prefixes and common suffixes from a folded token."""
    if not _ARABIC_LETTER.match(token):
        return token
    word = token
    # Prefix letters come off for as long as the rest keeps three letters, not just once:
    # that makes stem(clitic + word) == stem(word) for every clitic, also for words whose
    # own first letter looks like one (فلسطين, لبنان, بوتين), so الفلسطينية, فلسطينية and
    # للفلسطينيين meet. The price is stems that are not words (فلسطين -> سطين); they only
    # need to be equal, never shown.
    while len(word) > _MIN_STEM:
        for prefix in _ARTICLE_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
                word = word[len(prefix) :]
                break
        else:
            if word[0] not in _LETTER_PREFIXES:
                break
            word = word[1:]
    # Prefixes go first: stripping suffixes first lets the article lengthen short words
    # enough to lose an ending that the bare word keeps (البيان -> الب, but بيان stays).
    while word.endswith(_SUFFIXES):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
                word = word[: -len(suffix)]
                if (
                    suffix in _PRONOUNS
                    and word.endswith("ت")
                    and not word.endswith("ات")
                    and len(word) > _MIN_STEM
                ):
                    word = word[:-1]
                break
        else:
            break
    return word


# Function and question words, written as people write them; folded at import so the table
# always matches what `for_search` produces. A conjunction glued to one (وفي, فهل) is also
# a stopword.
_ARABIC_STOPWORDS = """
في من على إلى الى عن مع عند لدى حتى منذ مثل بين نحو حول خلال ضد دون بدون عبر تجاه قبل بعد
لأن أن إن أنّ إنّ كي لكي حيث حين عندما بينما كما مما بما لما عما فيما إنما ربما كلما لو لولا
أو أم ثم بل لكن إذ إذا لا لم لن ليس ليست قد لقد سوف يا ال
ما ماذا متى أين كيف لماذا هل كم أي أيّ أية
هو هي هم هن هما أنا نحن أنت أنتم أنتما إياه
هذا هذه هذان هاتان ذلك تلك ذاك هؤلاء أولئك هنا هناك هنالك
الذي التي الذين اللذان اللتان اللذين اللتين اللواتي اللاتي
كان كانت كانوا يكون تكون تم يتم
كل بعض غير أيضا فقط جدا الآن ثمة إنه أنه أنها إنها
له لها لهم به بها فيه فيها منه منها عليه عليها إليه عنه عنها
بهذا لهذا بذلك لذلك كذلك لذا
"""
_ENGLISH_STOPWORDS = """
a an the of in on at to for from by with about into over after before and or but not no
is are was were be been being am do does did have has had will would can could should may
might what when where who whom whose which why how that this these those it its he she they
them his her their there here as than then so if also
"""
# Spoken question and function words, mapped to their standard equivalents (which are then
# dropped as stopwords), and a few spoken content words that news text writes otherwise.
_DIALECT = {
    **dict.fromkeys(("مين", "منو"), "من"),
    # Egyptian إيه ("what") is left out: folded, it is آية, as in آية الله.
    **dict.fromkeys(("شو", "شنو", "ايش", "إيش", "وش"), "ماذا"),
    **dict.fromkeys(("امتى", "إمتى", "ايمتى", "إيمتى", "امتا", "إمتا"), "متى"),
    **dict.fromkeys(("ليش", "ليه", "لويش"), "لماذا"),
    **dict.fromkeys(("وين", "فين"), "أين"),
    **dict.fromkeys(("كيفاش", "ازاي", "إزاي", "شلون"), "كيف"),
    **dict.fromkeys(("قديش", "قديه", "قداش", "كام", "شقد", "اشكد"), "كم"),
    **dict.fromkeys(("اللي", "إللي", "يلي"), "الذي"),
    **dict.fromkeys(
        ("هاد", "هادا", "هيدا", "هيدي", "هادي", "هاي", "هذي", "ده", "دي", "دا"), "هذا"
    ),
    **dict.fromkeys(("مش", "مو", "موش", "مب"), "ليس"),
    **dict.fromkeys(("عشان", "علشان", "لانو"), "لأن"),
    **dict.fromkeys(("هلق", "هلأ", "هسه", "دلوقتي", "الحين", "توا"), "الآن"),
    **dict.fromkeys(("بس",), "لكن"),
    **dict.fromkeys(("كمان",), "أيضا"),
    **dict.fromkeys(("امبارح", "إمبارح", "مبارح", "البارحة"), "أمس"),
    **dict.fromkeys(("بكرة", "بكرا"), "غدا"),
    **dict.fromkeys(("صار", "صارت"), "حدث"),
    **dict.fromkeys(("حكى", "حكت"), "قال"),
}


def _build_stopwords() -> frozenset[str]:
    words = {for_search(word) for word in _ARABIC_STOPWORDS.split()}
    words |= {conjunction + word for word in words for conjunction in ("و", "ف")}
    return frozenset(words | set(_ENGLISH_STOPWORDS.split()))


_STOPWORDS = _build_stopwords()
_DIALECT_TO_STANDARD = {for_search(word): for_search(mapped) for word, mapped in _DIALECT.items()}


def tokenize(text: str) -> list[str]:
    """Split text into stemmed search terms, without stopwords and with dialect mapped."""
    tokens: list[str] = []
    for token in _TOKEN.findall(for_search(text)):
        token = _DIALECT_TO_STANDARD.get(token, token)
        if _function_word(token) or (len(token) == 1 and not token.isdigit()):
            continue
        tokens.append(stem(token))
    return tokens


def _function_word(token: str) -> bool:
    """Tell whether a token is a stopword, also behind a conjunction and a preposition.

    «وقديش», «بماذا» and «فمين» ask as «كم», «ماذا» and «من» do: they carry no content.
    """
    forms = [token]
    if token[:1] in ("و", "ف") and len(token) > 2:
        forms.append(token[1:])
    forms += [f[1:] for f in forms if f[:1] in ("ب", "ل") and len(f) > 2]
    return any(_DIALECT_TO_STANDARD.get(f, f) in _STOPWORDS for f in forms)


def detect_language(text: str) -> str:
    """Return "ar" or "en" by which script has more letters, or "unknown" without letters."""
    arabic = len(_ARABIC_ANY_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if arabic == latin == 0:
        return "unknown"
    return "ar" if arabic >= latin else "en"
