"""The data directory under rebuilds: the atomic switch, crash leftovers, damage, the lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval.engine import Engine
from retrieval.errors import IndexNotBuilt, SanadError
from retrieval.indexing import IndexReport
from retrieval.search import search
from retrieval.settings import Settings
from tests.fakes.embedder import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]
DELEGATION = "004_f34d176aa109b3d9"
QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
NEW_FACT = "وقال مصدر في الوفد إن الزيارة ستستمر ثلاثة أيام في العاصمة الروسية."


class GatedEmbedder(FakeEmbedder):
    """The fake embedder, holding every embedding call until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return super().embed_passages(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def open_engine(data: Path, source: Path, embedder: FakeEmbedder | None = None) -> Engine:
    settings = Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=source)
    return Engine(settings, embedder=embedder or FakeEmbedder())


@pytest.fixture
def engine(data: Path, source: Path) -> Engine:
    """An engine over a built index of the seeds (build A)."""
    engine = open_engine(data, source)
    engine.reindex()
    return engine


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


def edit_a_seed(source: Path) -> None:
    path = source / f"{DELEGATION}.txt"
    path.write_text(path.read_text("utf-8") + f"\n\n{NEW_FACT}\n", "utf-8")


def builds(data: Path) -> set[str]:
    return {p.name for p in (data / "builds").iterdir()}


def finds_the_moscow_talks(engine: Engine) -> bool:
    passages = engine.search(QUESTION).passages
    return bool(passages) and "موسكو" in passages[0].text + passages[0].title


# --------------------------------------------------------------------------------------------
# The atomic switch


def test_readers_keep_the_old_build_while_a_rebuild_runs_then_switch_without_restart(
    engine: Engine, data: Path, source: Path, pool: ThreadPoolExecutor
) -> None:
    serving = engine.index()
    other_reader = open_engine(data, source)
    assert other_reader.index().build.id == serving.build.id
    builder_model = GatedEmbedder()
    builder = open_engine(data, source, builder_model)
    edit_a_seed(source)

    rebuild: Future[IndexReport] = pool.submit(builder.reindex)
    try:
        assert builder_model.entered.wait(30), "the rebuild never reached the model"
        # Mid-build: a second build folder exists, but nobody is pointed at it.
        assert len(builds(data)) == 2
        assert engine.index() is serving
        assert other_reader.index().build.id == serving.build.id
        assert finds_the_moscow_talks(engine)
        assert all(NEW_FACT not in p.text for p in engine.search(NEW_FACT).passages)
    finally:
        builder_model.gate.set()
    report = rebuild.result(timeout=60)

    assert report.switched
    assert report.build != serving.build.id
    # Both engines follow the pointer on their next question, no restart needed.
    assert engine.index().build.id == report.build
    assert other_reader.index().build.id == report.build
    assert NEW_FACT in other_reader.search(NEW_FACT, mode="lexical").passages[0].text


def test_an_index_held_from_before_a_switch_still_answers(
    engine: Engine, source: Path, fake_embedder: FakeEmbedder
) -> None:
    held = engine.index()
    edit_a_seed(source)
    engine.reindex()
    assert engine.index().build.id != held.build.id

    vector = engine.embedder().embed_queries([QUESTION])[0]
    passages = search(held, QUESTION, vector, k=5)

    assert passages
    assert "موسكو" in passages[0].text + passages[0].title
    assert all(NEW_FACT not in p.text for p in passages)


def test_an_engine_started_before_the_first_build_picks_it_up(data: Path, source: Path) -> None:
    early = open_engine(data, source)
    with pytest.raises(IndexNotBuilt, match="sanad index"):
        early.search(QUESTION)

    open_engine(data, source).reindex()

    assert finds_the_moscow_talks(early)


# --------------------------------------------------------------------------------------------
# Crash leftovers and damage

_KILLED_BUILDER = """
import sys, time
from pathlib import Path
from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.fakes.embedder import FakeEmbedder

class Stalls(FakeEmbedder):
    def embed_passages(self, texts, **kwargs):
        Path(sys.argv[3]).touch()
        time.sleep(600)

settings = Settings(SANAD_DATA_DIR=sys.argv[1], SANAD_SOURCE_DIR=sys.argv[2])
Engine(settings, embedder=Stalls()).reindex()
"""


def test_a_build_killed_midway_is_cleaned_up_and_the_old_one_keeps_serving(
    engine: Engine, data: Path, source: Path, tmp_path: Path
) -> None:
    serving = engine.index().build.id
    edit_a_seed(source)
    marker = tmp_path / "embedding-started"
    builder = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILDER, str(data), str(source), str(marker)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert builder.poll() is None, "the builder exited before embedding"
            assert time.monotonic() < deadline, "the builder never started embedding"
            time.sleep(0.05)
    finally:
        builder.send_signal(signal.SIGKILL)
        builder.wait(10)
    leftovers = builds(data) - {serving}
    assert len(leftovers) == 1

    # The half-written build is invisible: the old build still answers.
    fresh = open_engine(data, source)
    assert fresh.index().build.id == serving
    assert finds_the_moscow_talks(fresh)

    # The dead builder's lock died with it; the next build cleans up after it.
    report = fresh.reindex()

    assert report.switched
    assert report.changed == [DELEGATION]
    assert builds(data) == {serving, report.build}
    assert finds_the_moscow_talks(fresh)


def test_a_crash_leftover_is_removed_by_the_next_rebuild(
    engine: Engine, data: Path, source: Path
) -> None:
    serving = engine.index().build.id
    leftover = data / "builds" / "20250101T000000-dead00"
    (leftover / "chroma").mkdir(parents=True)
    (leftover / "chroma" / "chroma.sqlite3").write_bytes(b"half a database")
    edit_a_seed(source)

    report = engine.reindex()

    assert not leftover.exists()
    assert builds(data) == {serving, report.build}
    assert finds_the_moscow_talks(engine)


def test_a_crash_leftover_is_removed_even_when_the_corpus_is_unchanged(
    engine: Engine, data: Path
) -> None:
    serving = engine.index().build.id
    leftover = data / "builds" / "20250101T000000-dead00"
    (leftover / "chroma").mkdir(parents=True)
    (leftover / "chroma" / "chroma.sqlite3").write_bytes(b"half a database")

    report = engine.reindex()

    assert not report.switched
    assert engine.index().build.id == serving
    assert not leftover.exists()


Damage = Callable[[Path, str], None]


def point_at(data: Path, build_id: str) -> None:
    (data / "CURRENT").write_text(json.dumps({"build": build_id}), "utf-8")


def damage_missing_build(data: Path, serving: str) -> None:
    point_at(data, "20250101T000000-gone00")


def damage_pointer(data: Path, serving: str) -> None:
    (data / "CURRENT").write_text('{"build": "2025', "utf-8")


def damage_manifest(data: Path, serving: str) -> None:
    (data / "builds" / serving / "manifest.json").write_text("{not json", "utf-8")


def damage_build_folder(data: Path, serving: str) -> None:
    shutil.rmtree(data / "builds" / serving)


DAMAGES = pytest.mark.parametrize(
    "damage",
    [damage_missing_build, damage_pointer, damage_manifest, damage_build_folder],
    ids=["pointer-to-missing-build", "truncated-pointer", "corrupt-manifest", "build-deleted"],
)


@DAMAGES
def test_a_damaged_index_says_to_run_sanad_index(
    engine: Engine, data: Path, source: Path, damage: Damage
) -> None:
    damage(data, engine.index().build.id)
    reader = open_engine(data, source)

    with pytest.raises(SanadError, match="run `sanad index`") as raised:
        reader.search(QUESTION)

    assert "\n" not in str(raised.value)


@DAMAGES
def test_sanad_index_recovers_a_damaged_index(
    engine: Engine, data: Path, source: Path, damage: Damage
) -> None:
    damage(data, engine.index().build.id)
    reader = open_engine(data, source)

    report = reader.reindex()

    assert report.switched
    assert finds_the_moscow_talks(reader)


# --------------------------------------------------------------------------------------------
# The build lock


def test_only_one_builder_holds_the_lock(engine: Engine) -> None:
    busy = pytest.raises(SanadError, match="another index build is running")
    with engine.store.lock(), busy, engine.store.lock(wait=False):
        pytest.fail("two builders held the lock at once")

    with engine.store.lock(wait=False):  # released again once the holder is done
        pass


def test_a_second_builder_waits_for_the_first(
    engine: Engine, data: Path, source: Path, pool: ThreadPoolExecutor
) -> None:
    serving = engine.index().build.id
    edit_a_seed(source)
    second = open_engine(data, source)

    with engine.store.lock():
        waiting: Future[IndexReport] = pool.submit(second.reindex)
        time.sleep(0.5)
        assert not waiting.done()
        assert engine.index().build.id == serving
    report = waiting.result(timeout=60)

    assert report.switched
    assert report.changed == [DELEGATION]
    assert engine.index().build.id == report.build
