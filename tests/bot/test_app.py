"""Start-up, settings, the token's secrecy, the question limit, context expiry, the CLI."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot import cli
from bot.app import TokenRedactor, build_application, configure_logging, run_bot
from bot.feedback import FeedbackStore
from bot.handlers import Conversations, QuestionLimiter
from retrieval.errors import SettingsError
from retrieval.settings import Settings
from tests.bot.conftest import StubEngine, answer, citation

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No stray .env or TELEGRAM_* from the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "SANAD_ADMIN_IDS", "SANAD_ALLOWED_CHATS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", frozenset()),
        ("1001", frozenset({1001})),
        ("1001, 42", frozenset({1001, 42})),
        (" 1001;42  -1001000000001 ,", frozenset({1001, 42, -1001000000001})),
        ("١٠٠١", frozenset({1001})),
    ],
)
def test_id_lists_parse_robustly(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path, raw: str, expected: frozenset[int]
) -> None:
    monkeypatch.setenv("SANAD_ADMIN_IDS", raw)
    monkeypatch.setenv("SANAD_ALLOWED_CHATS", raw)

    settings = Settings()

    assert settings.admin_ids == expected
    assert settings.allowed_chats == expected


def test_a_bad_id_is_named(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    monkeypatch.setenv("SANAD_ALLOWED_CHATS", "1001, @group")

    with pytest.raises(ValueError, match="SANAD_ALLOWED_CHATS: '@group' is not a numeric"):
        Settings()


@pytest.mark.parametrize("token", ["not a token", "7654321", ":abc", "12:ab cd", "abc:def"])
def test_a_malformed_token_stops_start_up_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
    clean_env: Path,
    capsys: pytest.CaptureFixture[str],
    token: str,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)

    status = cli.main(["bot"])

    err = capsys.readouterr().err
    assert status != 0
    assert "TELEGRAM_BOT_TOKEN is malformed" in err
    assert token not in err


def test_a_missing_token_stops_the_bot_with_its_name(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["bot", "--data-dir", str(clean_env / "data")])

    assert status == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


def test_webhook_mode_needs_its_url(settings: Settings) -> None:
    bot = Settings(TELEGRAM_BOT_TOKEN=TOKEN, SANAD_DATA_DIR=settings.data_dir)

    with pytest.raises(SettingsError, match="SANAD_WEBHOOK_URL"):
        run_bot(StubEngine(bot), webhook=True)  # type: ignore[arg-type]


def test_the_token_is_secret_in_settings() -> None:
    settings = Settings(TELEGRAM_BOT_TOKEN=TOKEN)

    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())


def test_the_application_talks_to_the_configured_bot_api_root(settings: Settings) -> None:
    custom = Settings(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL="http://127.0.0.1:8081/",
        SANAD_DATA_DIR=settings.data_dir,
    )

    app = build_application(StubEngine(custom), custom)  # type: ignore[arg-type]

    assert app.bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    assert app.bot.base_file_url == f"http://127.0.0.1:8081/file/bot{TOKEN}"


# --- the token never reaches a log --------------------------------------------------------------


def test_the_token_is_redacted_from_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(TokenRedactor(TOKEN))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        log.debug("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        log.info("url-encoded: bot%s/sendMessage", TOKEN.replace(":", "%3A"))
        secret_half = TOKEN.split(":")[1]
        try:
            raise RuntimeError(f"connection to /bot{TOKEN}/getUpdates failed ({secret_half})")
        except RuntimeError:
            log.exception("polling failed")
    finally:
        log.removeHandler(handler)

    output = stream.getvalue()
    assert TOKEN.split(":")[1] not in output
    assert output.count("[REDACTED]") == 4
    assert "RuntimeError" in output  # the traceback is kept, only the secret goes


def test_configure_logging_quietens_httpx_and_filters_root_handlers() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    httpx_level = logging.getLogger("httpx").level
    try:
        logging.getLogger("httpx").setLevel(logging.DEBUG)
        configure_logging(TOKEN)
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
        assert any(isinstance(f, TokenRedactor) for f in handler.filters)
    finally:
        root.removeHandler(handler)
        logging.getLogger("httpx").setLevel(httpx_level)


# --- question limit and conversation context ---------------------------------------------------


def test_question_limit_is_per_user_and_slides() -> None:
    clock = Clock()
    limiter = QuestionLimiter(2, 60, clock)

    assert limiter.wait_time(1) is None
    assert limiter.wait_time(1) is None
    assert limiter.wait_time(2) is None
    assert limiter.wait_time(1) == pytest.approx(60)
    assert limiter.warn_once(1)
    assert not limiter.warn_once(1)
    clock.now += 61
    assert limiter.wait_time(1) is None
    assert limiter.warn_once(1)


def test_a_zero_limit_means_no_limit() -> None:
    limiter = QuestionLimiter(0, 60)

    assert all(limiter.wait_time(1) is None for _ in range(100))


def test_context_keeps_the_last_questions_and_expires_after_a_pause() -> None:
    clock = Clock()
    conversations = Conversations(minutes=10, size=2, clock=clock)
    key = (1, 1)
    for question in ("أ", "ب", "ج"):
        conversations.add(key, question)
        clock.now += 60

    assert conversations.recent(key) == ["ب", "ج"]
    assert conversations.recent((1, 2)) == []
    clock.now += 10 * 60 + 1
    assert conversations.recent(key) == []


# --- the operator's view ------------------------------------------------------------------------


def test_sanad_feedback_prints_refused_questions_and_verdicts(
    settings: Settings, clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FeedbackStore.in_data_dir(settings.data_dir)
    answered = store.record_answer(
        answer(citations=[citation()], question="سؤال مجاب"),
        chat_id=1,
        user_id=1,
        chat_type="private",
    )
    store.record_answer(
        answer("لا تجيب المصادر.", [], refused=True, question="ما سعر الذهب؟"),
        chat_id=1,
        user_id=1,
        chat_type="private",
    )
    store.set_latency(answered, 120.0)
    store.record_feedback(answered, 1, useful=False)
    store.count("rate_limited", 3)
    store.close()

    status = cli.main(["feedback", "--data-dir", str(settings.data_dir)])

    out = capsys.readouterr().out
    assert status == 0
    assert "questions: 2 (1 refused)" in out
    assert "feedback: 0 useful, 1 not useful" in out
    assert "p50 120 ms" in out
    assert "rate_limited=3" in out
    assert "ما سعر الذهب؟" in out.split("refused questions")[1]
    assert "not useful  سؤال مجاب" in out


def test_sanad_feedback_without_records_says_so(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["feedback", "--data-dir", str(clean_env / "empty")]) == 0
    assert "no bot records yet" in capsys.readouterr().out
