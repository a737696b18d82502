"""The catalog: what is committed to the corpus, in the database.

Files (with the hash of their bytes), articles (with the exact text citation offsets point
into), chunks (article, offsets, text), each chunk's passage span and sentence vectors, and the
``meta`` rows (the corpus generation, the index signature, the interrupted-ingest marker).
Written in one transaction per batch of articles; every write that changes the corpus bumps
the generation, which readers (and other replicas) watch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rag.errors import NotFound
from rag.models import Article, ArticleInfo, Passage
from rag.store import schema as t
from rag.store.database import Database, upsert
from rag.store.rows import Chunk, ChunkRow, SentenceVectors, Spans, chunked, pack
from rag.store.sentences import float32s, insert_vectors, read_blobs

__all__ = ["Catalog", "Chunk", "ChunkRow", "SentenceVectors", "Spans"]


_INFO = (t.articles.c.id, t.articles.c.title, t.articles.c.source, t.articles.c.author)
_MORE = (t.articles.c.published_at, t.articles.c.url, t.articles.c.category, t.articles.c.origin)


_INFO_KEYS = ("id", "title", "source", "author", "published_at", "url", "category", "origin")


def _info(row: Any) -> dict[str, Any]:
    return {key: row._mapping[key] for key in _INFO_KEYS}


class Catalog:
    """Reads and writes the catalog tables of one ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.db.read() as c:
            return c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str, connection: Connection | None = None) -> None:
        if connection is None:
            with self.db.write() as c:
                self.set_meta(key, value, c)
            return
        upsert(connection, t.meta, {"key": key}, {"value": value})

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump(self, connection: Connection) -> None:
        """The corpus changed: the next reader rebuilds what it derived from it. An increment in
        the database, so two writers never both write the same next number."""
        row = t.meta.c.key == "generation"
        bumped = sa.cast(sa.cast(t.meta.c.value, sa.Integer) + 1, sa.Text)
        if not connection.execute(t.meta.update().where(row).values(value=bumped)).rowcount:
            upsert(connection, t.meta, {"key": "generation"}, {"value": "1"})

    # --- files ------------------------------------------------------------------------
    def file_hash(self, path: str) -> str | None:
        with self.db.read() as c:
            return c.execute(sa.select(t.files.c.file_hash).where(t.files.c.path == path)).scalar()

    def set_file(self, path: str, digest: str) -> None:
        with self.db.write() as c:
            upsert(c, t.files, {"path": path}, {"file_hash": digest})

    def known_files(self) -> list[str]:
        with self.db.read() as c:
            return list(c.execute(sa.select(t.files.c.path)).scalars())

    def forget_file(self, path: str) -> None:
        with self.db.write() as c:
            c.execute(t.files.delete().where(t.files.c.path == path))

    # --- articles ---------------------------------------------------------------------
    def article_hashes(self, file_path: str | None = None) -> dict[str, str]:
        """Article id -> stored content hash (of one file's articles, or of all)."""
        query = sa.select(t.articles.c.id, t.articles.c.content_hash)
        if file_path is not None:
            query = query.where(t.articles.c.file_path == file_path)
        with self.db.read() as c:
            return {row.id: row.content_hash for row in c.execute(query)}

    def count_articles(self) -> int:
        with self.db.read() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(t.articles)).scalar() or 0)

    def iter_articles(self) -> Iterator[tuple[Article, str]]:
        """Every stored article with the file it came from."""
        with self.db.read() as c:
            rows = c.execute(sa.select(t.articles)).fetchall()
        for row in rows:
            yield Article(**_info(row), text=row.text, content_hash=row.content_hash), row.file_path

    def list_articles(self) -> list[ArticleInfo]:
        query = sa.select(
            *_INFO, *_MORE, sa.func.length(t.articles.c.text).label("chars"), t.articles.c.n_chunks
        ).order_by(t.articles.c.published_at.desc().nulls_last(), t.articles.c.title)
        with self.db.read() as c:
            return [ArticleInfo(**_info(r), chars=r.chars, chunks=r.n_chunks) for r in c.execute(query)]

    def get_article(self, document_id: str) -> Article:
        with self.db.read() as c:
            row = c.execute(sa.select(t.articles).where(t.articles.c.id == document_id)).first()
        if row is None:
            raise NotFound(f"No document with id '{document_id}'.")
        return Article(**_info(row), text=row.text, content_hash=row.content_hash)

    def file_of(self, document_id: str) -> str | None:
        """The path of the file an article was read from."""
        with self.db.read() as c:
            return c.execute(sa.select(t.articles.c.file_path).where(t.articles.c.id == document_id)).scalar()

    def sources(self) -> list[str]:
        query = sa.select(t.articles.c.source).where(t.articles.c.source.is_not(None)).distinct()
        with self.db.read() as c:
            return sorted(c.execute(query).scalars())

    def texts(self) -> list[str]:
        """Every article's title and text, for the corpus vocabulary."""
        with self.db.read() as c:
            return [
                f"{r.title} {r.text}" for r in c.execute(sa.select(t.articles.c.title, t.articles.c.text))
            ]

    # --- writing ----------------------------------------------------------------------
    def replace_articles(
        self,
        c: Connection,
        items: Sequence[tuple[Article, str, str, Sequence[Chunk]]],
        spans: Sequence[Sequence[tuple[int, int]]],
        sentences: Sequence[Spans],
        sentence_vectors: Sequence[SentenceVectors] = (),
        embeddings: np.ndarray | None = None,
    ) -> None:
        """In transaction ``c``: each (article, file, stored hash, chunks) replaces what was stored
        under its id, with its sentences, its chunks' passage spans and, with
        ``sentence_vectors``, one (vectors, spans) per chunk; ``embeddings``: the chunks' vectors."""
        self.delete_rows(c, [a.id for a, _, _, _ in items])
        if not items:
            return
        c.execute(
            t.articles.insert(),
            [
                _info_row(article)
                | {"file_path": path, "content_hash": stored, "n_chunks": len(chunks), "sentences": pack(ss)}
                for (article, path, stored, chunks), ss in zip(items, sentences, strict=True)
            ],
        )
        chunks = [chunk for _, _, _, article_chunks in items for chunk in article_chunks]
        if chunks:
            c.execute(t.chunks.insert(), [vars(chunk) for chunk in chunks])
            pairs = [
                (k.id, s)
                for (_, _, _, ks), ss in zip(items, spans, strict=True)
                for k, s in zip(ks, ss, strict=True)
            ]
            self.insert_spans(c, pairs)
            insert_vectors(c, zip([k.id for k in chunks], sentence_vectors, strict=False))
            if embeddings is not None and len(embeddings):
                rows = zip([k.id for k in chunks], np.asarray(embeddings, np.float32), strict=True)
                c.execute(t.chunk_vectors.insert(), [{"chunk_id": k, "vector": v.tobytes()} for k, v in rows])
        self.bump(c)

    def delete_rows(self, c: Connection, document_ids: Sequence[str]) -> None:
        for ids in chunked(document_ids):
            doomed = sa.select(t.chunks.c.id).where(t.chunks.c.document_id.in_(ids))
            c.execute(t.sentence_vectors.delete().where(t.sentence_vectors.c.chunk_id.in_(doomed)))
            c.execute(t.chunk_vectors.delete().where(t.chunk_vectors.c.chunk_id.in_(doomed)))
            c.execute(t.passage_spans.delete().where(t.passage_spans.c.chunk_id.in_(doomed)))
            c.execute(t.chunks.delete().where(t.chunks.c.document_id.in_(ids)))
            c.execute(t.articles.delete().where(t.articles.c.id.in_(ids)))

    def insert_spans(self, c: Connection, pairs: Iterable[tuple[str, tuple[int, int]]]) -> None:
        rows = [{"chunk_id": cid, "start": a, "end": b} for cid, (a, b) in pairs]
        if rows:
            c.execute(t.passage_spans.insert(), rows)

    # --- chunks -----------------------------------------------------------------------
    def chunk_rows(self) -> list[ChunkRow]:
        """Every committed chunk in the order it was written."""
        a, k = t.articles.c, t.chunks.c
        query = (
            sa.select(k.id, k.text, a.title, a.source, a.published_at, a.category, k.start)
            .join_from(t.chunks, t.articles, a.id == k.document_id)
            .order_by(k.seq)
        )
        with self.db.read() as c:
            return [ChunkRow(*row) for row in c.execute(query)]

    def chunk_documents(self) -> dict[str, str]:
        """Chunk id -> article id, for every committed chunk."""
        with self.db.read() as c:
            return {
                row.id: row.document_id for row in c.execute(sa.select(t.chunks.c.id, t.chunks.c.document_id))
            }

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each chunk's vector where the database holds it (written since it keeps them)."""
        v = t.chunk_vectors.c
        return read_blobs(self.db, v.chunk_id, v.vector, chunk_ids, float32s)

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """Each known chunk's own text (not its passage)."""
        out: dict[str, str] = {}
        with self.db.read() as c:
            for part in chunked(chunk_ids):
                query = sa.select(t.chunks.c.id, t.chunks.c.text).where(t.chunks.c.id.in_(part))
                out.update({row.id: row.text for row in c.execute(query)})
        return out

    def chunks_within(self, spans: Sequence[tuple[str, int, int]]) -> list[Chunk]:
        """The chunks overlapping each (article id, start, end) span."""
        k = t.chunks.c
        out: dict[str, Chunk] = {}
        with self.db.read() as c:
            for doc, start, end in spans:
                query = sa.select(k.id, k.document_id, k.ordinal, k.start, k.end, k.text).where(
                    (k.document_id == doc) & (k.start < end) & (k.end > start)
                )
                out.update({row.id: Chunk(*row) for row in c.execute(query)})
        return list(out.values())

    def chunk_ids(self) -> set[str]:
        with self.db.read() as c:
            return set(c.execute(sa.select(t.chunks.c.id)).scalars())

    def chunks_of(self, c: Connection, document_id: str) -> list[Chunk]:
        k = t.chunks.c
        query = sa.select(k.id, k.document_id, k.ordinal, k.start, k.end, k.text).where(
            k.document_id == document_id
        )
        return [Chunk(*row) for row in c.execute(query.order_by(k.ordinal))]

    def forget_hashes(self, document_ids: Iterable[str]) -> None:
        """Make the next ingest re-embed these articles (their vectors went missing)."""
        ids = list(document_ids)
        with self.db.write() as c:
            for part in chunked(ids):
                c.execute(t.articles.update().where(t.articles.c.id.in_(part)).values(content_hash=""))
                files = sa.select(t.articles.c.file_path).where(t.articles.c.id.in_(part))
                c.execute(t.files.update().where(t.files.c.path.in_(files)).values(file_hash=""))

    def documents_of_chunks(self, chunk_ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        with self.db.read() as c:
            for part in chunked(chunk_ids):
                query = sa.select(t.chunks.c.document_id).where(t.chunks.c.id.in_(part))
                out.update(c.execute(query).scalars())
        return out

    # --- passage spans ------------------------------------------------------------------
    def documents_without_spans(self) -> list[str]:
        k = t.chunks.c
        query = sa.select(k.document_id).where(k.id.not_in(sa.select(t.passage_spans.c.chunk_id))).distinct()
        with self.db.read() as c:
            return list(c.execute(query).scalars())

    # --- reading passages ---------------------------------------------------------------
    def passages(self, scored: Sequence[tuple[str, float]]) -> list[Passage]:
        """Hydrate (chunk id, score) pairs into passages, keeping their order. A chunk is returned
        as its passage span; one without (an index not yet upgraded) as itself."""
        if not scored:
            return []
        k, s, a = t.chunks.c, t.passage_spans.c, t.articles.c
        start, end = sa.func.coalesce(s.start, k.start), sa.func.coalesce(s.end, k.end)
        query = (
            sa.select(
                k.id,
                k.document_id,
                start.label("start"),
                end.label("end"),
                sa.func.substr(a.text, start + 1, end - start).label("text"),
                *(
                    getattr(a, name)
                    for name in ("title", "source", "author", "published_at", "url", "category")
                ),
            )
            .select_from(
                t.chunks.outerjoin(t.passage_spans, s.chunk_id == k.id).join(
                    t.articles, a.id == k.document_id
                )
            )
            .where(k.id.in_([cid for cid, _ in scored]))
        )
        with self.db.read() as c:
            rows = {r.id: r for r in c.execute(query)}
        out = []
        for cid, score in scored:
            r = rows.get(cid)
            if r is not None:  # else a vector whose article was removed since the search started
                out.append(Passage(**dict(r._mapping), score=score))
        return out


def _info_row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "origin": article.origin,
        "title": article.title,
        "source": article.source,
        "author": article.author,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "url": article.url,
        "category": article.category,
        "text": article.text,
    }
