"""Sentence offsets stored at ingest: each article's sentences, and the sentences each chunk's
vectors were computed for, so answering and checking need not split text again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("sentences", sa.LargeBinary, nullable=True))
    with op.batch_alter_table("sentence_vectors") as batch:
        batch.add_column(sa.Column("spans", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sentence_vectors") as batch:
        batch.drop_column("spans")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("sentences")
