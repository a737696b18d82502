"""Conversations: multi-turn chat history in SQLite (``<data>/conversations.sqlite3``).

Input: a conversation id and turns (what the user typed, the standalone question it became,
the ``Answer``). Output: ``Conversation`` records that survive restarts. Ids are random hex
strings handed out by ``new_id``; a conversation row exists once its first turn is stored.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from rag.errors import NotFound
from rag.models import Answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, message TEXT NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, ordinal)
);
"""


class Turn(BaseModel):
    message: str = Field(description="What the user wrote.")
    question: str = Field(description="The standalone question it was rewritten into.")
    answer: Answer
    created_at: datetime


class Conversation(BaseModel):
    id: str
    created_at: datetime
    updated_at: datetime
    turns: list[Turn]


class ChatReply(BaseModel):
    """One chat turn's result: the conversation it belongs to and the answer."""

    conversation_id: str
    answer: Answer


def new_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ConversationStore:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(data_dir / "conversations.sqlite3", check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def exists(self, conversation_id: str) -> bool:
        with self._lock:
            row = self.db.execute("SELECT 1 FROM conversations WHERE id=?", (conversation_id,)).fetchone()
        return row is not None

    def get(self, conversation_id: str) -> Conversation:
        with self._lock:
            head = self.db.execute("SELECT * FROM conversations WHERE id=?", (conversation_id,)).fetchone()
            if head is None:
                raise NotFound(f"No conversation with id '{conversation_id}'.")
            rows = self.db.execute(
                "SELECT * FROM turns WHERE conversation_id=? ORDER BY ordinal", (conversation_id,)
            ).fetchall()
        return Conversation(
            id=head["id"],
            created_at=head["created_at"],
            updated_at=head["updated_at"],
            turns=[
                Turn(
                    message=r["message"],
                    question=r["question"],
                    answer=Answer.model_validate_json(r["answer"]),
                    created_at=r["created_at"],
                )
                for r in rows
            ],
        )

    def append(self, conversation_id: str, message: str, question: str, answer: Answer) -> None:
        now = _now()
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated_at=excluded.updated_at",
                (conversation_id, now, now),
            )
            self.db.execute(
                "INSERT INTO turns SELECT ?, COALESCE(MAX(ordinal), -1) + 1, ?, ?, ?, ? "
                "FROM turns WHERE conversation_id=?",
                (conversation_id, message, question, answer.model_dump_json(), now, conversation_id),
            )

    def delete(self, conversation_id: str) -> None:
        with self._lock, self.db:
            deleted = self.db.execute("DELETE FROM conversations WHERE id=?", (conversation_id,)).rowcount
        if not deleted:
            raise NotFound(f"No conversation with id '{conversation_id}'.")
