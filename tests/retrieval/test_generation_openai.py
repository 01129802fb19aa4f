"""Generated answers through the real langchain-openai (and langchain-ollama) client.

A fake OpenAI-compatible server on 127.0.0.1 plays the model; the engine retrieves from the
seeds (indexed once, with a fast fake embedder) and checks whatever the "model" writes.
Every failure a reader could meet must leave them a correct answer: the extractive one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.articles import load_folder
from retrieval.engine import Engine
from retrieval.errors import SettingsError
from retrieval.generation import REFUSAL, REWRITE_RULES, build_chat_model
from retrieval.models import Answer
from retrieval.settings import Settings
from tests.conftest import SEEDS
from tests.fakes.embedder import SqueezedEmbedder
from tests.fakes.openai_api import (
    FakeOpenAI,
    Reply,
    faithful,
    given_passages,
    system_prompt,
    user_prompt,
)

QUESTION = "من دعا الفصائل الفلسطينية إلى محادثات في موسكو؟"
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_script(llm: FakeOpenAI) -> None:
    llm.reset()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generation")
    Engine(
        Settings(SANAD_DATA_DIR=folder, SANAD_SOURCE_DIR=SEEDS), embedder=SqueezedEmbedder()
    ).reindex()
    return folder


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    return {a.id: a.text for a in load_folder(SEEDS).articles}


def llm_settings(llm: FakeOpenAI, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SANAD_DATA_DIR": data_dir,
        "SANAD_SOURCE_DIR": SEEDS,
        "SANAD_LLM": "openai",
        "SANAD_LLM_BASE_URL": llm.base_url,
        "SANAD_LLM_MODEL": "fake-arabic-1",
        "SANAD_LLM_API_KEY": API_KEY,
        "SANAD_LLM_TIMEOUT": 3,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def engine(llm: FakeOpenAI, data_dir: Path) -> Iterator[Engine]:
    settings = llm_settings(llm, data_dir)
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    yield engine
    engine.close()


def markers_of(answer: Answer) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}


def assert_verbatim(answer: Answer, articles: dict[str, str]) -> None:
    assert answer.citations
    for citation in answer.citations:
        assert citation.quote in articles[citation.article_id]
    assert markers_of(answer) == {c.n for c in answer.citations}


# --- answers the model wrote ------------------------------------------------------------------


def test_a_faithful_reply_is_the_answer_with_verbatim_quotes(
    llm: FakeOpenAI, data_dir: Path, articles: dict[str, str]
) -> None:
    settings = llm_settings(llm, data_dir, SANAD_LLM_STREAM="false")
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    llm.responder = faithful(2, 1)
    answer = engine.ask(QUESTION)
    engine.close()

    assert answer.mode == "generative"
    assert answer.fallback is None
    assert not answer.refused
    assert_verbatim(answer, articles)
    # The reader sees [1] then [2], whatever the passages' numbers were in the prompt.
    assert answer.text.index("[1]") < answer.text.index("[2]")
    [request] = llm.requests
    assert not request.get("stream")
    assert request["model"] == "fake-arabic-1"
    assert request["temperature"] == 0
    passages = given_passages(request)
    assert len(passages) == 5
    assert answer.citations[0].article_id == answer.passages[1].article_id
    assert "موسكو" in user_prompt(request)
    assert "[n]" not in system_prompt(request)
    assert "[2]" in system_prompt(request)


def test_a_streamed_reply_shows_checked_drafts_then_the_answer(
    llm: FakeOpenAI, engine: Engine, articles: dict[str, str]
) -> None:
    llm.responder = faithful(1, 2, 3, chunk_chars=9, chunk_delay=0.005)
    drafts: list[str] = []
    answer = engine.ask(QUESTION, on_text=drafts.append)

    assert llm.requests[0]["stream"] is True
    assert len(drafts) >= 2
    assert all(answer.text.startswith(draft) for draft in drafts)
    assert answer.mode == "generative"
    assert_verbatim(answer, articles)
    assert "generate_ms" in answer.timings_ms


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!؟?])\s", text, maxsplit=1)[0].rstrip(".!؟? ")


def test_invalid_citations_never_reach_the_reader(
    llm: FakeOpenAI, engine: Engine, articles: dict[str, str]
) -> None:
    def reply(body: dict[str, Any]) -> str:
        passages = given_passages(body)
        return (
            f"{first_sentence(passages[1])} [1]. "
            f"{first_sentence(passages[2])} [٢]. "  # Arabic-Indic: valid
            "وستشارك الصين في المحادثات بصفة مراقب [9]. "  # 5 passages were given
            f"{first_sentence(passages[3])} [3]."
        )

    llm.responder = reply
    answer = engine.ask(QUESTION)

    assert answer.mode == "generative"
    assert "الصين" not in answer.text
    assert "[9]" not in answer.text
    assert "[٢]" not in answer.text
    assert markers_of(answer) == {1, 2, 3}
    assert_verbatim(answer, articles)


# --- every failure leaves the extractive answer -----------------------------------------------


def extractive(engine: Engine, question: str = QUESTION) -> Answer:
    return engine.ask(question, generate=False)


def test_an_http_error_falls_back_to_the_extractive_answer(
    llm: FakeOpenAI, engine: Engine
) -> None:
    llm.script(Reply(status=500, text="the model crashed"))
    answer = engine.ask(QUESTION)
    assert answer.mode == "extractive"
    assert answer.fallback == "error"
    assert answer.text == extractive(engine).text
    assert len(llm.requests) == 1  # no retries: they would not fit in the time limit


def test_a_stalled_server_falls_back_within_the_time_limit(
    llm: FakeOpenAI, data_dir: Path
) -> None:
    settings = llm_settings(llm, data_dir, SANAD_LLM_TIMEOUT=1)
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    engine.ask(QUESTION, generate=False)  # open the index first: only the model is timed
    llm.script(Reply("لن يصل [1].", delay=30))
    started = time.monotonic()
    answer = engine.ask(QUESTION)
    elapsed = time.monotonic() - started
    engine.close()

    assert answer.fallback == "timeout"
    assert answer.text == extractive(engine).text
    assert elapsed < 2.0


def test_a_reply_that_stops_midway_falls_back_within_the_time_limit(
    llm: FakeOpenAI, data_dir: Path
) -> None:
    settings = llm_settings(llm, data_dir, SANAD_LLM_TIMEOUT=1)
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    engine.ask(QUESTION, generate=False)

    llm.responder = faithful(1, 2, chunk_chars=30, chunk_delay=0.8)
    drafts: list[str] = []
    started = time.monotonic()
    answer = engine.ask(QUESTION, on_text=drafts.append)
    elapsed = time.monotonic() - started
    engine.close()

    assert answer.fallback == "timeout"
    assert answer.mode == "extractive"
    assert elapsed < 2.0


def test_a_reply_that_cites_nothing_falls_back(llm: FakeOpenAI, engine: Engine) -> None:
    llm.script("دعت روسيا قادة الفصائل الفلسطينية إلى محادثات في موسكو. وتبدأ في 29 فبراير.")
    answer = engine.ask(QUESTION)
    assert answer.fallback == "unsupported"
    assert answer.text == extractive(engine).text


def test_a_reply_of_invented_sources_falls_back(llm: FakeOpenAI, engine: Engine) -> None:
    llm.script("دعت روسيا الفصائل إلى موسكو [7]. وأكدت ذلك وكالة تاس [12].")
    answer = engine.ask(QUESTION)
    assert answer.fallback == "unsupported"
    assert answer.citations == extractive(engine).citations


def test_a_model_that_declines_leaves_the_extractive_answer(
    llm: FakeOpenAI, engine: Engine
) -> None:
    llm.script(REFUSAL)
    answer = engine.ask(QUESTION)
    assert answer.fallback == "refused"
    assert not answer.refused  # the quotes still answer it
    assert answer.text == extractive(engine).text


def test_a_question_far_from_every_source_is_refused_without_the_model(
    llm: FakeOpenAI, engine: Engine
) -> None:
    answer = engine.ask("ما عاصمة فرنسا؟")
    assert answer.refused
    assert answer.fallback is None
    assert llm.requests == []


def test_english_questions_keep_english_framing_without_the_model(
    llm: FakeOpenAI, engine: Engine
) -> None:
    answer = engine.ask("Who invited the Palestinian factions to Moscow?")
    assert answer.language == "en"
    assert answer.mode == "extractive"
    assert llm.requests == []


# --- follow-ups -------------------------------------------------------------------------------

STANDALONE = "متى تبدأ محادثات الفصائل الفلسطينية في موسكو؟"


def test_a_follow_up_is_retrieved_by_the_model_rewrite(
    llm: FakeOpenAI, engine: Engine, articles: dict[str, str]
) -> None:
    def reply(body: dict[str, Any]) -> str | Reply:
        if system_prompt(body).startswith(REWRITE_RULES[:20]):
            return STANDALONE
        return faithful(1)(body)

    llm.responder = reply
    answer = engine.ask("ومتى؟", [QUESTION])

    rewrite, generation = llm.requests
    assert user_prompt(rewrite).endswith("السؤال الأخير: ومتى؟")
    assert QUESTION in user_prompt(rewrite)
    # The answer prompt still carries the question as asked, and the conversation.
    assert user_prompt(generation).endswith("السؤال: ومتى؟")
    assert f"- {QUESTION}" in user_prompt(generation)
    assert answer.mode == "generative"
    assert_verbatim(answer, articles)
    assert "rewrite_ms" in answer.timings_ms
    assert any("موسكو" in p.text for p in answer.passages)


def test_a_failed_rewrite_retrieves_with_the_conversation_instead(
    llm: FakeOpenAI, engine: Engine
) -> None:
    llm.script(Reply(status=503, text="overloaded"))
    llm.responder = faithful(1)
    answer = engine.ask("ومتى؟", [QUESTION])
    plain = engine.ask("ومتى؟", [QUESTION], generate=False)
    assert [p.chunk_id for p in answer.passages] == [p.chunk_id for p in plain.passages]
    assert answer.mode == "generative"


# --- Ollama and settings ------------------------------------------------------------------------


def test_ollama_through_langchain_ollama(
    llm: FakeOpenAI, data_dir: Path, articles: dict[str, str]
) -> None:
    settings = llm_settings(
        llm, data_dir, SANAD_LLM="ollama", SANAD_LLM_BASE_URL=llm.root, SANAD_LLM_API_KEY=""
    )
    engine = Engine(settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings))
    llm.responder = faithful(1, 2)
    answer = engine.ask(QUESTION)
    engine.close()
    assert llm.paths == ["/api/chat"]
    assert answer.mode == "generative"
    assert_verbatim(answer, articles)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SANAD_LLM": "openai", "SANAD_LLM_BASE_URL": "http://127.0.0.1:9"}, "SANAD_LLM_MODEL"),
        ({"SANAD_LLM": "openai", "SANAD_LLM_MODEL": "gpt"}, "SANAD_LLM_API_KEY"),
        ({"SANAD_LLM": "ollama"}, "SANAD_LLM_MODEL"),
    ],
)
def test_a_missing_setting_stops_start_up_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        build_chat_model(Settings(**env))  # type: ignore[arg-type]


def test_no_llm_means_no_model() -> None:
    assert build_chat_model(Settings()) is None


def test_the_api_key_stays_out_of_settings_and_logs(
    llm: FakeOpenAI, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    assert API_KEY not in repr(engine.settings)
    llm.script(Reply(status=401, text="bad key"))
    with caplog.at_level(logging.DEBUG):
        engine.ask(QUESTION)
    assert caplog.records
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


class SlowStartEngine(Engine):
    """An engine whose embedding model takes a while to load, as the real one does (~6 s)."""

    loaded = False

    def embedder(self) -> Any:
        if not self.loaded:
            time.sleep(1.2)
            self.loaded = True
        return super().embedder()


def test_loading_the_embedder_does_not_eat_the_model_s_time(
    llm: FakeOpenAI, data_dir: Path
) -> None:
    settings = llm_settings(llm, data_dir, SANAD_LLM_TIMEOUT=1)
    engine = SlowStartEngine(
        settings, embedder=SqueezedEmbedder(), chat_model=build_chat_model(settings)
    )
    llm.responder = faithful(1)
    answer = engine.ask(QUESTION)
    assert answer.mode == "generative"
