"""Feedback on answers: what was answered, and who rated it 👍 or 👎 (in the database).

A transport calls ``remember`` when it delivers an answer and puts the returned id on its
feedback buttons (Slack button values are too small to carry the answer itself); a click calls
``rate`` with that id. ``list`` returns ``Feedback`` records joining both, newest first.
One rating per user and answer: clicking again changes the rating.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel

from rag.errors import NotFound
from rag.models import Answer
from rag.store.database import Database
from rag.store.schema import answers, ratings

Rating = Literal["up", "down"]


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
    def __init__(self, db: Database) -> None:
        self.db = db

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
        with self.db.write() as c:
            c.execute(
                answers.insert().values(
                    id=answer_id,
                    created_at=_now(),
                    channel=channel,
                    conversation_id=conversation_id,
                    question=question or answer.question or "",
                    answer_json=answer.model_dump_json(),
                )
            )
        return answer_id

    def rate(self, answer_id: str, user: str, rating: Rating) -> Feedback:
        with self.db.write() as c:
            if c.execute(sa.select(answers.c.id).where(answers.c.id == answer_id)).first() is None:
                raise NotFound(f"No answer with id '{answer_id}' to rate.")
            mine = (ratings.c.answer_id == answer_id) & (ratings.c.user == user)
            c.execute(ratings.delete().where(mine))
            c.execute(
                ratings.insert().values(answer_id=answer_id, user=user, rating=rating, created_at=_now())
            )
        return self.list(answer_id=answer_id, user=user)[0]

    def list(self, answer_id: str | None = None, user: str | None = None) -> list[Feedback]:
        """Ratings, newest first (optionally of one answer / by one user)."""
        r, a = ratings.c, answers.c
        query = sa.select(
            r.answer_id,
            r.rating,
            r.user,
            r.created_at,
            a.channel,
            a.conversation_id,
            a.question,
            a.answer_json,
        ).join_from(ratings, answers, a.id == r.answer_id)
        if answer_id is not None:
            query = query.where(r.answer_id == answer_id)
        if user is not None:
            query = query.where(r.user == user)
        with self.db.read() as c:
            rows = c.execute(query.order_by(r.created_at.desc())).fetchall()
        out = []
        for row in rows:
            answer = Answer.model_validate_json(row.answer_json)
            out.append(
                Feedback(
                    answer_id=row.answer_id,
                    rating=row.rating,
                    user=row.user,
                    created_at=row.created_at,
                    channel=row.channel,
                    conversation_id=row.conversation_id,
                    question=row.question,
                    answer=answer.answer,
                    refused=answer.refused,
                    citations=len(answer.citations),
                )
            )
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat()
