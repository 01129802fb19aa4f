"""Sanad as an operator runs it, in subprocesses: `sanad index`, `sanad ask`, `sanad bot`.

Shared by the reliability tests, the end-to-end bot tests and the soak benchmark.
`command()` runs the real CLI with the fake embedder (tests/reliability/fakesanad.py) unless
`real_model` is asked for.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.telegram_api import FakeTelegramThread

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
ADMIN = 7007
START_TIMEOUT = 120.0


def command(*args: str, real_model: bool = False) -> list[str]:
    """Return the argv of a `sanad` command (with the fake embedder unless `real_model`)."""
    module = "bot.cli" if real_model else "tests.reliability.fakesanad"
    return [sys.executable, "-m", module, *args]


def environment(data: Path, source: Path, **extra: str) -> dict[str, str]:
    """Return a clean environment for `sanad` over `data` and `source`: offline, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SANAD_"))}
    env.update(
        {
            "SANAD_DATA_DIR": str(data),
            "SANAD_SOURCE_DIR": str(source),
            "SANAD_ADMIN_IDS": str(ADMIN),
            "PTB_TIMEDELTA": "true",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(REPO),
            "PYTHONIOENCODING": "utf-8",
            # Two cores: subprocesses beside each other must not each spawn a thread per core.
            "OMP_NUM_THREADS": "1",
            **extra,
        }
    )
    return env


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end and return its status and output."""
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Return a process's resident memory in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class BotProcess:
    """A running `sanad bot` and the fake Bot API server it talks to."""

    fake: FakeTelegramThread
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def launch(
        cls,
        fake: FakeTelegramThread,
        env: dict[str, str],
        log: Path,
        *args: str,
        real_model: bool = False,
        verbosity: str = "-vv",
    ) -> BotProcess:
        """Start `sanad -vv bot` (DEBUG logs, or as `verbosity` says) against `fake`."""
        env = {**env, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url}
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command(verbosity, "bot", *args, real_model=real_model),
                env=env,
                cwd=log.parent,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return cls(fake, process, log)

    @classmethod
    def webhook_env(cls, env: dict[str, str]) -> dict[str, str]:
        """Return `env` with webhook settings on a free local port."""
        port = free_port()
        return {
            **env,
            "SANAD_WEBHOOK_URL": f"http://127.0.0.1:{port}/sanad-hook",
            "SANAD_WEBHOOK_LISTEN": "127.0.0.1",
            "SANAD_WEBHOOK_PORT": str(port),
            "SANAD_WEBHOOK_SECRET": "reliability-secret",
        }

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the bot polls or has set its webhook (its post_init is done by then)."""
        deadline = time.monotonic() + timeout
        while not any(c.method in ("getUpdates", "setWebhook") for c in self.fake.calls):
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited:\n{self.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def wait_in_log(self, needle: str, timeout: float = 30.0) -> None:
        """Wait until `needle` appears in the bot's log."""
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited:\n{self.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{needle!r} not logged:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def rss_mb(self) -> float:
        """Return the bot's resident memory in MB."""
        return rss_mb(self.process.pid)

    def stop(self) -> int:
        """Stop the bot as an operator would (SIGINT) and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)
