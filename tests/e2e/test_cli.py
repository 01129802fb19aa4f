"""The `sanad` command as an operator runs it: a real subprocess, the real model, the seeds.

Indexing the seeds with the real model takes a while, so the module indexes one data dir
once and then starts the commands that read it (ask, chat, eval) side by side; each test
waits for the command it checks. The error cases need no index: they start on fresh data
dirs while the index is being built.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
DEV = REPO / "tests" / "data" / "dev.jsonl"
TIMEOUT = 240  # seconds: generous, the commands share the CPU

QUESTION = "من دعا الفصائل الفلسطينية إلى موسكو؟"
TITLE_000 = "روسيا تدعو الفصائل الفلسطينية إلى محادثات في غمرة توتر مع إسرائيل"
TITLE_002 = "روسيا تدعو قادة الفصائل الفلسطينية لمحادثات بموسكو"
TITLE_003 = "يدعو بوتين حماس لإجراء محادثات في موسكو بينما تتخذ الحرب منحىً عالميًّا"
MOSCOW_TALKS = {
    "000_66a249f8971aa960.txt": TITLE_000,
    "002_27a3148d552c7d9d.txt": TITLE_002,
    "003_67f142e8dd789aaa.txt": TITLE_003,
}
OUTLETS = ("الجزيرة", "فرانس24")
PASSAGE_KEYS = {"rank", "file", "article_id", "title", "source", "date", "text", "score"}
MALFORMED_QUESTIONS = (
    json.dumps({"id": "q1", "question": QUESTION, "docs": [], "answers": []}, ensure_ascii=False)
    + '\n{"id": "q2", "question": \n'
)


@dataclass(frozen=True)
class Run:
    """What a finished `sanad` command left behind."""

    returncode: int
    stdout: str
    stderr: str


class Started:
    """A `sanad` command running in the background, writing its output to files."""

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        folder: Path,
        stdin: str = "",
        *,
        close_stdin: bool = False,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._out = folder / "stdout"
        self._err = folder / "stderr"
        # Files, not pipes: a command with a lot to say must not wait for the test to read it.
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                env=env,
                cwd=folder,
            )
        assert self._proc.stdin is not None
        self._proc.stdin.write(stdin.encode("utf-8"))
        self._proc.stdin.flush()
        # Unless told otherwise, stdin stays open: the command must end by itself.
        if close_stdin:
            self._proc.stdin.close()

    def result(self, timeout: float = TIMEOUT) -> Run:
        """Wait for the command to end and return its exit status and output."""
        returncode = self._proc.wait(timeout)
        return Run(returncode, self._out.read_text("utf-8"), self._err.read_text("utf-8"))

    def stop(self) -> None:
        """End the command if it still runs (a failed test must not leave it behind)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()


def sanad_env(data_dir: Path, model_dir: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a `sanad` run over `data_dir`: offline, on the seeds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SANAD_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(REPO),
        PYTHONIOENCODING="utf-8",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        SANAD_DATA_DIR=str(data_dir),
        SANAD_SOURCE_DIR=str(SEEDS),
        SANAD_MODEL_DIR=str(model_dir.parent),
    )
    env.update(extra)
    return env


def sanad(*args: str, env: dict[str, str], cwd: Path) -> Run:
    """Run a `sanad` command to its end, with nothing on stdin."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


def assert_ok(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "error" not in run.stderr.lower(), run.stderr


def assert_one_line_error(run: Run) -> str:
    """Check the command failed with one clear line on stderr, and return that line."""
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("sanad: error: "), lines[0]
    return lines[0]


def names_a_moscow_talks_article(text: str) -> bool:
    """Tell whether a line of `text` shows a Moscow-talks article with its outlet."""
    return any(
        title in line and any(outlet in line for outlet in OUTLETS)
        for line in text.splitlines()
        for title in MOSCOW_TALKS.values()
    )


# --------------------------------------------------------------------------------------------
# One indexed data dir, the commands that read it, and the commands that must fail


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def env(workdir: Path, model_dir: Path) -> dict[str, str]:
    return sanad_env(workdir / "data", model_dir)


@pytest.fixture(scope="module")
def failing(workdir: Path, model_dir: Path) -> Iterator[dict[str, Started]]:
    """Commands that must fail, each on a data dir nothing was ever indexed into."""
    errors = workdir / "errors"
    errors.mkdir()
    questions = errors / "questions.jsonl"
    questions.write_text(MALFORMED_QUESTIONS, "utf-8")
    commands = {
        "ask_before_index": (["ask", QUESTION], {}),
        "unknown_model": (["index"], {"SANAD_EMBEDDING_MODEL": "/nonexistent"}),
        "missing_source": (["index", "--source", str(errors / "no-such-folder")], {}),
        "malformed_questions": (["eval", str(questions)], {}),
    }
    runs = {
        name: Started(
            args,
            sanad_env(errors / name / "data", model_dir, OMP_NUM_THREADS="1", **extra),
            errors / name,
        )
        for name, (args, extra) in commands.items()
    }
    yield runs
    for run in runs.values():
        run.stop()


@pytest.fixture(scope="module")
def first_index(env: dict[str, str], workdir: Path, failing: dict[str, Started]) -> Run:
    """`sanad index` on an empty data dir: the seeds, with the real model."""
    return sanad("index", env=env, cwd=workdir)


@pytest.fixture(scope="module")
def started(first_index: Run, env: dict[str, str], workdir: Path) -> Iterator[dict[str, Started]]:
    """The commands that read the index, all started at once once it is built."""
    assert first_index.returncode == 0, first_index.stderr
    # Several model processes share few cores: one thread each keeps them from spinning.
    env = {**env, "OMP_NUM_THREADS": "1"}
    runs = {
        "ask_json": Started(["ask", QUESTION, "--json"], env, workdir / "ask_json"),
        "ask_text": Started(["ask", QUESTION], env, workdir / "ask_text"),
        "chat_exit": Started(["chat"], env, workdir / "chat_exit", f"{QUESTION}\nexit\n"),
        "chat_eof": Started(["chat"], env, workdir / "chat_eof", "\n", close_stdin=True),
        "eval": Started(["eval", str(DEV), "--json", "--top-k", "10"], env, workdir / "eval"),
    }
    yield runs
    for run in runs.values():
        run.stop()


# --------------------------------------------------------------------------------------------
# sanad index


def test_index_reports_articles_and_passages(first_index: Run) -> None:
    assert_ok(first_index)
    assert "articles: 6 added, 0 changed, 0 unchanged, 0 removed, 0 skipped" in first_index.stdout
    passages = re.search(r"passages: (\d+) \((\d+) embedded\)", first_index.stdout)
    assert passages is not None, first_index.stdout
    assert int(passages[1]) > 0
    assert passages[1] == passages[2]
    assert "new build" in first_index.stdout


def test_index_prints_no_debug_logs_by_default(first_index: Run) -> None:
    assert " DEBUG " not in first_index.stderr


def test_index_again_is_up_to_date_and_embeds_nothing(
    first_index: Run, env: dict[str, str], workdir: Path
) -> None:
    again = sanad("index", env=env, cwd=workdir)

    assert_ok(again)
    assert "0 added, 0 changed, 6 unchanged, 0 removed" in again.stdout
    assert "(0 embedded)" in again.stdout
    assert "index already up to date" in again.stdout


# --------------------------------------------------------------------------------------------
# sanad ask and sanad chat


def test_ask_json_has_the_documented_schema_and_the_moscow_talks_first(
    started: dict[str, Started],
) -> None:
    run = started["ask_json"].result()

    assert_ok(run)
    data = json.loads(run.stdout)
    assert data["question"] == QUESTION
    assert isinstance(data["timings_ms"], dict)
    assert data["timings_ms"]
    passages = data["passages"]
    assert passages
    assert [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        assert set(p) >= PASSAGE_KEYS
        assert p["text"]
        assert p["article_id"]
        assert isinstance(p["score"], float)
    top = passages[0]
    assert top["file"] in MOSCOW_TALKS
    assert top["title"] == MOSCOW_TALKS[top["file"]]


def test_ask_shows_the_outlet_and_title_of_its_sources(started: dict[str, Started]) -> None:
    run = started["ask_text"].result()

    assert_ok(run)
    assert names_a_moscow_talks_article(run.stdout), run.stdout


def test_chat_answers_a_question_and_ends_at_exit(started: dict[str, Started]) -> None:
    run = started["chat_exit"].result()  # stdin stays open: only `exit` can end the chat

    assert_ok(run)
    assert names_a_moscow_talks_article(run.stdout), run.stdout


def test_chat_ends_at_end_of_input(started: dict[str, Started]) -> None:
    run = started["chat_eof"].result()  # Ctrl-D after an empty line

    assert_ok(run)
    assert "exit" in run.stdout  # the greeting says how to leave


# --------------------------------------------------------------------------------------------
# sanad eval


def test_eval_json_prints_metrics_and_every_question(started: dict[str, Started]) -> None:
    run = started["eval"].result()

    assert_ok(run)
    data = json.loads(run.stdout)
    metrics = data["metrics"]
    for key in (
        "doc_recall@1",
        "doc_recall@5",
        "doc_recall@10",
        "mrr@10",
        "answer_recall@1",
        "answer_recall@5",
        "answer_recall@10",
        "latency_p50_ms",
        "latency_p95_ms",
    ):
        assert isinstance(metrics[key], float), key
    assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
    # A floor a user would notice falling through: nearly every question finds its article.
    assert metrics["doc_recall@10"] >= metrics["doc_recall@5"] >= 0.85
    ids = [json.loads(line)["id"] for line in DEV.read_text("utf-8").splitlines() if line]
    assert [q["id"] for q in data["questions"]] == ids
    for question in data["questions"]:
        assert set(question) >= {"id", "question", "latency_ms", "passages"}
        assert len(question["passages"]) <= 10
        for p in question["passages"]:
            assert set(p) >= {"rank", "file", "article_id", "text", "score"}


# --------------------------------------------------------------------------------------------
# Errors: one line, a non-zero exit, never a traceback


def test_ask_before_any_index_says_to_run_sanad_index(failing: dict[str, Started]) -> None:
    line = assert_one_line_error(failing["ask_before_index"].result())

    assert "sanad index" in line


def test_an_empty_question_is_refused(
    first_index: Run, env: dict[str, str], workdir: Path
) -> None:
    line = assert_one_line_error(sanad("ask", " ", env=env, cwd=workdir))

    assert "empty" in line


def test_an_unknown_model_directory_is_named(failing: dict[str, Started]) -> None:
    line = assert_one_line_error(failing["unknown_model"].result())

    assert "/nonexistent" in line


def test_a_missing_source_folder_is_named(failing: dict[str, Started], workdir: Path) -> None:
    line = assert_one_line_error(failing["missing_source"].result())

    assert str(workdir / "errors" / "no-such-folder") in line


def test_a_malformed_questions_file_names_the_line(
    failing: dict[str, Started], workdir: Path
) -> None:
    line = assert_one_line_error(failing["malformed_questions"].result())

    assert f"{workdir / 'errors' / 'questions.jsonl'}:2:" in line
