"""Sentence spans and vectors in the catalog: each article's sentence spans (what the
extractive answerer picks from) and each chunk's sentence vectors with their spans (what the
ranker and the answerer compare with a question), kept so neither embeds a sentence twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rag.store import schema as t
from rag.store.database import Database
from rag.store.rows import Chunk, SentenceVectors, Spans, chunked, pack, unpack

T = TypeVar("T")


def insert_vectors(c: Connection, pairs: Iterable[tuple[str, SentenceVectors]]) -> None:
    """In transaction ``c``: (chunk id, (vectors, spans)) rows."""
    rows = [
        {"chunk_id": cid, "vectors": np.asarray(v, np.float16).tobytes(), "spans": pack(spans)}
        for cid, (v, spans) in pairs
    ]
    if rows:
        c.execute(t.sentence_vectors.insert(), rows)


def read_blobs(
    db: Database,
    key: sa.Column[str],
    blob: sa.Column[bytes],
    ids: Sequence[str],
    decode: Callable[[bytes], T],
) -> dict[str, T]:
    """``decode(blob)`` for each of ``ids`` whose row in ``key``'s table holds one."""
    out: dict[str, T] = {}
    with db.read() as c:
        for part in chunked(ids):
            for cid, value in c.execute(sa.select(key, blob).where(key.in_(part) & blob.is_not(None))):
                out[cid] = decode(value)
    return out


def float16s(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16)


def float32s(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def spans_of(blob: bytes) -> Spans:
    return unpack(blob) or []


class Sentences:
    """Reads and backfills of sentence spans and vectors (written with their articles by
    ``Catalog.replace_articles``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def without_sentence_vectors(self, limit: int | None = None) -> list[Chunk]:
        """Chunks indexed before sentence vectors existed (up to ``limit``)."""
        k = t.chunks.c
        query = sa.select(k.id, k.document_id, k.ordinal, k.start, k.end, k.text).where(
            k.id.not_in(sa.select(t.sentence_vectors.c.chunk_id))
        )
        with self.db.read() as c:
            return [Chunk(*r) for r in c.execute(query.limit(limit) if limit else query)]

    def add_sentence_vectors(self, pairs: Sequence[tuple[str, SentenceVectors]]) -> None:
        """Store vectors for chunks already committed (one removed meanwhile is skipped)."""
        with self.db.write() as c:
            known: set[str] = set()
            for part in chunked([cid for cid, _ in pairs]):
                known.update(c.execute(sa.select(t.chunks.c.id).where(t.chunks.c.id.in_(part))).scalars())
            insert_vectors(c, [(cid, v) for cid, v in pairs if cid in known])

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each known chunk's sentence vectors, float16 and flat (sentences x dimensions)."""
        s = t.sentence_vectors.c
        return read_blobs(self.db, s.chunk_id, s.vectors, chunk_ids, float16s)

    def sentence_spans(self, chunk_ids: Sequence[str]) -> dict[str, Spans]:
        """The spans each chunk's sentence vectors were computed for (chunks stored before these
        were kept are missing until the next ingest fills them in)."""
        s = t.sentence_vectors.c
        return read_blobs(self.db, s.chunk_id, s.spans, chunk_ids, spans_of)

    def article_sentences(self, document_ids: Sequence[str]) -> dict[str, Spans]:
        """Each article's sentence spans, where they are stored."""
        a = t.articles.c
        return read_blobs(self.db, a.id, a.sentences, document_ids, spans_of)

    def without_sentences(self) -> tuple[list[str], list[Chunk]]:
        """Articles, and chunks with sentence vectors, stored before sentence spans were kept."""
        k, v = t.chunks.c, t.sentence_vectors.c
        articles = sa.select(t.articles.c.id).where(t.articles.c.sentences.is_(None))
        chunks = sa.select(k.id, k.document_id, k.ordinal, k.start, k.end, k.text).join_from(
            t.chunks, t.sentence_vectors, v.chunk_id == k.id
        )
        with self.db.read() as c:
            return list(c.execute(articles).scalars()), [
                Chunk(*r) for r in c.execute(chunks.where(v.spans.is_(None)))
            ]

    def set_sentences(self, articles: dict[str, Spans], chunks: dict[str, Spans]) -> None:
        with self.db.write() as c:
            for doc, spans in articles.items():
                c.execute(t.articles.update().where(t.articles.c.id == doc).values(sentences=pack(spans)))
            for cid, spans in chunks.items():
                c.execute(
                    t.sentence_vectors.update()
                    .where(t.sentence_vectors.c.chunk_id == cid)
                    .values(spans=pack(spans))
                )
