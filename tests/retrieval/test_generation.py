"""Generated answers, checked: LangChain's fake chat models drive the generator offline.

What a reader would notice: a sentence citing a passage that was never given, one that
cites nothing, or one whose number is not in its source never reaches them; citations keep
verbatim quotes; a failing, slow or declining model leaves them the extractive answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel

from retrieval.chunking import split_sentences
from retrieval.generation import (
    REFUSAL,
    Checks,
    Fallback,
    Generator,
    Grounding,
    Support,
    answer_prompt,
    check_reply,
    clean_rewrite,
    complete_part,
    markers,
    render,
    rewrite_prompt,
    verdict,
)
from retrieval.models import Answer, Passage
from tests.fakes.embedder import FakeEmbedder

TEXTS = (
    "أعلنت روسيا الجمعة أنها دعت قادة الفصائل الفلسطينية إلى محادثات في موسكو يوم 29 فبراير. "
    "وقال المتحدث إن الدعوة شملت حركتي حماس وفتح.",
    "قال رئيس الوزراء محمد اشتية إن روسيا وجهت الدعوة للاجتماع في 26 الشهر الجاري. "
    "وأضاف أن الاجتماع يهدف إلى توحيد الموقف الفلسطيني.",
    "استشهد 12 فلسطينيا في قصف إسرائيلي على وادي غزة. ونقل المصابون إلى مستشفى شهداء الأقصى.",
    "قال الكرملين إن الغارات الأمريكية في سوريا أمر سيء جدا.",
    "التقى وفد حماس نائب وزير الخارجية الروسي ميخائيل بوغدانوف في موسكو.",
)
SOURCES = ("الجزيرة", "فرانس24", "الجزيرة", "روسيا اليوم", "بي بي سي")


def make_passages(texts: Sequence[str] = TEXTS) -> tuple[list[Passage], Grounding]:
    """Passages with sentence rows and a sentence matrix, as an index would hold them."""
    embedder = FakeEmbedder()
    rows: list[str] = []
    passages = []
    for i, text in enumerate(texts):
        sentences = []
        for start, end in split_sentences(text):
            sentences.append((start, end, len(rows)))
            rows.append(text[start:end])
        passages.append(
            Passage(
                chunk_id=f"a{i}:0",
                article_id=f"a{i}",
                file=f"a{i}.txt",
                title=f"خبر {i}",
                text=text,
                score=0.9,
                source=SOURCES[i],
                date="2024-02-16",
                sentences=tuple(sentences),
            )
        )
    grounding = Grounding(
        sentence_vectors=embedder.embed_passages(rows),
        idf=lambda _token: 1.0,
        embed=embedder.embed_queries,
    )
    return passages, grounding


def ask(
    model: object,
    *,
    history: Sequence[str] = (),
    timeout: float = 5.0,
    on_text: list[str] | None = None,
) -> Answer | Fallback:
    passages, grounding = make_passages()
    generator = Generator(model, timeout=timeout)  # type: ignore[arg-type]
    return generator.answer(
        "من دعا الفصائل الفلسطينية إلى موسكو ومتى؟",
        history,
        passages,
        grounding,
        deadline=time.monotonic() + timeout,
        on_text=on_text.append if on_text is not None else None,
    )


GOOD = (
    "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو يوم 29 فبراير [1]. "
    "وقال اشتية إن الاجتماع في 26 الشهر الجاري [٢]."
)


# --- reading citations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "numbers"),
    [
        ("دعت روسيا الفصائل [1].", [1]),
        ("دعت روسيا الفصائل [٣].", [3]),  # Arabic-Indic digits
        ("دعت روسيا الفصائل [۴].", [4]),  # Persian digits
        ("دعت روسيا الفصائل [1][3].", [1, 3]),
        ("دعت روسيا الفصائل [1، 2].", [1, 2]),
        ("دعت روسيا الفصائل [1, 2 و5].", [1, 2, 5]),
        ("دعت روسيا الفصائل [المقطع 2].", [2]),
        ("دعت روسيا الفصائل (1).", []),  # not our marker
        ("دعت روسيا الفصائل.", []),
    ],
)
def test_markers_are_read_in_every_digit_form(sentence: str, numbers: list[int]) -> None:
    assert markers(sentence) == numbers


# --- checking sentences -----------------------------------------------------------------------


def checked(reply: str) -> tuple[list[str], list[tuple[str, str]]]:
    passages, _ = make_passages()
    result = check_reply(reply, Support(passages))
    return [s.text for s in result.kept], list(result.dropped)


def test_a_well_cited_reply_is_kept_whole() -> None:
    kept, dropped = checked(GOOD)
    assert len(kept) == 2
    assert dropped == []


def test_a_citation_of_a_passage_not_given_removes_its_sentence() -> None:
    kept, dropped = checked(
        "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]. "
        "وستحضر الصين الاجتماع بصفة مراقب [9]."
    )
    assert kept == ["دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]."]
    assert dropped == [("وستحضر الصين الاجتماع بصفة مراقب [9].", "invalid citation")]


@pytest.mark.parametrize("marker", ["[0]", "[6]", "[٩]", "[1][9]"])
def test_any_number_outside_the_passages_is_invalid(marker: str) -> None:
    _, dropped = checked(f"دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو {marker}.")
    assert [reason for _, reason in dropped] == ["invalid citation"]


def test_a_sentence_without_a_citation_is_removed() -> None:
    kept, dropped = checked("دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو.")
    assert kept == []
    assert [reason for _, reason in dropped] == ["uncited"]


def test_a_date_the_cited_passage_does_not_give_is_removed() -> None:
    # Passage 2 says the 26th; claiming the 29th from it is citing a source that says otherwise.
    kept, dropped = checked(
        "وقال اشتية إن الاجتماع في 26 الشهر الجاري [2]. وقال اشتية إن الاجتماع في 29 [2]."
    )
    assert kept == ["وقال اشتية إن الاجتماع في 26 الشهر الجاري [2]."]
    assert [reason for _, reason in dropped] == ["number not in the cited passage"]


def test_a_claim_the_cited_passage_does_not_hold_is_removed() -> None:
    _, dropped = checked("أعلنت الصين دعمها الكامل للمبادرة وأرسلت مبعوثها الخاص [1].")
    assert [reason for _, reason in dropped] == ["not supported by the cited passage"]


def test_a_citation_after_the_full_stop_belongs_to_its_sentence() -> None:
    kept, dropped = checked(
        "دعت روسيا قادة الفصائل إلى موسكو. [1] وشملت الدعوة حركتي حماس وفتح. [1]"
    )
    assert kept == [
        "دعت روسيا قادة الفصائل إلى موسكو. [1]",
        "وشملت الدعوة حركتي حماس وفتح. [1]",
    ]
    assert dropped == []


def test_a_list_of_sources_or_links_written_by_the_model_is_removed() -> None:
    kept, dropped = checked(
        "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1].\n"
        "[1] الجزيرة — خبر 0\n"
        "التفاصيل في https://example.com/news [1]."
    )
    assert len(kept) == 1
    assert [reason for _, reason in dropped] == ["sources list", "link"]


def test_a_note_on_what_the_passages_lack_needs_no_citation() -> None:
    kept, dropped = checked(
        "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]. "
        "لا تذكر المقاطع موعد انتهاء المحادثات."
    )
    assert kept[-1] == "لا تذكر المقاطع موعد انتهاء المحادثات."
    assert dropped == []


def test_a_note_cannot_smuggle_in_an_uncited_number() -> None:
    _, dropped = checked("لا تذكر المقاطع ذلك لكن الاجتماع سيستمر 5 أيام.")
    assert [reason for _, reason in dropped] == ["uncited"]


# --- whole replies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (GOOD, None),
        (REFUSAL, "refused"),
        ("روسيا دعت الفصائل. والاجتماع في موسكو.", "unsupported"),  # cites nothing
        ("", "unsupported"),
        (  # one claim holds, two are removed: too little survives
            "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]. "
            "وستحضر الصين الاجتماع [9]. ووافقت إسرائيل على المشاركة [3].",
            "unsupported",
        ),
    ],
)
def test_verdict_on_a_reply(reply: str, reason: str | None) -> None:
    passages, _ = make_passages()
    assert verdict(check_reply(reply, Support(passages))) == reason


def test_citations_are_renumbered_in_order_of_first_use() -> None:
    passages, _ = make_passages()
    result = check_reply(
        "وقال اشتية إن الاجتماع في 26 الشهر الجاري [2]. ودعت روسيا قادة الفصائل إلى موسكو [1][2].",
        Support(passages),
    )
    text, order = render(result.kept)
    assert text == (
        "وقال اشتية إن الاجتماع في 26 الشهر الجاري [1]. ودعت روسيا قادة الفصائل إلى موسكو [2][1]."
    )
    assert order == [2, 1]


def test_a_sentence_is_complete_only_once_the_next_one_starts() -> None:
    assert complete_part("دعت روسيا الفصائل [1]. وتبدأ") == "دعت روسيا الفصائل [1]."
    assert complete_part("دعت روسيا الفصائل. [1") == ""  # its citation is still coming
    assert complete_part("دعت روسيا الفصائل. [1] وتبدأ") == "دعت روسيا الفصائل. [1]"


def test_thinking_is_never_shown() -> None:
    kept, _ = checked("<think>ربما 30 فبراير [7]</think>" + GOOD)
    assert all("30" not in s and "[7]" not in s for s in kept)
    assert len(kept) == 2


def test_checks_can_be_made_stricter() -> None:
    passages, _ = make_passages()
    paraphrase = "روسيا وجهت دعوة إلى قادة الفصائل لمحادثات تستضيفها العاصمة موسكو [1]."
    assert check_reply(paraphrase, Support(passages)).dropped == ()
    strict = check_reply(paraphrase, Support(passages), Checks(min_support=0.95))
    assert strict.kept == ()


# --- prompts ----------------------------------------------------------------------------------


def test_the_prompt_numbers_the_passages_and_carries_the_conversation() -> None:
    passages, _ = make_passages()
    system, human = answer_prompt("ومتى؟", ["من دعا الفصائل إلى موسكو؟"], passages)
    assert "[2]" in str(system.content)  # the citation rule, with an example
    assert REFUSAL in str(system.content)
    text = str(human.content)
    assert "[1] الجزيرة — خبر 0 — 16 فبراير 2024\nأعلنت روسيا" in text
    assert "[5] بي بي سي — خبر 4" in text
    assert "- من دعا الفصائل إلى موسكو؟" in text
    assert text.endswith("السؤال: ومتى؟")
    rewrite = rewrite_prompt("ومتى؟", ["من دعا الفصائل إلى موسكو؟"])
    assert str(rewrite[1].content).endswith("السؤال الأخير: ومتى؟")


# --- the generator with LangChain's fake chat models -------------------------------------------


def test_a_good_reply_becomes_an_answer_with_verbatim_quotes() -> None:
    answer = ask(GenericFakeChatModel(messages=iter([GOOD])))
    assert isinstance(answer, Answer)
    assert answer.mode == "generative"
    assert answer.text == (
        "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو يوم 29 فبراير [1]. "
        "وقال اشتية إن الاجتماع في 26 الشهر الجاري [2]."
    )
    passages, _ = make_passages()
    assert [c.article_id for c in answer.citations] == ["a0", "a1"]
    assert [c.source for c in answer.citations] == ["الجزيرة", "فرانس24"]
    for citation, passage in zip(answer.citations, passages, strict=False):
        assert citation.quote in passage.text
    # The quote is the sentence that supports the claim, not just the passage's first one.
    assert answer.citations[1].quote.startswith("قال رئيس الوزراء محمد اشتية")


def test_streaming_shows_only_checked_sentences_as_they_complete() -> None:
    reply = (
        "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]. "
        "وستحضر الصين الاجتماع بصفة مراقب [9]. "
        "وقال اشتية إن الاجتماع في 26 الشهر الجاري [2]. "
        "وشملت الدعوة حركتي حماس وفتح [1]."
    )
    drafts: list[str] = []
    answer = ask(FakeListChatModel(responses=[reply]), on_text=drafts)
    assert isinstance(answer, Answer)
    assert drafts[0] == "دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو [1]."
    assert all("[9]" not in d and "الصين" not in d for d in drafts)
    assert drafts == sorted(drafts, key=len)  # each draft extends the one before
    assert drafts[-1] in answer.text
    assert "الصين" not in answer.text


def test_a_model_error_falls_back() -> None:
    model = FakeListChatModel(responses=[GOOD], error_on_chunk_number=3)
    result = ask(model)
    assert isinstance(result, Fallback)
    assert result.reason == "error"


def test_a_slow_model_falls_back_within_the_time_limit() -> None:
    model = FakeListChatModel(responses=[GOOD], sleep=0.05)  # about 6 s for the whole reply
    started = time.monotonic()
    result = ask(model, timeout=0.5)
    assert isinstance(result, Fallback)
    assert result.reason == "timeout"
    assert time.monotonic() - started < 1.5


def test_a_model_that_declines_falls_back() -> None:
    result = ask(GenericFakeChatModel(messages=iter([REFUSAL])))
    assert isinstance(result, Fallback)
    assert result.reason == "refused"


def test_a_reply_that_cites_nothing_falls_back() -> None:
    uncited = "دعت روسيا الفصائل إلى موسكو في 29 فبراير."
    result = ask(GenericFakeChatModel(messages=iter([uncited])))
    assert isinstance(result, Fallback)
    assert result.reason == "unsupported"


def test_the_rewrite_is_one_clean_question() -> None:
    model = GenericFakeChatModel(messages=iter(["«متى تبدأ محادثات الفصائل في موسكو؟»\nشرح"]))
    generator = Generator(model, timeout=5)
    deadline = time.monotonic() + 5
    assert generator.rewrite("ومتى؟", ["من دعا الفصائل؟"], deadline=deadline) == (
        "متى تبدأ محادثات الفصائل في موسكو؟"
    )


@pytest.mark.parametrize(
    ("reply", "question"),
    [
        ("السؤال المستقل: متى تبدأ المحادثات؟", "متى تبدأ المحادثات؟"),
        ("<think>السؤال عن الموعد</think>\nمتى تبدأ المحادثات؟", "متى تبدأ المحادثات؟"),
        ("", None),
        ("؟", None),
        ("متى [1]؟", None),
        ("س" * 400, None),
    ],
)
def test_clean_rewrite(reply: str, question: str | None) -> None:
    assert clean_rewrite(reply) == question
