"""Item 4: crashes. `kill -9` of `sanad index` at any moment leaves the previous index whole
and serving; the next `sanad index` completes and removes what the crashes left. A damaged
or missing data dir gives one clear line naming the way back, and `sanad index` rebuilds.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli
from retrieval import engine
from retrieval.store import POINTER
from tests.reliability.conftest import fake_engine
from tests.reliability.fakesanad import MODEL_NAME, SlowEmbedder
from tests.reliability.processes import command, environment, run

QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
EDITED = "004_f34d176aa109b3d9.txt"
NEW_FACT = "وقال مصدر في الوفد إن الزيارة ستستمر ثلاثة أيام كاملة في العاصمة الروسية."
NEW_FACT_QUESTION = "كم يوما ستستمر زيارة الوفد إلى العاصمة الروسية؟"


def current(data: Path) -> str:
    return str(json.loads((data / POINTER).read_text("utf-8"))["build"])


def builds(data: Path) -> set[str]:
    return {p.name for p in (data / "builds").iterdir()}


def kill_sanad_index_at(moment: str, data: Path, source: Path, tmp: Path) -> None:
    """Run `sanad index` until it reaches `moment` of its build, then SIGKILL it there."""
    marker = tmp / f"reached-{moment}"
    env = environment(data, source, FAKESANAD_PAUSE_AT=moment, FAKESANAD_MARKER=str(marker))
    builder = subprocess.Popen(
        command("index", "--json"), env=env, cwd=tmp, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert builder.poll() is None, f"sanad index ended before {moment}"
            assert time.monotonic() < deadline, f"sanad index never reached {moment}"
            time.sleep(0.02)
    finally:
        builder.send_signal(signal.SIGKILL)
        builder.wait(10)


def test_kill_9_at_any_moment_leaves_the_previous_index_serving(
    data: Path, source: Path, tmp_path: Path
) -> None:
    previous = current(data)
    bot = fake_engine(data, source)  # stands for a running bot: opened before the crashes
    assert not bot.ask(QUESTION).refused
    path = source / EDITED
    path.write_text(path.read_text("utf-8") + f"\n\n{NEW_FACT}\n", "utf-8")

    # Killed while embedding, while writing the lexical index, right before the switch.
    for moment in ("embed", "lexical", "switch"):
        kill_sanad_index_at(moment, data, source, tmp_path)
        assert current(data) == previous, f"killed at {moment}: the pointer moved"
        for reader in (bot, fake_engine(data, source)):
            answer = reader.ask(QUESTION)
            assert not answer.refused, f"killed at {moment}"
            assert answer.citations, f"killed at {moment}"
            assert NEW_FACT not in answer.text
        # Each build first removes the leftovers of the one killed before it.
        assert previous in builds(data)
        assert len(builds(data)) == 2

    # Killed after the switch, before cleaning up: the new build is whole and serves.
    kill_sanad_index_at("cleanup", data, source, tmp_path)
    switched = current(data)
    assert switched != previous
    for reader in (bot, fake_engine(data, source)):
        assert any(NEW_FACT in c.quote for c in reader.ask(NEW_FACT_QUESTION).citations)

    # The next `sanad index` finds nothing to do but the crashes' leftovers, and removes them.
    done = run(command("index"), environment(data, source), tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "index already up to date" in done.stdout
    assert current(data) == switched
    left = builds(data)
    assert switched in left
    assert len(left) <= 2, left  # the serving build and at most one before it
    assert all((data / "builds" / b / "manifest.json").is_file() for b in left)
    assert not list(data.glob(f".{POINTER}.*"))


Damage = Callable[[Path], None]


def _build(data: Path) -> Path:
    return data / "builds" / current(data)


def _garbage(path: Path) -> None:
    targets = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    for target in targets:
        target.write_bytes(b"\x00garbage\xff" * 10)


DAMAGES: dict[str, Damage] = {
    "data-dir-deleted": lambda data: shutil.rmtree(data),
    "pointer-garbage": lambda data: (data / POINTER).write_bytes(b"\xff\xfe{"),
    "pointer-to-missing-build": lambda data: (data / POINTER).write_text('{"build": "gone"}'),
    "manifest-garbage": lambda data: _garbage(_build(data) / "manifest.json"),
    "build-folder-deleted": lambda data: shutil.rmtree(_build(data)),
    "chroma-database-garbage": lambda data: _garbage(_build(data) / "chroma" / "chroma.sqlite3"),
    "lexical-index-garbage": lambda data: _garbage(_build(data) / "lexical"),
    "sentence-vectors-garbage": lambda data: _garbage(_build(data) / "sentences.npy"),
}


@pytest.mark.parametrize("damage", list(DAMAGES.values()), ids=list(DAMAGES))
def test_a_damaged_data_dir_says_how_to_recover_and_sanad_index_rebuilds_it(
    data: Path,
    source: Path,
    damage: Damage,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SANAD_EMBEDDING_MODEL", MODEL_NAME)
    monkeypatch.setattr(engine, "load_embedder", lambda *a, **k: SlowEmbedder())
    where = ["--data-dir", str(data), "--source", str(source)]
    damage(data)

    assert cli.main(["ask", QUESTION, *where]) == cli.EXIT_ERROR
    out, err = capsys.readouterr()
    assert not out
    assert err.count("\n") == 1, err
    assert err.startswith("sanad: error: "), err
    assert "sanad index" in err, err

    assert cli.main(["index", *where]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert cli.main(["ask", QUESTION, *where]) == 0
    out, err = capsys.readouterr()
    assert "موسكو" in out
    assert not err
