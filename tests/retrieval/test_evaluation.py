"""`sanad eval` scoring: reading question sets, recall and MRR, Arabic answer matching, latency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.errors import SanadError
from retrieval.evaluation import (
    Outcome,
    Question,
    load_questions,
    outcome_json,
    percentile,
    retrieval_metrics,
    run,
)
from retrieval.models import Passage


def passage(file: str, text: str = "نص لا علاقة له بالسؤال.") -> Passage:
    stem = Path(file).stem
    return Passage(f"{stem}:0", stem, file, f"عنوان {stem}", text, 0.5)


def outcome(
    passages: list[Passage],
    docs: tuple[str, ...] = (),
    answers: tuple[str, ...] = (),
    latency_ms: float = 10.0,
) -> Outcome:
    return Outcome(Question("q", "سؤال؟", docs, answers), passages, latency_ms)


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


GOOD = json.dumps(
    {"id": "q1", "question": "من دعا الفصائل؟", "docs": ["000.txt"], "answers": ["روسيا"]},
    ensure_ascii=False,
)


# --------------------------------------------------------------------------------------------
# Reading question sets


def test_load_questions_reads_every_field_and_skips_blank_lines(tmp_path: Path) -> None:
    follow_up = {
        "id": "q2",
        "question": "ومتى؟",
        "docs": ["000.txt", "002.txt"],
        "answers": ["29 فبراير"],
        "context": "من دعا الفصائل؟",
        "tags": ["follow-up"],
    }
    refusal = {"id": "q3", "question": "كم سعر الذهب اليوم؟", "docs": [], "answers": []}
    path = write_lines(
        tmp_path, GOOD, "", json.dumps(follow_up, ensure_ascii=False), "   ", json.dumps(refusal)
    )

    questions = load_questions(path)

    assert [q.id for q in questions] == ["q1", "q2", "q3"]
    assert questions[1] == Question(
        "q2", "ومتى؟", ("000.txt", "002.txt"), ("29 فبراير",), "من دعا الفصائل؟", ("follow-up",)
    )
    assert [q.answerable for q in questions] == [True, True, False]


def test_the_shipped_dev_set_loads() -> None:
    dev = Path(__file__).resolve().parents[1] / "data" / "dev.jsonl"

    questions = load_questions(dev)

    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"id": "q3", "question": "من دعا',  # cut off
        '{"id": "q3", "docs": ["000.txt"]}',  # no question
        '["q3", "من دعا الفصائل؟"]',  # not an object
        "id,question",  # CSV pasted by mistake
    ],
    ids=["truncated", "no-question", "array", "not-json"],
)
def test_a_malformed_question_line_is_named_by_its_line_number(
    tmp_path: Path, bad_line: str
) -> None:
    path = write_lines(tmp_path, GOOD, "", bad_line, GOOD)

    with pytest.raises(SanadError) as raised:
        load_questions(path)

    assert f"{path}:3:" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_question_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SanadError, match=r"cannot read .*nowhere\.jsonl"):
        load_questions(tmp_path / "nowhere.jsonl")


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"id": "q3", "question": "من دعا الفصائل؟", "docs": "000.txt", "answers": []}',
        '{"id": "q3", "question": "من دعا الفصائل؟", "docs": [], "answers": "روسيا"}',
        '{"id": "q3", "question": "  ", "docs": ["000.txt"], "answers": ["روسيا"]}',
    ],
    ids=["docs-string", "answers-string", "empty-question"],
)
def test_a_question_line_with_wrong_field_types_is_named_by_its_line_number(
    tmp_path: Path, bad_line: str
) -> None:
    path = write_lines(tmp_path, GOOD, bad_line)

    with pytest.raises(SanadError, match=f"{path}:2:"):
        load_questions(path)


# --------------------------------------------------------------------------------------------
# Metrics


def test_recall_and_mrr_on_a_hand_made_run() -> None:
    answer_text = "وقال نائب وزير الخارجية ميخائيل بُوغْدانُوف إن الدعوة وجهت للجميع."
    outcomes = [
        # Gold file and answer at rank 2.
        outcome(
            [passage("b.txt"), passage("a.txt", answer_text), passage("c.txt")],
            docs=("a.txt",),
            answers=("بوغدانوف",),
            latency_ms=10,
        ),
        # Gold file and answer (written with Persian digits in the source) at rank 1.
        outcome(
            [passage("b.txt", "ستعقد المحادثات يوم ۲۹ فبراير في موسكو."), passage("a.txt")],
            docs=("b.txt",),
            answers=("29 فبراير",),
            latency_ms=20,
        ),
        # A miss: neither the file nor the answer comes back.
        outcome(
            [passage("a.txt"), passage("b.txt")], docs=("c.txt",), answers=("غزة",), latency_ms=30
        ),
        # Unanswerable: counted apart, never in recall.
        outcome([passage("a.txt", answer_text)], latency_ms=40),
    ]

    metrics = retrieval_metrics(outcomes)

    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (4, 3, 1)
    assert metrics["doc_recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["doc_recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["doc_recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["mrr@10"] == pytest.approx((1 / 2 + 1) / 3, abs=1e-4)
    assert metrics["answer_recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["answer_recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["answer_recall@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["latency_p50_ms"] == 25.0
    assert metrics["latency_p95_ms"] == pytest.approx(38.5)


@pytest.mark.parametrize(
    ("rank", "recall_at_5", "recall_at_10", "mrr"),
    [(1, 1.0, 1.0, 1.0), (5, 1.0, 1.0, 0.2), (6, 0.0, 1.0, 0.1667), (11, 0.0, 0.0, 0.0)],
)
def test_the_rank_of_the_first_gold_passage_sets_recall_at_k_and_mrr(
    rank: int, recall_at_5: float, recall_at_10: float, mrr: float
) -> None:
    passages = [passage(f"other{i}.txt") for i in range(1, 12)]
    passages[rank - 1] = passage("gold.txt", "الجواب هنا")
    passages.append(passage("gold.txt", "الجواب هنا"))  # a later hit changes nothing

    metrics = retrieval_metrics([outcome(passages, docs=("gold.txt",), answers=("الجواب",))])

    assert metrics["doc_recall@1"] == (1.0 if rank == 1 else 0.0)
    assert (metrics["doc_recall@5"], metrics["doc_recall@10"]) == (recall_at_5, recall_at_10)
    assert (metrics["answer_recall@5"], metrics["answer_recall@10"]) == (recall_at_5, recall_at_10)
    assert metrics["mrr@10"] == pytest.approx(mrr, abs=1e-4)


def test_a_passage_from_a_subfolder_counts_for_its_file_name() -> None:
    metrics = retrieval_metrics([outcome([passage("2024/a.txt")], docs=("a.txt",))])

    assert metrics["doc_recall@1"] == 1.0


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("بوغدانوف", "قال ميخائيل بُوغْدَانُوف للصحفيين"),  # diacritics in the source
        ("مَوْسِكُو", "وصل الوفد إلى موسكو مساء"),  # diacritics in the gold answer
        ("أبريل", "في ابريل الماضي"),  # hamza on alef, dropped in the source
        ("ابريل", "في إبريل الماضي"),  # hamza below alef in the source
        ("الآن", "وقال إن الان ليس وقت الحديث"),  # madda
        ("29 فبراير", "يوم ۲۹ فبراير"),  # Persian digits
        ("29 فبراير", "يوم ٢٩ فبراير"),  # Arabic-Indic digits
        ("۱٤۰۰", "قتل نحو 1400 شخص"),  # Persian and Arabic-Indic digits in the gold answer
        ("المبادرة المصرية", "رحبت الفصائل بالمبادره المصريه"),  # taa marbuta written as haa
        ("مستشفى", "قصف مستشفي المعمداني"),  # alef maqsura written as yaa
        ("مسؤول", "قال مسئول روسي"),  # hamza seat on waw or yaa
        ("الاحتلال", "جرائم الاحتـــلال في غزة"),  # tatweel
        ("مبعوث الكرملين الخاص", "بصفته مبعوث الكرملين\nالخاص إلى الشرق الأوسط"),  # line break
        ("«حماس»", "وفد من حماس يصل"),  # quotation marks
    ],
)
def test_answer_recall_matches_after_arabic_normalisation(answer: str, text: str) -> None:
    metrics = retrieval_metrics(
        [outcome([passage("a.txt", text)], docs=("a.txt",), answers=(answer,))]
    )

    assert metrics["answer_recall@1"] == 1.0


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("29 فبراير", "يوم 26 فبراير"),  # another day
        ("بوغدانوف", "قال لافروف للصحفيين"),  # another person
        ("   ", "أي نص"),  # a blank gold answer matches nothing
    ],
)
def test_answer_recall_does_not_match_a_different_answer(answer: str, text: str) -> None:
    metrics = retrieval_metrics(
        [outcome([passage("a.txt", text)], docs=("a.txt",), answers=(answer,))]
    )

    assert metrics["answer_recall@10"] == 0.0


def test_metrics_of_an_empty_run_are_zero_not_an_error() -> None:
    metrics = retrieval_metrics([])

    assert metrics["questions"] == 0
    assert metrics["doc_recall@1"] == metrics["mrr@10"] == metrics["latency_p95_ms"] == 0.0


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, 0.0),
        ([7.0], 95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 95, 3.85),  # order of input does not matter
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([10.0, 20.0, 30.0, 40.0, 1000.0], 95, 808.0),  # one slow question shows in p95
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# Running and the JSON contract


def test_run_times_every_question_in_order() -> None:
    questions = [Question(f"q{i}", f"سؤال {i}؟", ("a.txt",)) for i in range(3)]

    outcomes = run(questions, lambda q: ([passage("a.txt")], {"asked": q.id}))

    assert [o.question.id for o in outcomes] == ["q0", "q1", "q2"]
    assert all(o.latency_ms >= 0 for o in outcomes)
    assert [o.extra for o in outcomes] == [{"asked": "q0"}, {"asked": "q1"}, {"asked": "q2"}]


def test_outcome_json_has_the_documented_shape() -> None:
    result = outcome_json(
        Outcome(
            Question("q7", "من دعا الفصائل؟", ("a.txt",)),
            [passage("a.txt", "دعت روسيا الفصائل"), passage("b.txt")],
            12.345,
        )
    )

    assert json.loads(json.dumps(result, ensure_ascii=False)) == result
    assert (result["id"], result["question"], result["latency_ms"]) == (
        "q7",
        "من دعا الفصائل؟",
        12.3,
    )
    assert [p["rank"] for p in result["passages"]] == [1, 2]
    assert set(result["passages"][0]) >= {"rank", "file", "article_id", "text", "score"}
    assert result["passages"][0]["file"] == "a.txt"
    assert result["passages"][0]["text"] == "دعت روسيا الفصائل"
