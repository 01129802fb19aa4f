"""Shared fixtures of the reliability suite: the fake Bot API server, a seeds index built once
with the fake embedder (copied for each test that changes it), engines over it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.reliability.fakesanad import SlowEmbedder
from tests.reliability.processes import SEEDS


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding an index of the seeds, built once with the fake embedder."""
    data = tmp_path_factory.mktemp("seeds-index") / "data"
    Engine(
        Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=SEEDS), embedder=SlowEmbedder()
    ).reindex()
    return data


@pytest.fixture
def data(tmp_path: Path, seeds_index: Path) -> Path:
    """A data dir of this test's own, starting as a copy of the seeds index."""
    folder = tmp_path / "data"
    shutil.copytree(seeds_index, folder)
    return folder


def fake_engine(data: Path, source: Path, **settings: object) -> Engine:
    """Return an engine with the fake embedder over `data` and `source`."""
    values: dict[str, object] = {"SANAD_DATA_DIR": data, "SANAD_SOURCE_DIR": source, **settings}
    return Engine(Settings(**values), embedder=SlowEmbedder())  # type: ignore[arg-type]
