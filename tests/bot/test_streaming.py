"""Generated answers in Telegram: the real Application, the fake Bot API, a fake model server.

In a private chat the reader watches the answer being written (one message, edited at a
limited pace); in a group only the final answer is sent. A model that fails midway leaves
the extractive answer in the draft's place.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import replies
from retrieval.engine import Engine
from retrieval.generation import build_chat_model
from retrieval.settings import Settings
from tests.bot.conftest import USER_ID, bot_settings, running, sanad_of
from tests.conftest import SEEDS
from tests.fakes.embedder import SqueezedEmbedder
from tests.fakes.openai_api import FakeOpenAI, Reply, faithful
from tests.fakes.telegram_api import DEFAULT_GROUP_ID, DEFAULT_USERNAME, FakeTelegram

QUESTION = "من دعا الفصائل الفلسطينية إلى محادثات في موسكو؟"
INTERVAL = 0.3  # the edit pace under test (1.5 s in production)


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bot-generation")
    Engine(
        Settings(SANAD_DATA_DIR=folder, SANAD_SOURCE_DIR=SEEDS), embedder=SqueezedEmbedder()
    ).reindex()
    return folder


def generative_bot(
    llm: FakeOpenAI, data_dir: Path, base: Settings, tg: FakeTelegram, **env: Any
) -> tuple[Engine, Settings]:
    values: dict[str, Any] = {
        "SANAD_DATA_DIR": data_dir,
        "SANAD_LLM": "openai",
        "SANAD_LLM_BASE_URL": llm.base_url,
        "SANAD_LLM_MODEL": "fake-arabic-1",
        "SANAD_LLM_TIMEOUT": 5,
        **env,
    }
    settings = bot_settings(base, tg, **values)
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    return engine, settings


def watcher(chat_id: int, changes: list[tuple[float, str]]) -> Any:
    """A wait_for predicate noting each text the reader saw, done once buttons appear."""

    def watch(fake: FakeTelegram) -> bool:
        messages = fake.sent_messages(chat_id)
        if not messages:
            return False
        text = messages[0]["plain_text"]
        if not changes or changes[-1][1] != text:
            changes.append((time.monotonic(), text))
        return bool(messages[0]["reply_markup"])

    return watch


async def test_a_private_chat_watches_the_answer_being_written(
    tg: FakeTelegram, llm: FakeOpenAI, data_dir: Path, settings: Settings
) -> None:
    llm.reset()
    llm.responder = faithful(1, 2, 3, chunk_chars=12, chunk_delay=0.04)
    engine, bot = generative_bot(llm, data_dir, settings, tg)
    changes: list[tuple[float, str]] = []
    async with running(engine, bot) as app:
        sanad_of(app).edit_interval = INTERVAL
        sent = tg.send_text(QUESTION)
        await tg.wait_for(watcher(USER_ID, changes), timeout=20)

    [reply] = tg.sent_messages(USER_ID)
    assert reply["reply_to_message_id"] == sent["message"]["message_id"]
    assert reply["edits"] >= 2  # drafts grew, then the final answer took their place
    drafts, final = [text for _, text in changes[:-1]], changes[-1][1]
    assert drafts
    assert all(replies.DRAFT_NOTE in draft for draft in drafts)
    assert replies.DRAFT_NOTE not in final
    assert replies.GENERATIVE_NOTE in final
    assert "\nالمصادر\n[1] " in final
    assert replies.starts_rtl(final)
    # Each draft is the beginning of the answer, never a sentence it will not keep.
    body = final.split("\n")[0]
    assert all(body.startswith(d.split("\n")[0]) for d in drafts)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(changes)]
    assert min(gaps) >= INTERVAL - 0.05
    labels = [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:3] == [label for label in labels if label.startswith("📖 [")]
    assert len(labels) == 3 + 2


async def test_a_group_gets_only_the_final_answer(
    tg: FakeTelegram, llm: FakeOpenAI, data_dir: Path, settings: Settings
) -> None:
    llm.reset()
    llm.responder = faithful(1, 2, chunk_chars=12, chunk_delay=0.03)
    engine, bot = generative_bot(llm, data_dir, settings, tg)
    async with running(engine, bot) as app:
        sanad_of(app).edit_interval = INTERVAL
        tg.send_text(f"@{DEFAULT_USERNAME} {QUESTION}", chat_type="group")
        [reply] = await tg.wait_for_messages(DEFAULT_GROUP_ID, timeout=20)

    assert reply["edits"] == 0
    assert tg.calls_to("editMessageText") == []
    assert replies.GENERATIVE_NOTE in reply["plain_text"]
    assert replies.DRAFT_NOTE not in reply["plain_text"]
    assert llm.requests[0]["stream"] is True  # the model streams; the group sees it once


async def test_a_model_that_stalls_midway_leaves_the_extractive_answer(
    tg: FakeTelegram, llm: FakeOpenAI, data_dir: Path, settings: Settings
) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        text = faithful(1, 2, 3)(body).text
        # The first chunk holds a whole sentence and the start of the next; the rest is late.
        return Reply(text, chunk_chars=text.index("[1].") + 12, chunk_delay=0.6)

    llm.reset()
    llm.responder = reply
    engine, bot = generative_bot(llm, data_dir, settings, tg, SANAD_LLM_TIMEOUT=1)
    changes: list[tuple[float, str]] = []
    async with running(engine, bot) as app:
        sanad_of(app).edit_interval = INTERVAL
        started = time.monotonic()
        tg.send_text(QUESTION)
        await tg.wait_for(watcher(USER_ID, changes), timeout=20)
        waited = time.monotonic() - started

    [final] = tg.sent_messages(USER_ID)
    assert any(replies.DRAFT_NOTE in text for _, text in changes)  # a draft was shown
    assert replies.FALLBACK_NOTE in final["plain_text"]
    assert replies.GENERATIVE_NOTE not in final["plain_text"]
    assert final["plain_text"].startswith(("«", replies.RLM + "«"))  # verbatim quotes
    assert waited < 5


async def test_without_a_model_nothing_is_edited(
    tg: FakeTelegram, data_dir: Path, settings: Settings
) -> None:
    engine = Engine(
        bot_settings(settings, tg, SANAD_DATA_DIR=data_dir), embedder=SqueezedEmbedder()
    )
    async with running(engine, bot_settings(settings, tg, SANAD_DATA_DIR=data_dir)):
        tg.send_text(QUESTION)
        [reply] = await tg.wait_for_messages(USER_ID, timeout=10)
    assert reply["edits"] == 0
    assert replies.GENERATIVE_NOTE not in reply["plain_text"]
    assert replies.FALLBACK_NOTE not in reply["plain_text"]
