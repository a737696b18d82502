"""The tables every piece of state lives in, declared once for SQLite and Postgres alike.

The catalog (files, articles, chunks, each chunk's passage span and sentence vectors, and the
``meta`` key/value rows such as the corpus generation), conversations, feedback and the Slack
ledger. Migrations (``rag/store/migrations``) create and change them; code reads and writes
them only through these objects, so no SQL string is written once per dialect.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("path", String(1000), primary_key=True),
    Column("file_hash", String(64), nullable=False),
)

articles = Table(
    "articles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("file_path", String(1000), nullable=False),
    Column("origin", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("source", Text),
    Column("author", Text),
    Column("published_at", String(40)),  # ISO 8601, the outlet's local time: sorts as text
    Column("url", Text),
    Column("category", Text),
    Column("text", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("n_chunks", Integer, nullable=False),
    Index("articles_file", "file_path"),
)

# ``seq`` keeps the order chunks were written in: the keyword index lists chunks in it, so an
# index rebuilt anywhere (another replica, another database) scores ties the same way.
chunks = Table(
    "chunks",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(100), nullable=False, unique=True),
    Column("document_id", String(64), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Index("chunks_doc", "document_id"),
)

passage_spans = Table(
    "passage_spans",
    metadata,
    Column("chunk_id", String(100), primary_key=True),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
)

sentence_vectors = Table(
    "sentence_vectors",
    metadata,
    Column("chunk_id", String(100), primary_key=True),
    Column("vectors", LargeBinary, nullable=False),  # float16, sentences x dimensions, flat
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

turns = Table(
    "turns",
    metadata,
    Column("conversation_id", String(200), ForeignKey("conversations.id", ondelete="CASCADE")),
    Column("ordinal", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),  # the Answer as JSON
    Column("created_at", String(40), nullable=False),
    PrimaryKeyConstraint("conversation_id", "ordinal"),
)

answers = Table(
    "answers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", String(40), nullable=False),
    Column("channel", Text, nullable=False),
    Column("conversation_id", String(200)),
    Column("question", Text, nullable=False),
    Column("answer_json", Text, nullable=False),
)

ratings = Table(
    "ratings",
    metadata,
    Column("answer_id", String(32), ForeignKey("answers.id"), nullable=False),
    Column("user", String(200), nullable=False),
    Column("rating", String(8), nullable=False),
    Column("created_at", String(40), nullable=False),
    PrimaryKeyConstraint("answer_id", "user"),
)

slack_events = Table(
    "slack_events",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("seen_at", Float, nullable=False),
)

slack_threads = Table(
    "slack_threads",
    metadata,
    Column("channel", String(100), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("conversation_id", String(200), nullable=False),
    PrimaryKeyConstraint("channel", "ts"),
)
