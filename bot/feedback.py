"""The bot's durable record, in SQLite under the data dir: every answer given (so its buttons
keep working after a restart), feedback on answers, refused questions, counters, latencies.

One connection per process, shared by threads under a lock; the bot calls it through
`asyncio.to_thread` so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retrieval.models import Answer, Citation

DB_NAME = "bot.sqlite3"
_LATENCY_WINDOW = 1000  # latency percentiles cover this many recent answers

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    chat_id INTEGER,
    user_id INTEGER,
    chat_type TEXT NOT NULL,
    question TEXT NOT NULL,
    refused INTEGER NOT NULL,
    engine_ms REAL,
    latency_ms REAL,
    citations TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_refused ON answers (refused, created);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id INTEGER NOT NULL REFERENCES answers (id),
    user_id INTEGER NOT NULL,
    useful INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Stats:
    """What the operator reads in /stats and `sanad feedback`."""

    questions: int
    refused: int
    inline: int
    useful: int
    not_useful: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    counters: dict[str, int] = field(default_factory=dict)
    recent_refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the stats as JSON-ready data."""
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]


class FeedbackStore:
    """The SQLite file of answers, feedback and counters."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        """Open (creating if needed) the store of a data dir."""
        return cls(data_dir / DB_NAME)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ writing

    def record_answer(
        self,
        answer: Answer,
        *,
        chat_id: int | None,
        user_id: int | None,
        chat_type: str,
        engine_ms: float | None = None,
    ) -> int:
        """Store an answer and its citations; return the id its buttons refer to."""
        citations = json.dumps([asdict(c) for c in answer.citations], ensure_ascii=False)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO answers (created, chat_id, user_id, chat_type, question, refused,"
                " engine_ms, citations) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    chat_id,
                    user_id,
                    chat_type,
                    answer.question,
                    int(answer.refused),
                    engine_ms,
                    citations,
                ),
            )
            return int(cursor.lastrowid or 0)

    def set_latency(self, answer_id: int, latency_ms: float) -> None:
        """Record how long the user waited for an answer, from the update to the reply."""
        with self._transaction() as db:
            db.execute("UPDATE answers SET latency_ms = ? WHERE id = ?", (latency_ms, answer_id))

    def record_feedback(self, answer_id: int, user_id: int, *, useful: bool) -> bool:
        """Store a user's verdict on an answer (a later press replaces it); False if unknown."""
        with self._transaction() as db:
            known = db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known is None:
                return False
            db.execute(
                "INSERT INTO feedback (answer_id, user_id, useful, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET useful = excluded.useful,"
                " created = excluded.created",
                (answer_id, user_id, int(useful), time.time()),
            )
            return True

    def count(self, name: str, n: int = 1) -> None:
        """Add n to a named counter."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    # ------------------------------------------------------------------ reading

    def answer_chat(self, answer_id: int) -> tuple[int | None, str] | None:
        """Return the chat an answer was given in and its type ("inline": none), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT chat_id, chat_type FROM answers WHERE id = ?", (answer_id,)
            ).fetchone()
        return None if row is None else (row[0], str(row[1]))

    def citation(self, answer_id: int, n: int) -> Citation | None:
        """Return citation n of a stored answer, or None if either is unknown."""
        with self._lock:
            row = self._db.execute(
                "SELECT citations FROM answers WHERE id = ?", (answer_id,)
            ).fetchone()
        if row is None:
            return None
        for item in json.loads(row[0]):
            if item.get("n") == n:
                item["also"] = tuple(item.get("also") or ())
                return Citation(**item)
        return None

    def stats(self, recent: int = 5) -> Stats:
        """Return the counts, latency percentiles and the latest refused questions."""
        with self._lock:
            db = self._db
            questions, refused = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(refused), 0) FROM answers"
                " WHERE chat_type != 'inline'"
            ).fetchone()
            (inline,) = db.execute(
                "SELECT COUNT(*) FROM answers WHERE chat_type = 'inline'"
            ).fetchone()
            useful, not_useful = db.execute(
                "SELECT COALESCE(SUM(useful), 0), COALESCE(SUM(1 - useful), 0) FROM feedback"
            ).fetchone()
            latencies = [
                float(value)
                for (value,) in db.execute(
                    "SELECT latency_ms FROM answers WHERE latency_ms IS NOT NULL"
                    " ORDER BY id DESC LIMIT ?",
                    (_LATENCY_WINDOW,),
                )
            ]
            counters = dict(db.execute("SELECT name, value FROM counters ORDER BY name"))
            recent_refused = [q for (q,) in self._refused_rows(recent, columns="question")]
        return Stats(
            questions=int(questions),
            refused=int(refused),
            inline=int(inline),
            useful=int(useful),
            not_useful=int(not_useful),
            latency_p50_ms=_percentile(latencies, 0.50),
            latency_p95_ms=_percentile(latencies, 0.95),
            counters={str(k): int(v) for k, v in counters.items()},
            recent_refused=recent_refused,
        )

    def _refused_rows(self, limit: int, *, columns: str) -> list[tuple[Any, ...]]:
        return list(
            self._db.execute(
                f"SELECT {columns} FROM answers WHERE refused = 1 AND chat_type != 'inline'"
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        )

    def refused_questions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return the latest questions the sources did not answer, newest first."""
        with self._lock:
            rows = self._refused_rows(limit, columns="id, created, chat_id, question")
        return [
            {"answer_id": i, "created": created, "chat_id": chat, "question": question}
            for i, created, chat, question in rows
        ]

    def feedback(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return the latest feedback with the question it judged, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.answer_id, f.created, f.user_id, f.useful, a.question, a.refused"
                " FROM feedback f JOIN answers a ON a.id = f.answer_id"
                " ORDER BY f.created DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "answer_id": answer_id,
                "created": created,
                "user_id": user_id,
                "useful": bool(useful),
                "question": question,
                "refused": bool(refused),
            }
            for answer_id, created, user_id, useful, question, refused in rows
        ]
