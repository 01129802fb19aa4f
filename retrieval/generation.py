"""Generative answers: a chat model writes from numbered passages; Sanad checks every sentence.

The extractive composer (answering.py) cannot misquote because it only copies. A language
model writes more fluent Arabic but may cite a passage that says something else, or one that
was never given. So nothing it writes reaches a reader unchecked:

- the prompt gives the passages the hybrid retriever found, numbered, with the conversation's
  previous questions and rules: answer only from the passages, end each claim with its
  passage number `[n]`, say so when they do not answer;
- each sentence of the reply must cite (`[3]`, `[٣]`, `[1، 2]` all count) only passages that
  were given, and its content words and every number in it must be found in what it cites;
  a sentence that fails is removed, and when too little survives, or the model declines,
  errs or runs out of time, the caller keeps the extractive answer;
- every citation of a generated answer still quotes a verbatim sentence of its passage: the
  one that best supports the sentences citing it (sentence vectors plus term coverage), so
  the edges can show and mark it as they do for extractive answers.

LangChain's chat models are the seam: `build_chat_model` makes a ChatOpenAI (any
OpenAI-compatible server) or ChatOllama from the settings, once, at start-up; tests pass a
fake one. The model is called from a helper thread so a stalled server cannot hold a reader
past the time limit.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from retrieval.answering import framing_language, score_sentences
from retrieval.chunking import split_sentences
from retrieval.dates import arabic_date
from retrieval.errors import SettingsError
from retrieval.models import Answer, Citation, Passage
from retrieval.normalize import fold_digits, for_search, tokenize

if TYPE_CHECKING:
    from retrieval.settings import Settings

logger = logging.getLogger(__name__)

# --- prompts (the model reads these; a reader never does) ---------------------------------------

REFUSAL = "لا تجيب المقاطع المتاحة عن هذا السؤال."

ANSWER_RULES = f"""\
أنت «سند»، مساعد يجيب عن الأسئلة حول الأخبار من مقاطع مرقّمة تُعطى لك، ولا شيء غيرها.

القواعد:
1. اكتب بالعربية الفصحى، بإيجاز، في جمل تامة قصيرة.
2. خذ كل معلومة من المقاطع وحدها، ولا تضف شيئًا من معرفتك ولا تستنتج ما لم يُذكر.
3. اختم كل جملة برقم المقطع الذي يدعمها بين قوسين معقوفين، مثل [2]، أو [1][3] إن دعمها \
أكثر من مقطع. لا تذكر رقمًا لم يُعطَ لك.
4. انقل الأسماء والأرقام والتواريخ كما وردت في المقاطع تمامًا.
5. إذا اختلفت المقاطع في معلومة فاذكر كل رواية مع رقم مقطعها.
6. إذا لم تذكر المقاطع جزءًا مما سُئل عنه فقل ذلك في جملة تبدأ بـ«لا تذكر المقاطع».
7. إذا لم تجب المقاطع عن السؤال أصلًا فاكتب هذه الجملة وحدها: {REFUSAL}
8. لا تكتب قائمة مصادر ولا روابط ولا عناوين؛ سند يضيف المصادر بنفسه."""

REWRITE_RULES = """\
أنت تساعد محرك بحث في الأخبار. ستُعطى أسئلة سابقة من محادثة، ثم سؤالًا أخيرًا قد يعتمد \
عليها (مثل «ومتى؟» أو «وماذا قال عنها؟»).
أعد كتابة السؤال الأخير سؤالًا واحدًا مستقلًا بالعربية الفصحى يُفهم دون المحادثة: سمِّ \
الأشخاص والأماكن والأحداث التي يشير إليها. إذا كان السؤال الأخير مستقلًا أصلًا فأعده كما هو.
اكتب السؤال وحده في سطر واحد، بلا شرح ولا مقدمة."""

_NO_SOURCE = "مصدر غير مذكور"


def answer_prompt(
    question: str, history: Sequence[str], passages: Sequence[Passage]
) -> list[BaseMessage]:
    """Return the grounded prompt: the rules, the numbered passages, earlier questions."""
    blocks = []
    for n, p in enumerate(passages, 1):
        head = " — ".join(x for x in (p.source or _NO_SOURCE, p.title, arabic_date(p.date)) if x)
        blocks.append(f"[{n}] {head}\n{' '.join(p.text.split())}")
    parts = ["المقاطع:\n\n" + "\n\n".join(blocks)]
    if history:
        earlier = "\n".join(f"- {q}" for q in history)
        parts.append(f"أسئلة سابقة في المحادثة (الأقدم أولًا):\n{earlier}")
    parts.append(f"السؤال: {question}")
    return [SystemMessage(ANSWER_RULES), HumanMessage("\n\n".join(parts))]


def rewrite_prompt(question: str, history: Sequence[str]) -> list[BaseMessage]:
    """Return the prompt that turns a follow-up into a standalone question."""
    earlier = "\n".join(f"- {q}" for q in history)
    text = f"الأسئلة السابقة (الأقدم أولًا):\n{earlier}\n\nالسؤال الأخير: {question}"
    return [SystemMessage(REWRITE_RULES), HumanMessage(text)]


# --- reading and checking the model's reply ---------------------------------------------------

_DIGIT = "0-9\u0660-\u0669\u06f0-\u06f9"
# [3], [٣], [1، 2], [1, 2 و3], [المقطع 2]: what models write when asked for [n].
_MARKER = re.compile(
    rf"\[\s*(?:(?:ال)?(?:مقطع|مصدر)\s*)?([{_DIGIT}]{{1,3}}(?:\s*(?:[,،]|و)\s*[{_DIGIT}]{{1,3}})*)\s*\]"
)
_ONLY_MARKERS = re.compile(rf"^[\s.!?؟؛،,…:]*(?:{_MARKER.pattern}[\s.!?؟؛،,…]*)+$")
_LEADING_MARKERS = re.compile(rf"^\s*(?:{_MARKER.pattern}[\s.!?؟؛،,…]*)+")
_PARTIAL_MARKER = re.compile(r"^\s*\[[^\]]*$")
_PUNCTUATION = " \t\n.!?؟؛،,:…-*#"
_NUMBER = re.compile(r"\d+")
_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_TERMINAL_BEFORE_MARKER = re.compile(r"([.!?؟؛…])(\[)")
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
# «لا تذكر المقاطع ...»: a remark on what the passages lack, not a claim to cite.
_NOT_STATED = re.compile(
    r"^(?:و|ف)?(?:لا|لم)\s+(?:تذكر|تذكرا|تجيب|تجب|تحدد|تتضمن|تشير|تشر|يذكر|يرد|تورد|توضح|تبين)"
    r"\s+(?:المقاطع|المصادر|النصوص|الاخبار)"
    r"|^(?:the\s+)?(?:passages|sources)\s+do\s+not",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Checks:
    """How strict the checks are. Not calibrated on a real model yet (see README)."""

    min_support: float = 0.5  # share of a claim's content words found in what it cites
    max_dropped: float = 0.5  # more than this share of claims removed: keep the extractive one


DEFAULT_CHECKS = Checks()


@dataclass(frozen=True)
class Sentence:
    """One sentence of the model's reply, with the passages it cites (as numbered for it)."""

    text: str
    cites: tuple[int, ...]
    new_paragraph: bool = False
    remark: bool = False  # says what the passages do not state; needs no citation


@dataclass(frozen=True)
class Checked:
    """The reply after checking: the sentences kept, those removed and why."""

    kept: tuple[Sentence, ...]
    dropped: tuple[tuple[str, str], ...] = ()

    @property
    def claims(self) -> tuple[Sentence, ...]:
        """Return the kept sentences that state something (with citations)."""
        return tuple(s for s in self.kept if not s.remark)


def markers(sentence: str) -> list[int]:
    """Return the passage numbers a sentence cites, in order, Arabic-Indic digits included."""
    numbers: list[int] = []
    for match in _MARKER.finditer(sentence):
        for digits in re.split(r"\s*(?:[,،]|و)\s*", match.group(1)):
            numbers.append(int(fold_digits(digits)))
    return numbers


def split_reply(text: str) -> list[tuple[str, bool]]:
    """Split a reply into sentences (with whether each starts a paragraph).

    A citation written after the full stop («... موسكو. [1] وتبدأ ...») belongs to the
    sentence before it, unless it opens a new line (then it is a list of sources).
    """
    text = _TERMINAL_BEFORE_MARKER.sub(r"\1 \2", text)
    out: list[tuple[str, bool]] = []
    previous_end = 0
    for start, end in split_sentences(text):
        piece = text[start:end]
        paragraph = bool(out) and "\n" in text[previous_end:start]
        previous_end = end
        lead = _LEADING_MARKERS.match(piece)
        if out and lead and not paragraph:
            body, was_paragraph = out[-1]
            out[-1] = (f"{body} {lead.group(0).strip()}", was_paragraph)
            piece = piece[lead.end() :].strip()
            if not piece.strip(_PUNCTUATION):
                continue
        elif out and _ONLY_MARKERS.match(piece):
            body, was_paragraph = out[-1]
            out[-1] = (f"{body} {piece.strip()}", was_paragraph)
            continue
        out.append((piece, paragraph))
    return out


def complete_part(text: str) -> str:
    """Return the part of a streaming reply whose sentences are surely complete.

    The last sentence may still grow, and a citation may still follow its full stop: it
    counts only once another sentence has begun after it.
    """
    sentences = split_reply(text)
    if sentences and _PARTIAL_MARKER.match(sentences[-1][0]):
        sentences.pop()  # «[1» still being written: the sentence before it is not done
    out = ""
    for sentence, paragraph in sentences[:-1]:
        out += ("\n" if paragraph else " ") + sentence if out else sentence
    return out


class Support:
    """What a sentence may rest on: each given passage's words and numbers, and its header."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.count = len(passages)
        self._tokens: list[frozenset[str]] = []
        self._numbers: list[frozenset[str]] = []
        for p in passages:
            text = " ".join(
                x for x in (p.title, p.source, p.date, arabic_date(p.date), p.text) if x
            )
            self._tokens.append(frozenset(tokenize(text)))
            self._numbers.append(frozenset(_NUMBER.findall(fold_digits(text))))

    def problem(self, body: str, cites: Sequence[int], checks: Checks) -> str | None:
        """Return why a claim citing these passages is not supported by them, or None."""
        if not cites:
            return "uncited"
        if any(not 1 <= n <= self.count for n in cites):
            return "invalid citation"
        tokens = set().union(*(self._tokens[n - 1] for n in cites))
        numbers = set().union(*(self._numbers[n - 1] for n in cites))
        if any(number not in numbers for number in _NUMBER.findall(fold_digits(body))):
            return "number not in the cited passage"
        words = set(tokenize(body))
        if not words:
            return "no content"
        if len(words & tokens) / len(words) < checks.min_support:
            return "not supported by the cited passage"
        return None


def check_reply(text: str, support: Support, checks: Checks = DEFAULT_CHECKS) -> Checked:
    """Check every sentence of a reply against the passages; keep only what holds."""
    text = _THINKING.sub("", text).strip()
    kept: list[Sentence] = []
    dropped: list[tuple[str, str]] = []
    for sentence, paragraph in split_reply(text):
        body = _MARKER.sub(" ", sentence)
        folded = " ".join(for_search(body).split())
        cites = tuple(markers(sentence))
        if not cites and _is_remark(folded):
            kept.append(Sentence(" ".join(sentence.split()), (), paragraph, remark=True))
            continue
        if _LINK.search(sentence):
            problem: str | None = "link"
        elif _MARKER.match(sentence.lstrip()):
            problem = "sources list"  # «[1] الجزيرة — ...»: Sanad lists sources itself
        else:
            problem = support.problem(body, cites, checks)
        if problem is None:
            kept.append(Sentence(" ".join(sentence.split()), cites, paragraph))
        elif body.strip(_PUNCTUATION):
            dropped.append((sentence, problem))
    return Checked(tuple(kept), tuple(dropped))


def _is_remark(folded: str) -> bool:
    """Tell a short note on what the passages lack («لا تذكر المقاطع ...») from a claim.

    Such a note needs no citation, so it may not carry numbers or run long enough to smuggle
    a claim in after it.
    """
    return (
        bool(_NOT_STATED.search(folded))
        and not _NUMBER.search(fold_digits(folded))
        and len(folded.split()) <= 25
    )


def verdict(checked: Checked, checks: Checks = DEFAULT_CHECKS) -> str | None:
    """Return why the reply cannot be the answer ("refused", "unsupported"), or None."""
    claims = len(checked.claims)
    if claims == 0:
        return "refused" if checked.kept else "unsupported"
    if len(checked.dropped) > checks.max_dropped * (claims + len(checked.dropped)):
        return "unsupported"
    return None


def render(sentences: Sequence[Sentence]) -> tuple[str, list[int]]:
    """Return the answer text with citations renumbered by first appearance, and the order.

    The reader sees [1], [2], ... whatever numbers the passages had in the prompt; `order`
    maps each new number (its index + 1) to the passage number it stands for.
    """
    order: list[int] = []
    for sentence in sentences:
        for n in sentence.cites:
            if n not in order:
                order.append(n)
    number = {n: i for i, n in enumerate(order, 1)}

    def renumber(match: re.Match[str]) -> str:
        cited = markers(match.group(0))
        return "".join(f"[{number[n]}]" for n in dict.fromkeys(cited) if n in number)

    out = ""
    for sentence in sentences:
        text = _MARKER.sub(renumber, sentence.text)
        if out:
            out += "\n" if sentence.new_paragraph else " "
        out += text
    return out, order


# --- quotes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grounding:
    """What picking quotes needs from the index: sentence vectors, term weights, the model."""

    sentence_vectors: np.ndarray
    idf: Callable[[str], float]
    embed: Callable[[Sequence[str]], np.ndarray]


def pick_quotes(
    claims: Sequence[Sentence], passages: Sequence[Passage], grounding: Grounding
) -> dict[int, str]:
    """Return, per cited passage number, its sentence that best supports the claims citing it.

    The quote is copied from the passage, so it is verbatim text of the article.
    """
    cited = sorted({n for c in claims for n in c.cites})
    if not cited:
        return {}
    bodies = [_MARKER.sub(" ", c.text) for c in claims]
    vectors = grounding.embed(bodies)
    best: dict[int, tuple[float, str]] = {}
    for claim, body, vector in zip(claims, bodies, vectors, strict=True):
        tokens = tokenize(body)
        for n in claim.cites:
            passage = passages[n - 1]
            if passage.sentences:
                candidates = score_sentences(
                    tokens, vector, [passage], grounding.sentence_vectors, grounding.idf
                )
                scored = [(c.dense + c.coverage, c.text) for c in candidates]
            else:  # a passage stored without sentence rows: words alone decide
                words = set(tokens)
                scored = [
                    (len(words & set(tokenize(passage.text[s:e]))), passage.text[s:e])
                    for s, e in split_sentences(passage.text)
                ]
            for score, text in scored:
                if n not in best or score > best[n][0]:
                    best[n] = (score, text)
    return {n: text for n, (_, text) in best.items()}


# --- the call ---------------------------------------------------------------------------------


class ModelTimeout(Exception):
    """The model did not finish within the time limit."""


@dataclass(frozen=True)
class Fallback:
    """Why a generated reply was not used; the caller keeps the extractive answer."""

    reason: str  # "error", "timeout", "refused", "unsupported"
    detail: str = ""
    dropped: tuple[tuple[str, str], ...] = field(default=())


class Generator:
    """Writes answers with a chat model and checks them; one per process, shared by threads."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        timeout: float,
        rewrite: bool = True,
        checks: Checks = DEFAULT_CHECKS,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.rewrites = rewrite
        self.checks = checks

    @property
    def name(self) -> str:
        """Return the model's name, for logs and reports."""
        for attribute in ("model_name", "model"):
            value = getattr(self.model, attribute, None)
            if isinstance(value, str):
                return value
        return type(self.model).__name__

    def rewrite(self, question: str, history: Sequence[str], *, deadline: float) -> str | None:
        """Return the follow-up as a standalone question, or None if the model fails at it."""
        try:
            reply = "".join(self._stream(rewrite_prompt(question, history), deadline))
        except ModelTimeout:
            logger.warning("the model did not rewrite the follow-up in time")
            return None
        except Exception as exc:  # any client error: the caller retrieves without it
            logger.warning("the model could not rewrite the follow-up: %s", _describe(exc))
            return None
        return clean_rewrite(reply)

    def answer(
        self,
        question: str,
        history: Sequence[str],
        passages: Sequence[Passage],
        grounding: Grounding,
        *,
        deadline: float,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer | Fallback:
        """Ask the model, check its reply, and return the answer or why it cannot be used.

        `on_text` receives the checked text so far each time a sentence passes (for
        streaming); the final answer may still fall back, and then replaces it.
        """
        support = Support(passages)
        reply = ""
        done = shown = ""
        try:
            for piece in self._stream(answer_prompt(question, history, passages), deadline):
                reply += piece
                if on_text is None or complete_part(reply) == done:
                    continue
                done = complete_part(reply)
                draft = check_reply(_THINKING.sub("", done), support, self.checks)
                text, _ = render(draft.kept)
                if draft.claims and text != shown:
                    shown = text
                    on_text(text)
        except ModelTimeout:
            return Fallback("timeout", f"no complete reply within {self.timeout:g} s")
        except Exception as exc:  # any client or server error: keep the extractive answer
            return Fallback("error", _describe(exc))
        logger.debug("model reply: %s", reply)
        checked = check_reply(reply, support, self.checks)
        for sentence, problem in checked.dropped:
            logger.info("removed a generated sentence (%s): %s", problem, sentence)
        reason = verdict(checked, self.checks)
        if reason is not None:
            return Fallback(reason, f"{len(checked.claims)} claims kept", checked.dropped)
        text, order = render(checked.kept)
        quotes = pick_quotes(checked.claims, passages, grounding)
        citations = []
        for new, n in enumerate(order, 1):
            p = passages[n - 1]
            citations.append(
                Citation(
                    n=new,
                    article_id=p.article_id,
                    chunk_id=p.chunk_id,
                    file=p.file,
                    title=p.title,
                    quote=quotes[n],
                    source=p.source,
                    date=p.date,
                    url=p.url,
                )
            )
        return Answer(
            question=question,
            text=text,
            refused=False,
            citations=tuple(citations),
            passages=tuple(passages),
            language=framing_language(question),
            mode="generative",
        )

    def _stream(self, messages: list[BaseMessage], deadline: float) -> Iterator[str]:
        """Yield the reply's text as it arrives; raise ModelTimeout at the deadline.

        The client runs in a helper thread: a server that stalls mid-reply cannot hold the
        caller past the deadline (the abandoned thread ends at the client's own timeout).
        """
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
        abandoned = threading.Event()

        def pump() -> None:
            try:
                for chunk in self.model.stream(messages):
                    if abandoned.is_set():
                        return
                    pieces.put(("text", chunk.text))
                pieces.put(("end", None))
            except Exception as exc:  # handed to the caller's thread
                pieces.put(("error", exc))

        threading.Thread(target=pump, name="sanad-llm", daemon=True).start()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ModelTimeout
                try:
                    kind, value = pieces.get(timeout=remaining)
                except queue.Empty:
                    raise ModelTimeout from None
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                if value:
                    yield str(value)
        finally:
            abandoned.set()

    def close(self) -> None:
        """Close ChatOllama's own HTTP client.

        ChatOpenAI's is shared by every instance with the same settings (langchain-openai
        caches it), so it is left to the process's exit.
        """
        close = getattr(getattr(self.model, "_client", None), "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # closing is best effort
                logger.debug("closing the model's client failed: %s", exc)


def clean_rewrite(reply: str) -> str | None:
    """Return a rewritten question from the model's reply, or None if it is not one."""
    reply = _THINKING.sub("", reply)
    line = next((x.strip() for x in reply.splitlines() if x.strip()), "")
    line = re.sub(
        r"^(?:السؤال(?:\s+المستقل)?|standalone question)\s*[:：]\s*", "", line, flags=re.I
    )
    line = line.strip(" \"'«»“”`*")
    if not 3 <= len(line) <= 300 or "[" in line or not any(c.isalpha() for c in line):
        return None
    return line


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --- building the model (entry points only) ---------------------------------------------------


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """Return the chat model SANAD_LLM asks for, or None for `none`.

    Called once at start-up by an entry point; stops with a message naming the missing
    setting. The API key goes to the client only, never to a log.
    """
    if settings.llm == "none":
        return None
    if not settings.llm_model:
        raise SettingsError(
            f"SANAD_LLM={settings.llm} needs SANAD_LLM_MODEL (the model's name on the server)"
        )
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if settings.llm == "openai":
        if key is None and not settings.llm_base_url:
            raise SettingsError(
                "SANAD_LLM=openai without SANAD_LLM_BASE_URL calls OpenAI's API, which needs "
                "SANAD_LLM_API_KEY; for a local server set SANAD_LLM_BASE_URL"
            )
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        return ChatOpenAI(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            # Local servers take any key; OpenAI's client insists on one.
            api_key=SecretStr(key or "not-needed"),
            timeout=settings.llm_timeout,
            max_retries=0,  # a retry would not fit in the time limit; the answer falls back
            temperature=0,
            disable_streaming=not settings.llm_stream,
        )
    from langchain_ollama import ChatOllama

    client: dict[str, Any] = {"timeout": settings.llm_timeout}
    if key:
        client["headers"] = {"Authorization": f"Bearer {key}"}
    return ChatOllama(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        temperature=0,
        client_kwargs=client,
        disable_streaming=not settings.llm_stream,
    )
