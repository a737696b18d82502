"""Conversations: multi-turn chat history in the database (``rag.store.database``).

Input: a conversation id and turns (what the user typed, the standalone question it became,
the ``Answer``). Output: ``Conversation`` records that survive restarts and are shared by every
replica on one database. Ids are random hex strings handed out by ``new_id``; a conversation
row exists once its first turn is stored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import BaseModel, Field

from rag.errors import NotFound
from rag.models import Answer
from rag.store.database import Database
from rag.store.schema import conversations, turns


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
    def __init__(self, db: Database) -> None:
        self.db = db

    def exists(self, conversation_id: str) -> bool:
        with self.db.read() as c:
            query = sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
            return c.execute(query).first() is not None

    def get(self, conversation_id: str) -> Conversation:
        with self.db.read() as c:
            head = c.execute(sa.select(conversations).where(conversations.c.id == conversation_id)).first()
            if head is None:
                raise NotFound(f"No conversation with id '{conversation_id}'.")
            query = (
                sa.select(turns).where(turns.c.conversation_id == conversation_id).order_by(turns.c.ordinal)
            )
            rows = c.execute(query).fetchall()
        return Conversation(
            id=head.id,
            created_at=head.created_at,
            updated_at=head.updated_at,
            turns=[
                Turn(
                    message=r.message,
                    question=r.question,
                    answer=Answer.model_validate_json(r.answer),
                    created_at=r.created_at,
                )
                for r in rows
            ],
        )

    def append(self, conversation_id: str, message: str, question: str, answer: Answer) -> None:
        now = _now()
        with self.db.write() as c:
            touched = c.execute(
                conversations.update().where(conversations.c.id == conversation_id).values(updated_at=now)
            ).rowcount
            if not touched:
                c.execute(conversations.insert().values(id=conversation_id, created_at=now, updated_at=now))
            following = sa.select(sa.func.coalesce(sa.func.max(turns.c.ordinal), -1) + 1).where(
                turns.c.conversation_id == conversation_id
            )
            c.execute(
                turns.insert().values(
                    conversation_id=conversation_id,
                    ordinal=following.scalar_subquery(),
                    message=message,
                    question=question,
                    answer=answer.model_dump_json(),
                    created_at=now,
                )
            )

    def delete(self, conversation_id: str) -> None:
        with self.db.write() as c:
            c.execute(turns.delete().where(turns.c.conversation_id == conversation_id))
            deleted = c.execute(conversations.delete().where(conversations.c.id == conversation_id)).rowcount
        if not deleted:
            raise NotFound(f"No conversation with id '{conversation_id}'.")
