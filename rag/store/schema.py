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
    Column("sentences", LargeBinary),  # its sentences' (start, end), int32 pairs (rag.store.catalog)
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
    Column("spans", LargeBinary),  # those sentences' (start, end) in article offsets, int32 pairs
)

# Each chunk's vector beside the vector store's copy: worker processes sharing an embedded Chroma
# cannot read what another process wrote, and the in-memory search matrix is built from these.
chunk_vectors = Table(
    "chunk_vectors",
    metadata,
    Column("chunk_id", String(100), primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # float32
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

# --- following the news (rag.feeds) ------------------------------------------------------------
# The feeds, sitemaps and pages polled on a schedule, with the validators of their last answer
# (an unchanged feed then costs one 304).
feed_sources = Table(
    "feed_sources",
    metadata,
    Column("id", String(16), primary_key=True),  # derived from the URL: what DELETE names
    Column("url", String(2000), nullable=False, unique=True),
    Column("name", Text),
    Column("every_s", Integer, nullable=False),
    Column("added_at", String(40), nullable=False),
    Column("last_polled", String(40)),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_result", Text),  # what the last poll did, or why it failed
)

# Every article URL fetched: the story it holds (a copy's is the story it was folded into), the
# validators it came with and the feed's date for it, so a known article is not fetched again.
fetched_urls = Table(
    "fetched_urls",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("article_id", String(64)),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("stamp", String(40)),  # the feed's "updated" date for the item when it was fetched
    Column("fetched_at", String(40), nullable=False),
)

# Each outlet and URL that carried a stored story: the story's own, and syndicated copies folded
# into it (stored once, so retrieval never returns two copies).
story_carriers = Table(
    "story_carriers",
    metadata,
    Column("story_id", String(64), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("outlet", Text),
    Column("title", Text),
    Column("published_at", String(40)),
    Column("fetched_at", String(40), nullable=False),
    PrimaryKeyConstraint("story_id", "url"),
)

# Each stored article's MinHash signature (rag.sources.dedup) and the hash of its text.
story_signatures = Table(
    "story_signatures",
    metadata,
    Column("article_id", String(64), primary_key=True),
    Column("text_hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Index("story_signatures_text", "text_hash"),
)

# Slack channels following a topic: a digest of new matching articles, at most one per interval.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("channel", String(100), nullable=False),
    Column("topic", String(500), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("last_sent", String(40)),
    Column("covered_until", String(40), nullable=False),  # articles first fetched after this are new
    PrimaryKeyConstraint("channel", "topic"),
)
