"""Rebuilding the index: what the report says, what gets embedded, and what search then sees."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.fakes.embedder import FakeEmbedder

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

MOSCOW = "000_66a249f8971aa960"  # no outlet or date in the text
KREMLIN = "001_373f44fd59baddba"  # فرانس24, 2023-10-27
JAZEERA = "002_27a3148d552c7d9d"  # الجزيرة, with a "read also" story as part #1
PUTIN = "003_67f142e8dd789aaa"
DELEGATION = "004_f34d176aa109b3d9"
SEED_ARTICLES = {MOSCOW, KREMLIN, JAZEERA, f"{JAZEERA}#1", PUTIN, DELEGATION}

# Words of a story that is in none of the seeds, so any hit on them comes from the new file.
NEW_TITLE = "افتتاح مكتبة عامة جديدة في مدينة نابلس"
NEW_STORY = (
    f"{NEW_TITLE}\n\n"
    "افتتحت بلدية نابلس صباح اليوم مكتبة عامة تضم عشرين ألف كتاب ومخطوطة. "
    "وقال رئيس البلدية إن المكتبة ستفتح أبوابها للطلاب والباحثين طوال أيام الأسبوع.\n\n"
    "وأضاف أن قاعة المطالعة تتسع لمئتي قارئ، وأن الدخول إليها مجاني."
)


class RecordingEmbedder(FakeEmbedder):
    """The fake embedder, also keeping every text it embedded for the index."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed_passages(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def fake_embedder() -> RecordingEmbedder:
    return RecordingEmbedder()


@pytest.fixture
def engine(tmp_path: Path, source: Path, fake_embedder: RecordingEmbedder) -> Engine:
    return Engine(
        Settings(SANAD_DATA_DIR=tmp_path / "data", SANAD_SOURCE_DIR=source),
        embedder=fake_embedder,
    )


def chunks_of(engine: Engine, article_id: str) -> int:
    return next(int(a["chunks"]) for a in engine.articles() if a["id"] == article_id)


def embedded_only_from(engine: Engine, embedder: RecordingEmbedder, article_id: str) -> bool:
    """Tell whether every text embedded since the last reset is a piece of one article.

    What the model reads may put a header (title, date) before the passage; the passage's
    own words come last, so the last line of each text must be the article's.
    """
    chunks = next(int(a["chunks"]) for a in engine.articles() if a["id"] == article_id)
    passages = [engine.passage(f"{article_id}:{i}") for i in range(chunks)]
    body = "\n".join(p.text for p in passages if p is not None)
    return all(text.strip().splitlines()[-1] in body for text in embedder.texts)


def stable(passage: Any) -> tuple[Any, ...]:
    """Return what a reader sees of a stored passage (not its build-internal row numbers)."""
    return (
        passage.chunk_id,
        passage.article_id,
        passage.file,
        passage.title,
        passage.source,
        passage.date,
        passage.text,
        passage.start,
        passage.end,
    )


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


# --------------------------------------------------------------------------------------------
# The report and what gets embedded


def test_first_build_adds_every_seed_article_and_switches(
    engine: Engine, fake_embedder: RecordingEmbedder
) -> None:
    report = engine.reindex()

    assert set(report.added) == SEED_ARTICLES
    assert report.changed == report.unchanged == report.removed == []
    assert report.skipped == []
    assert report.passages > 0
    assert report.embedded == report.passages
    assert sum(fake_embedder.calls) >= report.passages  # every passage went through the model
    assert report.switched
    assert engine.index().build.id == report.build


def test_reindexing_an_unchanged_corpus_embeds_nothing_and_keeps_the_build(
    engine: Engine, fake_embedder: RecordingEmbedder
) -> None:
    first = engine.reindex()
    fake_embedder.calls.clear()
    fake_embedder.texts.clear()

    again = engine.reindex()

    assert fake_embedder.calls == []
    assert set(again.unchanged) == SEED_ARTICLES
    assert again.added == again.changed == again.removed == []
    assert not again.switched
    assert again.embedded == 0
    assert again.build == first.build
    assert again.passages == first.passages
    assert engine.index().build.id == first.build


def test_changing_one_file_embeds_only_that_articles_passages(
    engine: Engine, source: Path, fake_embedder: RecordingEmbedder
) -> None:
    engine.reindex()
    fake_embedder.calls.clear()
    fake_embedder.texts.clear()
    append(source / f"{DELEGATION}.txt", "\n\nوقال مصدر في الوفد إن الزيارة ستستمر ثلاثة أيام.\n")

    report = engine.reindex()

    assert report.changed == [DELEGATION]
    assert set(report.unchanged) == SEED_ARTICLES - {DELEGATION}
    assert report.added == report.removed == []
    assert report.switched
    assert report.embedded == chunks_of(engine, DELEGATION)
    assert fake_embedder.texts
    assert embedded_only_from(engine, fake_embedder, DELEGATION)
    hits = engine.search("الزيارة ستستمر ثلاثة أيام", mode="lexical").passages
    assert hits[0].article_id == DELEGATION
    assert "ثلاثة أيام" in hits[0].text


def test_editing_the_first_story_of_a_page_keeps_its_read_also_story(
    engine: Engine, source: Path, fake_embedder: RecordingEmbedder
) -> None:
    engine.reindex()
    fake_embedder.calls.clear()
    fake_embedder.texts.clear()
    page = source / f"{JAZEERA}.txt"
    text = page.read_text("utf-8")
    edited = text.replace("موسكو", "العاصمة الروسية موسكو", 1)
    assert edited != text
    page.write_text(edited, "utf-8")

    report = engine.reindex()

    assert report.changed == [JAZEERA]
    assert f"{JAZEERA}#1" in report.unchanged
    assert report.embedded == chunks_of(engine, JAZEERA)
    assert fake_embedder.texts
    assert embedded_only_from(engine, fake_embedder, JAZEERA)


def test_a_new_file_is_added_and_searchable(
    engine: Engine, source: Path, fake_embedder: RecordingEmbedder
) -> None:
    engine.reindex()
    fake_embedder.calls.clear()
    fake_embedder.texts.clear()
    (source / "005_library.txt").write_text(NEW_STORY, "utf-8")

    report = engine.reindex()

    assert report.added == ["005_library"]
    assert set(report.unchanged) == SEED_ARTICLES
    assert report.embedded == chunks_of(engine, "005_library")
    assert fake_embedder.texts
    assert embedded_only_from(engine, fake_embedder, "005_library")
    top = engine.search("مكتبة عامة في نابلس").passages[0]
    assert (top.file, top.title) == ("005_library.txt", NEW_TITLE)


def test_a_deleted_file_is_removed_and_its_passages_are_gone(
    engine: Engine, source: Path, fake_embedder: RecordingEmbedder
) -> None:
    engine.reindex()
    gone = [f"{DELEGATION}:{i}" for i in range(chunks_of(engine, DELEGATION))]
    assert engine.passage(gone[0]) is not None
    fake_embedder.calls.clear()
    fake_embedder.texts.clear()
    (source / f"{DELEGATION}.txt").unlink()

    report = engine.reindex()

    assert report.removed == [DELEGATION]
    assert fake_embedder.calls == []
    assert all(engine.passage(chunk_id) is None for chunk_id in gone)
    for mode in ("dense", "lexical", "hybrid"):
        found = engine.search("وفد حماس يصل موسكو لبحث وقف الحرب", top_k=50, mode=mode)
        assert found.passages, mode
        assert all(p.article_id != DELEGATION for p in found.passages), mode
    assert DELEGATION not in {a["id"] for a in engine.articles()}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n \t\n", "empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "Moscou, février".encode("latin-1"), "UTF-8"),
    ],
)
def test_a_bad_file_is_skipped_by_name_and_the_rest_is_indexed(
    engine: Engine, source: Path, name: str, content: bytes, reason: str
) -> None:
    (source / name).write_bytes(content)

    report = engine.reindex()

    assert [s.file for s in report.skipped] == [name]
    assert reason in report.skipped[0].reason
    assert set(report.added) == SEED_ARTICLES
    assert report.switched
    assert engine.search("من دعا الفصائل الفلسطينية إلى موسكو؟").passages


def test_a_file_that_turns_bad_is_removed_and_reported(engine: Engine, source: Path) -> None:
    engine.reindex()
    (source / f"{DELEGATION}.txt").write_bytes(b"\x00\x01\x02")

    report = engine.reindex()

    assert report.removed == [DELEGATION]
    assert [s.file for s in report.skipped] == [f"{DELEGATION}.txt"]
    assert DELEGATION not in {a["id"] for a in engine.articles()}


# --------------------------------------------------------------------------------------------
# Passage ids, metadata and lookups


def test_passage_ids_are_stable_across_rebuilds(
    engine: Engine, source: Path, tmp_path: Path
) -> None:
    engine.reindex()
    before = {cid: stable(engine.passage(cid)) for cid in engine.index().reader.all_ids()}
    append(source / f"{DELEGATION}.txt", "\n\nوقال مصدر في الوفد إن الزيارة ستستمر ثلاثة أيام.\n")
    engine.reindex()
    fresh = Engine(
        Settings(SANAD_DATA_DIR=tmp_path / "elsewhere", SANAD_SOURCE_DIR=SEEDS),
        embedder=FakeEmbedder(),
    )
    fresh.reindex()

    # The same seeds give the same ids in any data dir, and an edit elsewhere moves none.
    assert set(fresh.index().reader.all_ids()) == set(before)
    for chunk_id, passage in before.items():
        if not chunk_id.startswith(DELEGATION):
            assert stable(engine.passage(chunk_id)) == passage


def test_search_results_carry_their_articles_metadata(engine: Engine, source: Path) -> None:
    engine.reindex()
    append(source / f"{DELEGATION}.txt", "\n\nوقال مصدر في الوفد إن الزيارة ستستمر ثلاثة أيام.\n")
    engine.reindex()  # most passages are now copied from the previous build, not re-embedded
    articles = {a["id"]: a for a in engine.articles()}

    passages = engine.search("محادثات الفصائل الفلسطينية في موسكو", top_k=30).passages

    assert {p.article_id for p in passages} >= {MOSCOW, KREMLIN, JAZEERA, PUTIN}
    for p in passages:
        article = articles[p.article_id]
        assert (p.file, p.title, p.source, p.date) == (
            article["file"],
            article["title"],
            article["source"],
            article["date"],
        )
        assert p.text
    kremlin = next(p for p in passages if p.article_id == KREMLIN)
    assert (kremlin.source, kremlin.date) == ("فرانس24", "2023-10-27")


def test_passage_returns_a_stored_passage_and_none_for_an_unknown_id(engine: Engine) -> None:
    engine.reindex()
    top = engine.search("من دعا الفصائل الفلسطينية إلى موسكو؟").passages[0]

    stored = engine.passage(top.chunk_id)

    assert stored is not None
    assert (stored.chunk_id, stored.article_id, stored.file, stored.title, stored.text) == (
        top.chunk_id,
        top.article_id,
        top.file,
        top.title,
        top.text,
    )
    assert engine.passage(f"{MOSCOW}:9999") is None
    assert engine.passage("no-such-article:0") is None


def test_emptying_the_source_folder_leaves_an_index_that_finds_nothing(
    engine: Engine, source: Path
) -> None:
    engine.reindex()
    for path in source.iterdir():
        path.unlink()

    report = engine.reindex()

    assert set(report.removed) == SEED_ARTICLES
    assert report.passages == 0
    assert engine.search("من دعا الفصائل الفلسطينية إلى موسكو؟").passages == []


def test_files_differing_only_by_suffix_do_not_break_the_build(
    engine: Engine, source: Path
) -> None:
    (source / "005_library.txt").write_text(NEW_STORY, "utf-8")
    (source / "005_library.md").write_text(
        "# مهرجان للشعر في مدينة جنين\n\n"
        "انطلق في جنين مهرجان الشعر السنوي بمشاركة ثلاثين شاعرا. "
        "وقالت اللجنة المنظمة إن الأمسيات ستستمر أسبوعا كاملا.\n",
        "utf-8",
    )

    report = engine.reindex()

    assert report.switched
    assert set(report.added) >= SEED_ARTICLES
    # Each of the two files is either indexed or named in the report, never lost silently.
    indexed = {a["file"] for a in engine.articles()}
    skipped = {s.file for s in report.skipped}
    assert {"005_library.txt", "005_library.md"} <= indexed | skipped
