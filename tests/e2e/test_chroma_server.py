"""Server mode: the real `chroma run` server, the real CLI, two long-running chat processes.

Indexes into the server, answers, then re-indexes from a third process while the two
conversations stay open: both see the new article at their next question, no restart.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SEEDS

pytestmark = pytest.mark.model

NEW_ARTICLE = """\
مجلس بلدي يفتتح مكتبة عامة جديدة في مدينة الزرقاء

تاريخ النشر: 12/03/2025

افتتح المجلس البلدي في مدينة الزرقاء مكتبة عامة جديدة تضم اثني عشر ألف كتاب باللغة العربية.

وقال رئيس المجلس إن المكتبة ستفتح أبوابها للقراء يوميا من الثامنة صباحا حتى العاشرة مساء.
"""
NEW_QUESTION = "كم كتابا تضم المكتبة العامة الجديدة في الزرقاء؟"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server on a free loopback port, stopped after the module."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chroma CLI ships with chromadb and should be in the venv"
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    server = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("the Chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)
    log.close()


def _env(data: Path, source: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SANAD_DATA_DIR": str(data),
        "SANAD_SOURCE_DIR": str(source),
        "SANAD_CHROMA_URL": url,
        "OMP_NUM_THREADS": "1",  # three model processes share two cores
    }


def _sanad(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class Chat:
    """A `sanad chat --json` process held open like a user's conversation."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat", "--json"],
            env=env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def ask(self, question: str, timeout: float = 120) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return dict(json.loads(self.lines.get(timeout=timeout)))

    def close(self) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("exit\n")
        self.process.stdin.close()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        self.process.stdout.close()
        return code


def test_two_processes_on_one_chroma_server_both_see_a_rebuild(
    chroma_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "articles"
    shutil.copytree(SEEDS, source)
    env = _env(tmp_path / "data", source, chroma_url)

    first = _sanad("index", env=env)
    assert first.returncode == 0, first.stderr
    assert "6 added" in first.stdout

    chats = [Chat(env), Chat(env)]
    try:
        for chat in chats:
            answer = chat.ask("من دعا الفصائل الفلسطينية إلى موسكو؟")
            assert not answer["refused"]
            assert answer["citations"][0]["file"].startswith(("000_", "002_", "003_"))
            before = chat.ask(NEW_QUESTION)
            assert "ألف كتاب" not in before["answer"]

        (source / "library.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        again = _sanad("index", env=env)
        assert again.returncode == 0, again.stderr
        assert "1 added" in again.stdout
        assert "6 unchanged" in again.stdout

        for chat in chats:
            after = chat.ask(NEW_QUESTION)
            assert not after["refused"], after["answer"]
            assert "اثني عشر ألف كتاب" in after["answer"]
            assert after["citations"][0]["file"] == "library.txt"
    finally:
        codes = [chat.close() for chat in chats]
    assert codes == [0, 0]


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    env = _env(tmp_path / "data", SEEDS, f"http://127.0.0.1:{_free_port()}")
    result = _sanad("index", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Chroma" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
