"""Everything the bot says: the Arabic strings, HTML escaping, right-to-left safety, splitting
long replies under Telegram's limit, keyboards and the callback data their buttons carry.

Replies are Telegram HTML. Text from articles and users is escaped here and nowhere else.
Direction: Telegram picks a paragraph's direction from its first strong character, so every
line that would start left-to-right gets a RIGHT-TO-LEFT MARK, and Latin runs inside Arabic
text are wrapped in FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE so that punctuation
around them stays where an Arabic reader expects it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from retrieval.dates import arabic_date
from retrieval.models import Answer, Citation, Passage

if TYPE_CHECKING:
    from bot.feedback import Stats
    from retrieval.indexing import IndexReport

RLM: Final = "\u200f"
FSI: Final = "\u2068"
PDI: Final = "\u2069"
MAX_MESSAGE: Final = 4096  # characters of text after entity parsing, counted in UTF-16 units
MAX_CALLBACK_BYTES: Final = 64
NO_SOURCE: Final = "مصدر غير مذكور"
NO_DATE: Final = "تاريخ غير مذكور"
NO_TITLE: Final = "بلا عنوان"

DEFAULT_EXAMPLES: Final = (
    "لماذا دعت روسيا الفصائل الفلسطينية إلى موسكو؟",
    "ما موقف إسرائيل من زيارة وفد حماس إلى موسكو؟",
    "متى تبدأ محادثات الفصائل الفلسطينية في موسكو؟",
)

# --- fixed messages ---------------------------------------------------------------------------

APOLOGY: Final = "عذرًا، حدث خطأ غير متوقع أثناء معالجة طلبك. حاول مرة أخرى بعد قليل."
INDEX_NOT_READY: Final = "الفهرس غير جاهز بعد، لذا لا أستطيع الإجابة الآن. حاول بعد قليل."
ENGINE_FAILED: Final = "تعذّرت الإجابة عن سؤالك هذه المرة. حاول مرة أخرى بعد قليل."
ONLY_TEXT: Final = (
    "أستطيع حاليًا قراءة الأسئلة النصية فقط، أما الملصقات والصور والرسائل الصوتية والملفات "
    "فلا أفهمها. اكتب سؤالك في رسالة نصية من فضلك."
)
EMPTY_QUESTION: Final = "لم أجد سؤالًا في رسالتك. اكتب سؤالك عن الأخبار في رسالة نصية."
NO_WORDS: Final = "يبدو أن رسالتك لا تحتوي على كلمات. اكتب سؤالك بالكلمات من فضلك."
UNSUPPORTED_LANGUAGE: Final = (
    "عذرًا، لا أفهم اللغة التي كُتبت بها رسالتك. أجيب عن الأسئلة المكتوبة بالعربية "
    "(أو بالإنجليزية)، فأعد كتابة سؤالك بالعربية من فضلك."
)
BUSY: Final = (
    "عذرًا، تصلني أسئلة كثيرة في هذه اللحظة ولا أستطيع استقبال المزيد الآن. "
    "أعد إرسال سؤالك بعد قليل من فضلك."
)
INLINE_BUSY: Final = "أسئلة كثيرة الآن؛ حاول بعد قليل"
STATS_PRIVATE_ONLY: Final = (
    "تعرض الإحصاءات أسئلة المستخدمين، لذا أرسل /stats في محادثتك الخاصة معي."
)
ADMIN_ONLY: Final = "عذرًا، هذا الأمر متاح للمشرفين فقط."
CHAT_NOT_ALLOWED: Final = "عذرًا، سند غير متاح في هذه المحادثة."
CONTEXT_CLEARED: Final = "بدأنا محادثة جديدة: لن أعتمد على أسئلتك السابقة بعد الآن."
UNKNOWN_COMMAND: Final = "لا أعرف هذا الأمر. أرسل /help لعرض الأوامر المتاحة."
REINDEX_STARTED: Final = (
    "بدأت إعادة بناء الفهرس في الخلفية، وسأواصل الإجابة من الفهرس الحالي حتى يكتمل. "
    "سأرسل إليك التقرير عند الانتهاء."
)
REINDEX_RUNNING: Final = "إعادة بناء الفهرس جارية بالفعل، وسأرسل التقرير عند اكتمالها."
REINDEX_FAILED: Final = (
    "تعذّرت إعادة بناء الفهرس، وما زلت أجيب من الفهرس السابق. راجع سجلات الخادم للتفاصيل."
)
STALE_BUTTON: Final = "هذا الزر قديم ولم يعد مرتبطًا بجواب محفوظ. اطرح سؤالك من جديد."
FEEDBACK_USEFUL: Final = "شكرًا لك! سجّلنا أن الجواب كان مفيدًا."
FEEDBACK_NOT_USEFUL: Final = "شكرًا لك! سجّلنا أن الجواب لم يكن مفيدًا، وسنعمل على تحسينه."
NO_ARTICLES: Final = "لا توجد مقالات مفهرسة بعد."
INLINE_HINT: Final = "اكتب سؤالك بعد اسم البوت"
INLINE_SLOW_DOWN: Final = "أسئلة كثيرة في وقت قصير؛ انتظر قليلًا"
INLINE_TRUNCATED: Final = "…\n\n(الجواب أطول من ذلك؛ اسألني في محادثة خاصة لقراءته كاملًا.)"
USEFUL: Final = "👍 مفيد"
NOT_USEFUL: Final = "👎 غير مفيد"
SOURCES_HEADING: Final = "المصادر"
COMMANDS: Final = {
    "start": "الترحيب وأمثلة على الأسئلة",
    "help": "طريقة الاستخدام والأوامر",
    "sources": "المقالات المفهرسة ومصادرها",
    "new": "محادثة جديدة تنسى الأسئلة السابقة",
    "ask": "اطرح سؤالًا (مفيد في المجموعات)",
    "reindex": "إعادة بناء الفهرس (للمشرفين)",
    "stats": "الإحصاءات (للمشرفين)",
}
CLOSEST_HEADING: Final = "أقرب ما وجدته في المصادر"
GENERATIVE_NOTE: Final = (
    "✍️ صاغ نموذج لغوي هذا الجواب من المصادر أدناه، وتحقّق سند من إحالة كل جملة إلى مصدرها."
)
FALLBACK_NOTE: Final = (
    "📌 تعذّرت صياغة الجواب بالنموذج اللغوي هذه المرة، فهذه اقتباسات حرفية من المصادر."
)
DRAFT_NOTE: Final = "⏳ جارٍ إعداد الجواب…"


# --- direction and escaping -------------------------------------------------------------------

_BIDI_CONTROLS: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")
_RTL_CLASSES: Final = frozenset({"R", "AL"})
# Characters that may sit inside a Latin run without ending it (spaces, digits, punctuation).
_RUN_INNER: Final = frozenset({"L", "EN", "ES", "ET", "CS", "ON", "WS", "NSM", "BN"})
_RUN_END: Final = frozenset({"L", "EN"})


def _bidi(char: str) -> str:
    return unicodedata.bidirectional(char)


def starts_rtl(text: str) -> bool:
    """Return whether a reader's client will lay this line out right-to-left for sure.

    Stricter than the bidi algorithm: a line that opens with an isolated Latin run does not
    count, since not every client skips isolates when it picks a paragraph's direction.
    """
    for char in text:
        if char in "\u2066\u2067\u2068":
            return False
        kind = _bidi(char)
        if kind in _RTL_CLASSES:
            return True
        if kind == "L":
            return False
    return False


def isolate_latin(text: str) -> str:
    """Wrap each left-to-right run in FSI ... PDI; leave @mentions and /commands alone.

    Bidi controls already in the text are dropped first: an unbalanced one from an article
    would otherwise reorder everything after it.
    """
    text = _BIDI_CONTROLS.sub("", text)
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if _bidi(char) != "L" or (i > 0 and text[i - 1] in "@/"):
            if _bidi(char) == "L":  # a mention or command: copy its word as it is
                j = i
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                out.append(text[i:j])
                i = j
                continue
            out.append(char)
            i += 1
            continue
        j = i
        end = i  # one past the last strong-L or digit of the run
        while j < n and text[j] != "\n" and _bidi(text[j]) in _RUN_INNER:
            if _bidi(text[j]) in _RUN_END:
                end = j + 1
            j += 1
        out.append(f"{FSI}{text[i:end]}{PDI}")
        i = end
    return "".join(out)


def esc(text: str) -> str:
    """Escape plain text for Telegram HTML, with its Latin runs isolated."""
    return html.escape(isolate_latin(text), quote=False)


def rtl_lines(text: str) -> str:
    """Start every line whose first strong character is not right-to-left with an RLM."""
    lines = text.split("\n")
    return "\n".join(
        line if not _visible(line) or starts_rtl(_plain(line)) else RLM + line for line in lines
    )


def _visible(line: str) -> bool:
    return bool(_plain(line).strip())


_TAG_OR_ENTITY: Final = re.compile(r"<[^>]*>|&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z]+);")


def _plain(fragment: str) -> str:
    """Return the text a user sees of an HTML fragment."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def plain_text(fragment: str) -> str:
    """Return the text a user sees of a reply (for plain-text fallbacks and previews)."""
    return _plain(fragment).strip()


def utf16_len(text: str) -> int:
    """Return the length Telegram measures: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --- splitting --------------------------------------------------------------------------------


@dataclass
class _Atom:
    raw: str
    units: int  # UTF-16 units it adds to the visible text
    tag: str | None = None  # tag name for tags
    closing: bool = False
    brk: int = -1  # how good a place to split after this atom is (-1: not one)


_SENTENCE_ENDS: Final = ".!?؟؛…]"


def _atoms(source: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    i = 0
    while i < len(source):
        if source[i] == "<":
            end = source.index(">", i) + 1
            raw = source[i:end]
            closing = raw.startswith("</")
            name = re.match(r"</?\s*([A-Za-z-]+)", raw)
            atoms.append(_Atom(raw, 0, name[1].lower() if name else "", closing))
            i = end
            continue
        if source[i] == "&" and (ref := _TAG_OR_ENTITY.match(source, i)):
            atoms.append(_Atom(ref[0], utf16_len(html.unescape(ref[0]))))
            i = ref.end()
            continue
        atoms.append(_Atom(source[i], utf16_len(source[i])))
        i += 1
    # Mark where splitting is acceptable: after a blank line, a line end, a sentence end
    # (or a citation marker), or a space; never inside a tag or an entity, since those are
    # single atoms.
    previous = ""
    for atom in atoms:
        if atom.tag is not None:
            continue
        text = html.unescape(atom.raw)
        if text == "\n":
            atom.brk = 3 if previous == "\n" else 2
        elif text.isspace():
            atom.brk = 1 if previous and previous in _SENTENCE_ENDS else 0
        previous = text
    return atoms


def split_html(source: str, limit: int = MAX_MESSAGE, *, rtl: bool = True) -> list[str]:
    """Split an HTML reply into messages of at most `limit` visible characters each.

    Splits at the best boundary available (paragraph, line, sentence, word, in that order of
    preference), never inside a tag or an entity; tags open at a split are closed at the end
    of one part and reopened at the start of the next.
    """
    budget = limit - 1  # room for the RLM a part may need
    atoms = _atoms(source)
    parts: list[str] = []
    stack: list[_Atom] = []  # open tags at the current position
    start = 0
    while start < len(atoms):
        reopened = list(stack)
        used = 0
        end = start
        best: dict[int, int] = {}  # break priority -> last atom index with it
        stack_at: dict[int, list[_Atom]] = {}
        local = list(stack)
        while end < len(atoms) and used + atoms[end].units <= budget:
            atom = atoms[end]
            used += atom.units
            if atom.tag is not None:
                if atom.closing:
                    if local and local[-1].tag == atom.tag:
                        local.pop()
                else:
                    local.append(atom)
            elif atom.brk >= 0 and used >= budget // 2:
                best[atom.brk] = end
                stack_at[end] = list(local)
            end += 1
        if end >= len(atoms):
            cut, stack_after = len(atoms) - 1, local
        elif best:
            cut = best[max(best)]
            stack_after = stack_at[cut]
        else:  # no boundary in the second half: cut between two atoms
            cut, stack_after = max(end - 1, start), local
            if end == start:  # a single atom larger than the budget cannot happen in practice
                cut = start
        body = "".join(a.raw for a in reopened) + "".join(a.raw for a in atoms[start : cut + 1])
        body += "".join(f"</{a.tag}>" for a in reversed(stack_after))
        if _visible(body):
            parts.append(_rtl_start(body.strip()) if rtl else body.strip())
        stack = stack_after
        start = cut + 1
    return parts or [source]


def _rtl_start(part: str) -> str:
    return part if starts_rtl(_plain(part)) else RLM + part


# --- formatting pieces ------------------------------------------------------------------------


def format_date(value: str | None) -> str:
    """Render an ISO date the Arabic way (20 فبراير 2024), or say that there is none."""
    return arabic_date(value) or NO_DATE


def seconds_phrase(seconds: float) -> str:
    """Return "N seconds" in Arabic with the right number agreement."""
    n = max(1, round(seconds))
    if n == 1:
        return "ثانية واحدة"
    if n == 2:
        return "ثانيتين"
    if 3 <= n <= 10:
        return f"{n} ثوانٍ"
    return f"{n} ثانية"


def _link(url: str | None, label_html: str) -> str:
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(url, quote=True)}">{label_html}</a>'
    return label_html


def source_line(citation: Citation) -> str:
    """Return "[n] outlet — title — date" for the sources list."""
    title = _link(citation.url, esc(citation.title or NO_TITLE))
    line = (
        f"<b>[{citation.n}]</b> {esc(citation.source or NO_SOURCE)} — {title} — "
        f"{esc(format_date(citation.date))}"
    )
    if citation.also:
        line += f" (ونقلته أيضًا: {esc('، '.join(citation.also))})"
    return line


_MARKER: Final = re.compile(r"\[(\d{1,3})\]")


def answer_html(answer: Answer) -> str:
    """Return the whole answer as one HTML text: the answer, then its numbered sources."""
    body = _MARKER.sub(r"<b>[\1]</b>", esc(answer.text.strip()))
    blocks = [body]
    if note := mode_note(answer):
        blocks.append(f"<i>{esc(note)}</i>")
    if answer.citations:
        heading = CLOSEST_HEADING if answer.refused else SOURCES_HEADING
        lines = [source_line(c) for c in answer.citations]
        blocks.append(f"<b>{heading}</b>\n" + "\n".join(lines))
    text = "\n\n".join(blocks)
    return rtl_lines(text) if answer.language != "en" else text


def mode_note(answer: Answer) -> str | None:
    """Return the short note on how the answer was written (None for plain extractive ones)."""
    if answer.mode == "generative":
        return GENERATIVE_NOTE
    if answer.fallback is not None:
        return FALLBACK_NOTE
    return None


def draft_html(text: str) -> str:
    """Return a generated answer still being written: its checked sentences so far."""
    body = _MARKER.sub(r"<b>[\1]</b>", esc(text.strip()))
    html_text = rtl_lines(f"{body}\n\n<i>{esc(DRAFT_NOTE)}</i>")
    return split_html(html_text)[0]


def answer_messages(answer: Answer, limit: int = MAX_MESSAGE) -> list[str]:
    """Return the answer as messages ready to send, split under Telegram's limit."""
    return split_html(answer_html(answer), limit, rtl=answer.language != "en")


def inline_message(answer: Answer) -> str:
    """Return the answer as one message for an inline result, shortened if it must be."""
    parts = answer_messages(answer, MAX_MESSAGE - utf16_len(INLINE_TRUNCATED) - 8)
    if len(parts) == 1:
        return parts[0]
    return parts[0] + esc(INLINE_TRUNCATED)


def inline_title(answer: Answer) -> str:
    """Return the title of an inline result: the question, as the user typed it."""
    return _shorten(answer.question, 60)


def inline_description(answer: Answer) -> str:
    """Return the preview line under an inline result's title."""
    prefix = "لا تجيب المصادر: " if answer.refused else ""
    return _shorten(prefix + _MARKER.sub("", answer.text), 120)


def _shorten(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Return where `quote` is in `text`, allowing for differences in whitespace."""
    quote = quote.strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


def passage_messages(citation: Citation, passage: Passage | None) -> list[str]:
    """Return a cited passage in full with the quoted sentence marked.

    If a re-index removed the passage or changed its text, say so and show the quote as it
    was when the answer was given.
    """
    header = source_line(citation)
    quote_block = f"<blockquote>{esc(citation.quote)}</blockquote>"
    if passage is None:
        body = (
            "لم يعد هذا المقطع موجودًا في الفهرس بعد تحديثه. "
            f"هذا هو الاقتباس كما ورد في الجواب:\n{quote_block}"
        )
    elif (span := find_quote(passage.text, citation.quote)) is None:
        body = (
            "تغيّر نص هذا المقطع منذ الجواب، وهذا نصه الحالي:\n"
            f"{esc(passage.text.strip())}\n\nوكان الاقتباس:\n{quote_block}"
        )
    else:
        start, end = span
        text = passage.text
        body = (
            esc(text[:start].lstrip())
            + f"<b><u>{esc(text[start:end])}</u></b>"
            + esc(text[end:].rstrip())
        )
    return split_html(rtl_lines(f"{header}\n\n{body}"))


def welcome(examples: Sequence[str]) -> str:
    """Return the /start message."""
    lines = "\n".join(f"• {esc(q)}" for q in examples)
    return rtl_lines(
        "مرحبًا بك في <b>سند</b>! 👋\n"
        "أجيب عن أسئلتك حول الأخبار المفهرسة لديّ، وأذكر مصدر كل معلومة لتتحقق منها بنفسك.\n\n"
        f"اكتب سؤالك بالعربية، مثل:\n{lines}\n\n"
        "تحت كل جواب أزرار تفتح المقطع الذي اقتبستُ منه، وزرّان لتقييم الجواب.\n"
        "للمساعدة أرسل /help"
    )


def help_text(username: str, context_minutes: float, *, admin: bool) -> str:
    """Return the /help message; admins also see their commands."""
    minutes = f"{context_minutes:g}"
    text = (
        "<b>كيف أستخدم سند؟</b>\n"
        "• اكتب سؤالك في رسالة عادية، وسأجيبك من المقالات المفهرسة مع ذكر المصادر.\n"
        f"• يمكنك أن تسأل سؤالًا تابعًا: أتذكّر أسئلتك الأخيرة مدة {minutes} من الدقائق، "
        "ولبدء محادثة جديدة أرسل /new\n"
        f"• في المجموعات: اذكرني (@{username}) أو ردّ على إحدى رسائلي أو اكتب /ask "
        "متبوعًا بسؤالك.\n"
        f"• في أي محادثة: اكتب @{username} ثم سؤالك لترسل الجواب مع مصادره.\n\n"
        "<b>الأوامر</b>\n"
        "/start — الترحيب وأمثلة على الأسئلة\n"
        "/help — هذه المساعدة\n"
        "/sources — المقالات المفهرسة ومصادرها\n"
        "/new — محادثة جديدة تنسى الأسئلة السابقة\n"
        "/ask — طرح سؤال (مفيد في المجموعات)"
    )
    if admin:
        text += "\n\n<b>للمشرفين</b>\n/reindex — إعادة بناء الفهرس\n/stats — الإحصاءات"
    return rtl_lines(text)


def group_hint(username: str) -> str:
    """Return the reply to a mention that carries no question."""
    return rtl_lines(
        f"اكتب سؤالك بعد ذكر اسمي، مثل:\n@{username} متى تبدأ محادثات الفصائل في موسكو؟"
    )


def question_too_long(limit: int) -> str:
    """Return the reply to a question over the length limit."""
    return f"سؤالك طويل جدًا. اختصره من فضلك؛ الحد الأقصى لطول السؤال هو {limit} من الأحرف."


def slow_down(seconds: float) -> str:
    """Return the reply to a user over the question limit."""
    return (
        "تمهّل قليلًا من فضلك 🙏 أرسلت أسئلة كثيرة في وقت قصير. "
        f"يمكنك أن تسأل من جديد بعد {seconds_phrase(seconds)}."
    )


def sources_messages(articles: Sequence[dict[str, Any]], limit: int = 200) -> list[str]:
    """Return the /sources list: one line per indexed article with outlet and date."""
    if not articles:
        return [NO_ARTICLES]
    lines = []
    for n, article in enumerate(articles[:limit], 1):
        title = _link(article.get("url"), esc(str(article.get("title") or NO_TITLE)))
        lines.append(
            f"<b>{n}.</b> {esc(str(article.get('source') or NO_SOURCE))} — {title} — "
            f"{esc(format_date(article.get('date')))}"
        )
    more = len(articles) - limit
    tail = f"\n… ومقالات أخرى عددها {more}." if more > 0 else ""
    text = f"<b>المقالات المفهرسة ({len(articles)})</b>\n" + "\n".join(lines) + tail
    return split_html(rtl_lines(text))


def reindex_report(report: IndexReport, titles: dict[str, str]) -> str:
    """Return what a finished rebuild changed."""
    if not report.switched:
        return rtl_lines(
            "اكتملت إعادة الفهرسة: الفهرس محدَّث أصلًا ولا تغييرات فيه.\n"
            f"• عدد المقاطع: {report.passages}\n• ملفات متخطّاة: {len(report.skipped)}"
        )
    lines = [
        f"اكتملت إعادة بناء الفهرس في {report.seconds:.1f} ث، وأصبحتُ أجيب من الفهرس الجديد.",
        f"• مقالات جديدة: {len(report.added)}",
        f"• مقالات معدّلة: {len(report.changed)}",
        f"• دون تغيير: {len(report.unchanged)}",
        f"• محذوفة: {len(report.removed)}",
        f"• ملفات متخطّاة: {len(report.skipped)}",
        f"• عدد المقاطع: {report.passages} (حُسبت متجهات {report.embedded} منها)",
    ]
    for label, ids in (("أضيف", report.added), ("عُدّل", report.changed)):
        lines += [f"{label}: {esc(titles.get(aid, aid))}" for aid in ids[:10]]
    lines += [f"حُذف: {esc(aid)}" for aid in report.removed[:10]]
    lines += [f"تُخطّي {esc(s.file)}: {esc(s.reason)}" for s in report.skipped[:10]]
    return rtl_lines("\n".join(lines))


def stats_text(stats: Stats) -> str:
    """Return the /stats message."""
    lines = [
        "<b>إحصاءات سند</b>",
        f"• الأسئلة: {stats.questions}، رُفض منها: {stats.refused}",
        f"• إجابات البحث المضمّن: {stats.inline}",
        f"• تقييمات «مفيد»: {stats.useful}، و«غير مفيد»: {stats.not_useful}",
    ]
    if stats.latency_p50_ms is not None:
        lines.append(
            f"• زمن الإجابة: الوسيط {stats.latency_p50_ms:.0f} ملّي ثانية، "
            f"والمئين 95: {stats.latency_p95_ms:.0f} ملّي ثانية"
        )
    names = {
        "rate_limited": "تجاوز حد الأسئلة",
        "errors": "أخطاء",
        "non_text": "رسائل غير نصية",
        "reindex": "مرات إعادة الفهرسة",
    }
    lines += [f"• {label}: {stats.counters.get(key, 0)}" for key, label in names.items()]
    if stats.recent_refused:
        lines.append("\n<b>آخر الأسئلة التي لم تجب عنها المصادر</b>")
        lines += [f"• {esc(_shorten(q, 120))}" for q in stats.recent_refused[:5]]
    return rtl_lines("\n".join(lines))


# --- buttons ----------------------------------------------------------------------------------

ButtonKind = Literal["cite", "feedback"]


@dataclass(frozen=True)
class ButtonPress:
    """What a pressed button asks for: a citation (value = n) or feedback (value = 1 or 0)."""

    kind: ButtonKind
    answer_id: int
    value: int


_PREFIX: Final[dict[ButtonKind, str]] = {"cite": "c", "feedback": "f"}
_BUTTON_DATA: Final = re.compile(r"([cf]):([0-9]{1,18}):([0-9]{1,3})")
_START_CITE: Final = re.compile(r"c([0-9]{1,18})_([0-9]{1,3})")


def button_data(kind: ButtonKind, answer_id: int, value: int) -> str:
    """Return callback data for a button: "c:<answer id>:<n>" or "f:<answer id>:<1|0>".

    Answers are stored by a short integer id, so the data stays far below Telegram's 64
    bytes however long chunk ids or quotes are.
    """
    data = f"{_PREFIX[kind]}:{answer_id}:{value}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:  # pragma: no cover - ids are small integers
        raise ValueError("callback data over 64 bytes")
    return data


def parse_button(data: str | None) -> ButtonPress | None:
    """Return what a button's callback data asks for, or None for unknown or forged data."""
    match = _BUTTON_DATA.fullmatch(data or "")
    if match is None:
        return None
    kind: ButtonKind = "cite" if match[1] == "c" else "feedback"
    return ButtonPress(kind, int(match[2]), int(match[3]))


def start_payload(answer_id: int, n: int) -> str:
    """Return the /start payload of a deep link that opens citation n of an answer."""
    return f"c{answer_id}_{n}"


def parse_start_payload(payload: str) -> tuple[int, int] | None:
    """Return (answer id, n) from a deep-link payload, or None."""
    match = _START_CITE.fullmatch(payload.strip())
    return (int(match[1]), int(match[2])) if match else None


def _citation_label(citation: Citation) -> str:
    name = _shorten(citation.source or citation.title or NO_SOURCE, 24)
    return f"📖 [{citation.n}] {isolate_latin(name)}"


def _rows(buttons: Sequence[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def _feedback_row(answer_id: int) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(USEFUL, callback_data=button_data("feedback", answer_id, 1)),
        InlineKeyboardButton(NOT_USEFUL, callback_data=button_data("feedback", answer_id, 0)),
    ]


def answer_keyboard(answer_id: int, citations: Iterable[Citation]) -> InlineKeyboardMarkup:
    """Return one button per citation (opens its passage) and the two feedback buttons."""
    cites = [
        InlineKeyboardButton(_citation_label(c), callback_data=button_data("cite", answer_id, c.n))
        for c in citations
    ]
    return InlineKeyboardMarkup([*_rows(cites, 3), _feedback_row(answer_id)])


def inline_keyboard(
    answer_id: int, citations: Iterable[Citation], username: str
) -> InlineKeyboardMarkup:
    """Return the buttons of an answer sent inline: deep links into the private chat.

    An inline message may sit in a chat the bot is not in, so a citation opens in the user's
    private chat with the bot instead of as a reply.
    """
    link = f"https://t.me/{username}?start="
    cites = [
        InlineKeyboardButton(_citation_label(c), url=link + start_payload(answer_id, c.n))
        for c in citations
    ]
    return InlineKeyboardMarkup([*_rows(cites, 3), _feedback_row(answer_id)])


def opened_toast(n: int) -> str:
    """Return the short notice shown when a citation button is pressed."""
    return f"المصدر [{n}]"
