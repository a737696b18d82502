"""Feedback on answers: what was answered, and who rated it 👍 or 👎 (SQLite in the data dir).

A transport calls ``remember`` when it delivers an answer and puts the returned id on its
feedback buttons (Slack button values are too small to carry the answer itself); a click calls
``rate`` with that id. ``list`` returns ``Feedback`` records joining both, newest first.
One rating per user and answer: clicking again changes the rating.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from rag.config import Settings
from rag.errors import NotFound
from rag.models import Answer

Rating = Literal["up", "down"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    conversation_id TEXT,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT NOT NULL REFERENCES answers(id),
    user TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user)
);
"""


class Feedback(BaseModel):
    """One user's rating of one delivered answer."""

    answer_id: str
    rating: Rating
    user: str
    created_at: datetime
    channel: str
    conversation_id: str | None = None
    question: str
    answer: str
    refused: bool
    citations: int


class FeedbackStore:
    def __init__(self, settings: Settings) -> None:
        data_dir = settings.resolved_data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "feedback.sqlite3"
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: callers are request threads, and SQLite serialises writers.
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            yield db

    def remember(
        self,
        answer: Answer,
        channel: str,
        conversation_id: str | None = None,
        question: str | None = None,
    ) -> str:
        """Store a delivered answer; returns the id its feedback buttons carry.

        ``question`` is what the user wrote (a follow-up's answer carries the rewritten one).
        """
        answer_id = uuid.uuid4().hex
        with self._db() as db:
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    _now(),
                    channel,
                    conversation_id,
                    question or answer.question or "",
                    answer.model_dump_json(),
                ),
            )
        return answer_id

    def rate(self, answer_id: str, user: str, rating: Rating) -> Feedback:
        with self._db() as db:
            if db.execute("SELECT 1 FROM answers WHERE id=?", (answer_id,)).fetchone() is None:
                raise NotFound(f"No answer with id '{answer_id}' to rate.")
            db.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user) "
                "DO UPDATE SET rating=excluded.rating, created_at=excluded.created_at",
                (answer_id, user, rating, _now()),
            )
        return self.list(answer_id=answer_id, user=user)[0]

    def list(self, answer_id: str | None = None, user: str | None = None) -> list[Feedback]:
        """Ratings, newest first (optionally of one answer / by one user)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT r.answer_id, r.rating, r.user, r.created_at, a.channel, a.conversation_id, "
                "a.question, a.answer_json FROM ratings r JOIN answers a ON a.id = r.answer_id "
                "WHERE (:answer_id IS NULL OR r.answer_id = :answer_id) "
                "AND (:user IS NULL OR r.user = :user) "
                "ORDER BY r.created_at DESC, r.rowid DESC",
                {"answer_id": answer_id, "user": user},
            ).fetchall()
        out = []
        for r in rows:
            answer = Answer.model_validate_json(r["answer_json"])
            out.append(
                Feedback(
                    answer_id=r["answer_id"],
                    rating=r["rating"],
                    user=r["user"],
                    created_at=r["created_at"],
                    channel=r["channel"],
                    conversation_id=r["conversation_id"],
                    question=r["question"],
                    answer=answer.answer,
                    refused=answer.refused,
                    citations=len(answer.citations),
                )
            )
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
