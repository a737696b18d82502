"""Each chunk's vector in the database too, so every worker process builds its search matrix from
one place (an embedded Chroma shows one process's writes to it alone).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_vectors",
        sa.Column("chunk_id", sa.String(100), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chunk_vectors")
