"""The first versioned schema: catalog, conversations, feedback and the Slack ledger.

Tables are created only where missing: a data dir from before migrations already holds the
catalog's (``rag.store.database`` converts its chunks table first).

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    text, when = sa.Text, sa.String(40)
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", text, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "files",
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("file_hash", sa.String(64), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("file_path", sa.String(1000), nullable=False),
        sa.Column("origin", text, nullable=False),
        sa.Column("title", text, nullable=False),
        sa.Column("source", text),
        sa.Column("author", text),
        sa.Column("published_at", when),
        sa.Column("url", text),
        sa.Column("category", text),
        sa.Column("text", text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("n_chunks", sa.Integer, nullable=False),
        if_not_exists=True,
    )
    op.create_index("articles_file", "articles", ["file_path"], if_not_exists=True)
    op.create_table(
        "chunks",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(100), nullable=False, unique=True),
        sa.Column("document_id", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        sa.Column("text", text, nullable=False),
        if_not_exists=True,
    )
    op.create_index("chunks_doc", "chunks", ["document_id"], if_not_exists=True)
    op.create_table(
        "passage_spans",
        sa.Column("chunk_id", sa.String(100), primary_key=True),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "sentence_vectors",
        sa.Column("chunk_id", sa.String(100), primary_key=True),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
        if_not_exists=True,
    )
    _conversations(text, when)
    _feedback_and_slack(text, when)


def _conversations(text: type[sa.Text], when: sa.String) -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "turns",
        sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id", ondelete="CASCADE")),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("message", text, nullable=False),
        sa.Column("question", text, nullable=False),
        sa.Column("answer", text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "ordinal"),
        if_not_exists=True,
    )


def _feedback_and_slack(text: type[sa.Text], when: sa.String) -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("channel", text, nullable=False),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("question", text, nullable=False),
        sa.Column("answer_json", text, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "ratings",
        sa.Column("answer_id", sa.String(32), sa.ForeignKey("answers.id"), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("answer_id", "user"),
        if_not_exists=True,
    )
    op.create_table(
        "slack_events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.Float, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "slack_threads",
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("channel", "ts"),
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in (
        "slack_threads",
        "slack_events",
        "ratings",
        "answers",
        "turns",
        "conversations",
        "sentence_vectors",
        "passage_spans",
        "chunks",
        "articles",
        "files",
        "meta",
    ):
        op.drop_table(table)
