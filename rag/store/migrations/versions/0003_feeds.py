"""Following the news: polled sources, fetched article URLs, the outlets that carried each story,
stories' near-duplicate signatures and Slack topic subscriptions (``rag.feeds``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text, when, url = sa.Text, sa.String(40), sa.String(2000)
    op.create_table(
        "feed_sources",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("url", url, nullable=False, unique=True),
        sa.Column("name", text),
        sa.Column("every_s", sa.Integer, nullable=False),
        sa.Column("added_at", when, nullable=False),
        sa.Column("last_polled", when),
        sa.Column("etag", text),
        sa.Column("last_modified", text),
        sa.Column("last_result", text),
    )
    op.create_table(
        "fetched_urls",
        sa.Column("url", url, primary_key=True),
        sa.Column("article_id", sa.String(64)),
        sa.Column("etag", text),
        sa.Column("last_modified", text),
        sa.Column("stamp", when),
        sa.Column("fetched_at", when, nullable=False),
    )
    op.create_table(
        "story_carriers",
        sa.Column("story_id", sa.String(64), nullable=False),
        sa.Column("url", url, nullable=False),
        sa.Column("outlet", text),
        sa.Column("title", text),
        sa.Column("published_at", when),
        sa.Column("fetched_at", when, nullable=False),
        sa.PrimaryKeyConstraint("story_id", "url"),
    )
    op.create_table(
        "story_signatures",
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
    )
    op.create_index("story_signatures_text", "story_signatures", ["text_hash"])
    op.create_table(
        "subscriptions",
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(500), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("last_sent", when),
        sa.Column("covered_until", when, nullable=False),
        sa.PrimaryKeyConstraint("channel", "topic"),
    )


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_index("story_signatures_text", table_name="story_signatures")
    for name in ("story_signatures", "story_carriers", "fetched_urls", "feed_sources"):
        op.drop_table(name)
