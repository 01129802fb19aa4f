"""`sanad eval --llm` and `sanad ask` with a chat model, in process, against the fake server.

The CLI builds its engine at one seam (`_engine`); these tests keep that seam's real chat
model (built from SANAD_LLM_* by `build_chat_model`) and swap only the embedding model for
the fast fake, so the whole command runs in a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from retrieval.engine import Engine
from retrieval.generation import REWRITE_RULES, build_chat_model
from tests.conftest import REPO, SEEDS
from tests.fakes.embedder import SqueezedEmbedder
from tests.fakes.openai_api import FakeOpenAI, Reply, faithful, system_prompt

PICKED = ("q001", "q072", "q100")  # an answerable question, a follow-up, an unanswerable one
STANDALONE = "متى تبدأ محادثات الفصائل الفلسطينية في موسكو؟"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, llm: FakeOpenAI) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SANAD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SANAD_SOURCE_DIR", str(SEEDS))
    monkeypatch.setenv("SANAD_LLM", "openai")
    monkeypatch.setenv("SANAD_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("SANAD_LLM_MODEL", "fake-arabic-1")
    monkeypatch.setenv("SANAD_LLM_API_KEY", "sk-cli-test-0123456789")

    def fast_engine(args: Any, *, llm: bool = True) -> Engine:
        settings = cli._settings(args)
        model = build_chat_model(settings) if llm else None
        return Engine(settings, embedder=SqueezedEmbedder(), chat_model=model)

    monkeypatch.setattr(cli, "_engine", fast_engine)
    return tmp_path


def questions_file(folder: Path) -> Path:
    lines = (REPO / "tests" / "data" / "dev.jsonl").read_text("utf-8").splitlines()
    picked = [line for line in lines if json.loads(line)["id"] in PICKED]
    path = folder / "questions.jsonl"
    path.write_text("\n".join(picked) + "\n", "utf-8")
    return path


def answering(body: dict[str, Any]) -> str | Reply:
    if system_prompt(body).startswith(REWRITE_RULES[:20]):
        return STANDALONE
    return faithful(1, 2)(body)


def test_eval_llm_reports_the_same_metrics_plus_the_model_s(
    env: Path, llm: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    llm.responder = answering
    status = cli.main(["eval", str(questions_file(env)), "--llm", "--json"])
    out = json.loads(capsys.readouterr().out)

    assert status == 0
    metrics = out["metrics"]
    for key in ("answer_accuracy", "refusal_precision", "refusal_recall", "followup_accuracy"):
        assert key in metrics
    assert metrics["llm"] == "fake-arabic-1"
    assert metrics["generated"] >= 2
    assert metrics["citation_validity"] == 1.0  # every quote verbatim in its article
    assert metrics["marker_validity"] == 1.0  # every [n] in a text names one of its sources
    assert metrics["followups_measured"] == 1
    assert metrics["rewrites_failed"] == 0
    assert "followup_doc_recall@5_contextual" in metrics
    assert "followup_doc_recall@5_rewritten" in metrics
    modes = {q["id"]: q["mode"] for q in out["questions"]}
    assert modes["q001"] == "generative"


def test_eval_without_llm_never_calls_the_model(
    env: Path, llm: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["eval", str(questions_file(env)), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert llm.requests == []
    assert "generated" not in out["metrics"]
    assert {q["mode"] for q in out["questions"]} == {"extractive"}


def test_ask_answers_with_the_model_and_says_so(
    env: Path, llm: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["index"]) == 0
    capsys.readouterr()
    llm.responder = answering
    status = cli.main(["ask", "من دعا الفصائل الفلسطينية إلى محادثات في موسكو؟"])
    out = capsys.readouterr().out
    assert status == 0
    assert "(صاغ نموذج لغوي هذا الجواب" in out
    assert "\n\nالمصادر:\n[1] " in out


def test_eval_llm_without_a_model_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SANAD_LLM", raising=False)
    status = cli.main(["eval", str(questions_file(tmp_path)), "--llm"])
    assert status == 1
    assert "SANAD_LLM" in capsys.readouterr().err
