"""The real `sanad` command with the fake embedder and a few test hooks, for subprocesses.

    python -m tests.reliability.fakesanad [sanad arguments...]

Everything but the embedding model is Sanad's own: the CLI, settings, logging, the index
build and the bot. The model is swapped for `SqueezedEmbedder` (hashed bags of words in
e5's band of similarities, so the composer answers and refuses as with the real model) and
the process starts in about two seconds instead of fifteen. Hooks, all optional, from the
environment:

- `FAKESANAD_EMBED_DELAY`: seconds each embedding batch takes (keeps a build in flight).
- `FAKESANAD_PAUSE_AT`: `embed`, `lexical`, `switch` or `cleanup`: on reaching that moment
  of a build, touch `FAKESANAD_MARKER` and wait to be killed (`kill -9` tests).
- `FAKESANAD_ASK_DELAY`: seconds a question takes (keeps a reply in flight); only those
  containing `FAKESANAD_SLOW_MARK` if that is set.
- `FAKESANAD_EXPLODE`: a question containing this text raises an unexpected error whose
  message quotes a Bot API URL with the token, as an HTTP library's error might.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tests.fakes.embedder import SqueezedEmbedder

MODEL_NAME = "fake-embedder"


class SlowEmbedder(SqueezedEmbedder):
    """The squeezed fake embedder, as slow per batch as the test asks, pausable mid-build."""

    name = MODEL_NAME

    def embed_passages(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        _maybe_pause("embed")
        time.sleep(float(os.environ.get("FAKESANAD_EMBED_DELAY", "0")))
        return super().embed_passages(texts, batch_size=batch_size, progress=progress)


def _maybe_pause(moment: str) -> None:
    if os.environ.get("FAKESANAD_PAUSE_AT") != moment:
        return
    Path(os.environ["FAKESANAD_MARKER"]).write_text(moment, "utf-8")
    while True:  # until the test kills us
        time.sleep(60)


def _pausing(moment: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _maybe_pause(moment)
        return function(*args, **kwargs)

    return wrapper


def install() -> None:
    """Swap in the fake model and the hooks (before the CLI builds an engine)."""
    from retrieval import engine, indexing, store

    engine.load_embedder = lambda *args, **kwargs: SlowEmbedder()  # type: ignore[assignment]
    indexing.lexical.build = _pausing("lexical", indexing.lexical.build)  # type: ignore[attr-defined]
    switch, clean_up = store.Store.switch, store.Store.clean_up
    switched = []

    def pausing_switch(self: store.Store, build_id: str) -> None:
        _maybe_pause("switch")
        switch(self, build_id)
        switched.append(build_id)

    def pausing_clean_up(self: store.Store) -> list[str]:
        if switched:  # the clean-up after a switch, not the one before a build
            _maybe_pause("cleanup")
        return clean_up(self)

    store.Store.switch = pausing_switch  # type: ignore[method-assign]
    store.Store.clean_up = pausing_clean_up  # type: ignore[method-assign]

    ask = engine.Engine.ask
    delay = float(os.environ.get("FAKESANAD_ASK_DELAY", "0"))
    slow_mark = os.environ.get("FAKESANAD_SLOW_MARK", "")
    explode = os.environ.get("FAKESANAD_EXPLODE")

    def slow_ask(self: engine.Engine, question: str, *args: Any, **kwargs: Any) -> Any:
        if explode and explode in question:
            url = f"{self.settings.telegram_api_base_url}/bot{_token(self)}/sendMessage"
            raise ConnectionError(f"request to {url} failed")
        if slow_mark in question:
            time.sleep(delay)
        return ask(self, question, *args, **kwargs)

    engine.Engine.ask = slow_ask  # type: ignore[method-assign]


def _token(engine: Any) -> str:
    token = engine.settings.telegram_bot_token
    return token.get_secret_value() if token is not None else ""


def main() -> int:
    os.environ["SANAD_EMBEDDING_MODEL"] = MODEL_NAME
    install()
    from bot.cli import main as sanad

    return sanad(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
