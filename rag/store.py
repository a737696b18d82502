"""Persistence: the SQLite catalog, the Chroma vector collection and the BM25 index.

- SQLite (``<data>/catalog.sqlite3``): files, articles (with the exact text offsets point into),
  chunks (article id, character offsets, text), each chunk's passage span (``rag.passages``:
  the offsets a search returns) and its sentence vectors (float16, for the ranker), both written
  in the chunks' transaction. It is the record of what is committed.
- Chroma (embedded ``PersistentClient`` under ``<data>/chroma``, or a server via
  ``RAG_CHROMA_URL``): one vector per chunk, with filterable metadata.
- bm25s (``<data>/bm25``): rebuilt from committed chunks whenever they change; one index of
  chunks (title + outlet + text) and one of the chunks' sentences (``bm25/sentences``), which
  retrieval uses to check which chunk holds the sentence a part of the question asks about.

Writes go Chroma first, then SQLite in one transaction, so an interrupted ingest leaves at
worst vectors that SQLite does not know; ``repair()`` removes those on the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

import bm25s
import chromadb
import httpx
import numpy as np
import Stemmer
from llama_index.core.utils import get_tokenizer

from rag.config import Settings
from rag.errors import NotFound, StoreUnavailable
from rag.models import Article, ArticleInfo, Filters, Passage
from rag.names import ChunkNames
from rag.passages import passage_spans
from rag.sentences import split_sentences
from rag.words import SentenceWords

log = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG through its own handler; keep servers and tests quiet.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, file_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, file_path TEXT NOT NULL, origin TEXT NOT NULL, title TEXT NOT NULL,
    source TEXT, author TEXT, published_at TEXT, url TEXT, category TEXT,
    text TEXT NOT NULL, content_hash TEXT NOT NULL, n_chunks INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_file ON articles(file_path);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(document_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sentence_vectors (chunk_id TEXT PRIMARY KEY, vectors BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS passage_spans (
    chunk_id TEXT PRIMARY KEY, start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
"""


@dataclass
class Chunk:
    id: str
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str


def _ts(value: datetime | None) -> int:
    return int(value.timestamp()) if value else -1


def _day_bounds(filters: Filters) -> tuple[int | None, int | None]:
    lo = int(datetime.combine(filters.since, time.min).timestamp()) if filters.since else None
    hi = int(datetime.combine(filters.until, time.max).timestamp()) if filters.until else None
    return lo, hi


@contextmanager
def _server_errors(action: str) -> Iterator[None]:
    """A Chroma server that went away (connection refused, timeout) is ``StoreUnavailable``."""
    try:
        yield
    except httpx.TransportError as exc:
        raise StoreUnavailable(f"Cannot {action} the Chroma server ({exc}); is it running?") from exc


def source_key(source: str | None) -> str:
    return (source or "").strip().lower()


BM25_FORMAT = 4  # bumped when the saved layout changes, so older indexes are rebuilt


class BM25Index:
    """bm25s over title + outlet + chunk text, with per-chunk metadata for filtering, a second
    bm25s over the chunks' sentences (``sentence_counts[i]`` rows belong to chunk i), and those
    sentences' words for soft matching (``rag.words``) and the chunks' rare names
    (``rag.names``)."""

    def __init__(
        self,
        chunk_ids: list[str],
        retriever: bm25s.BM25 | None,
        sources: np.ndarray,
        published: np.ndarray,
        categories: np.ndarray,
        words: SentenceWords,
        names: ChunkNames,
        sentences: bm25s.BM25 | None = None,
        sentence_counts: np.ndarray | None = None,
    ) -> None:
        self.chunk_ids = chunk_ids
        self._positions = {cid: i for i, cid in enumerate(chunk_ids)}
        self.retriever = retriever
        self.sources = sources
        self.published = published
        self.categories = categories
        self.sentences = sentences
        self.words = words
        self.names = names
        counts = sentence_counts if sentence_counts is not None else np.zeros(len(chunk_ids), np.int64)
        # reduceat needs each segment's first row and non-empty segments; chunks without a
        # sentence (whitespace only) keep a best-sentence score of 0.
        self._has_sentences = counts > 0
        self._sentence_starts = (np.cumsum(counts) - counts)[self._has_sentences]

    def position(self, chunk_id: str) -> int:
        """The chunk's row in this index; -1 for one it does not hold (Chroma, written first,
        can briefly hold chunks that are not committed yet)."""
        return self._positions.get(chunk_id, -1)

    def keyword_scores(self, words: list[str]) -> np.ndarray:
        """Each chunk's BM25 score for ``words`` (stemmed keyword tokens)."""
        words = [w for w in words if self.retriever is not None and w in self.retriever.vocab_dict]
        if not words or self.retriever is None:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(words), dtype=np.float32)

    def best_sentence_scores(self, words: list[str]) -> np.ndarray | None:
        """For each chunk (by ``position``), the BM25 score of its best-matching sentence for
        ``words`` (stemmed keyword tokens); None when there is no sentence index."""
        if self.sentences is None:
            return None
        vocab = self.sentences.vocab_dict
        words = [w for w in words if w in vocab]
        out = np.zeros(len(self.chunk_ids) + 1, dtype=np.float32)  # the last: position -1
        if words:
            scores = np.asarray(self.sentences.get_scores(words), dtype=np.float32)
            out[:-1][self._has_sentences] = np.maximum.reduceat(scores, self._sentence_starts)
        return out

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        keep = np.ones(len(self.chunk_ids), dtype=bool)
        if filters.source:
            keep &= np.isin(self.sources, [source_key(s) for s in filters.source])
        lo, hi = _day_bounds(filters)
        if lo is not None:
            keep &= self.published >= lo
        if hi is not None:
            keep &= (self.published <= hi) & (self.published >= 0)
        if filters.category:
            keep &= self.categories == filters.category.strip().lower()
        return keep


class Store:
    """Owns the catalog, the vector collection and the BM25 index for one data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.resolved_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.data_dir / "catalog.sqlite3", check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self.client = self._connect()
        try:
            self.collection = self.client.get_or_create_collection(
                settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        except Exception as exc:  # chromadb raises several unrelated types for a dead server
            raise StoreUnavailable(f"Cannot open the Chroma collection: {exc}") from exc
        self._bm25: BM25Index | None = None

    def _connect(self) -> Any:
        url = self.settings.chroma_url
        try:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url if "//" in url else f"http://{url}")
                return chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or 8000,
                    ssl=parsed.scheme == "https",
                    settings=chromadb.Settings(anonymized_telemetry=False),
                )
            return chromadb.PersistentClient(
                path=str(self.data_dir / "chroma"),
                settings=chromadb.Settings(anonymized_telemetry=False),
            )
        except Exception as exc:
            where = url or str(self.data_dir / "chroma")
            raise StoreUnavailable(f"Cannot reach the Chroma store at {where}: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # --- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def _bump(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(self.generation() + 1),))

    # --- files and articles -----------------------------------------------------------
    def file_hash(self, path: str) -> str | None:
        row = self.db.execute("SELECT file_hash FROM files WHERE path=?", (path,)).fetchone()
        return row["file_hash"] if row else None

    def set_file(self, path: str, digest: str) -> None:
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", (path, digest))

    def known_files(self) -> list[str]:
        return [r["path"] for r in self.db.execute("SELECT path FROM files")]

    def article_hashes(self, file_path: str) -> dict[str, str]:
        rows = self.db.execute("SELECT id, content_hash FROM articles WHERE file_path=?", (file_path,))
        return {r["id"]: r["content_hash"] for r in rows}

    def all_article_hashes(self) -> dict[str, str]:
        return {r["id"]: r["content_hash"] for r in self.db.execute("SELECT id, content_hash FROM articles")}

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def write_articles(
        self,
        items: Sequence[tuple[Article, str, list[Chunk]]],
        embeddings: np.ndarray,
        stored_hash: dict[str, str],
        sentence_vectors: Sequence[np.ndarray] = (),
    ) -> None:
        """Replace each article's chunks (Chroma, then one SQLite transaction); with
        ``sentence_vectors``, one (sentences, dim) array per chunk in the same order."""
        spans = {a.id: self._passage_spans(a.text, chunks) for a, _, chunks in items}
        ids, docs, metas = [], [], []
        for article, _file_path, chunks in items:
            for chunk in chunks:
                ids.append(chunk.id)
                docs.append(chunk.text)
                metas.append(
                    {
                        "document_id": article.id,
                        "start": chunk.start,
                        "end": chunk.end,
                        "title": article.title,
                        "source": article.source or "",
                        "source_key": source_key(article.source),
                        "published_ts": _ts(article.published_at),
                        "category": (article.category or "").lower(),
                        # The rest lets another replica rebuild its catalog from a Chroma server.
                        "author": article.author or "",
                        "url": article.url or "",
                        "origin": article.origin,
                        "published_at": article.published_at.isoformat() if article.published_at else "",
                    }
                )
        with self._lock:
            self._delete_vectors([a.id for a, _, _ in items])
            if ids:
                with _server_errors("write to"):
                    self.collection.upsert(ids=ids, embeddings=embeddings, documents=docs, metadatas=metas)
            with self.db:
                for article, file_path, chunks in items:
                    self._delete_rows(article.id)
                    self.db.execute(
                        "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            article.id,
                            file_path,
                            article.origin,
                            article.title,
                            article.source,
                            article.author,
                            article.published_at.isoformat() if article.published_at else None,
                            article.url,
                            article.category,
                            article.text,
                            stored_hash[article.id],
                            len(chunks),
                        ),
                    )
                    self.db.executemany(
                        'INSERT INTO chunks (id, document_id, ordinal, start, "end", text) '
                        "VALUES (?,?,?,?,?,?)",
                        [(c.id, c.document_id, c.ordinal, c.start, c.end, c.text) for c in chunks],
                    )
                chunk_ids = [c.id for _, _, chunks in items for c in chunks]
                self._insert_passage_spans(
                    [(c.id, w) for a, _, chunks in items for c, w in zip(chunks, spans[a.id], strict=True)]
                )
                self._insert_sentence_vectors(zip(chunk_ids, sentence_vectors, strict=False))
                self._bump()

    def iter_articles(self) -> Iterator[tuple[Article, str]]:
        """Every stored article with the file it came from."""
        for row in self.db.execute("SELECT * FROM articles").fetchall():
            yield (
                Article(**self._info(row), text=row["text"], content_hash=row["content_hash"]),
                row["file_path"],
            )

    def reset_vectors(self) -> None:
        """Drop and recreate the vector collection (the catalog is kept)."""
        with self._lock:
            self.client.delete_collection(self.settings.collection)
            self.collection = self.client.get_or_create_collection(
                self.settings.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )

    def _delete_vectors(self, document_ids: list[str]) -> None:
        if document_ids:
            with _server_errors("delete from"):
                self.collection.delete(where={"document_id": {"$in": document_ids}})

    def _delete_rows(self, document_id: str) -> None:
        for table in ("sentence_vectors", "passage_spans"):
            self.db.execute(
                f"DELETE FROM {table} WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id=?)",
                (document_id,),
            )
        self.db.execute("DELETE FROM chunks WHERE document_id=?", (document_id,))
        self.db.execute("DELETE FROM articles WHERE id=?", (document_id,))

    def remove_articles(self, document_ids: Iterable[str]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        with self._lock:
            self._delete_vectors(ids)
            with self.db:
                for doc_id in ids:
                    self._delete_rows(doc_id)
                self._bump()

    def remove_file(self, path: str) -> list[str]:
        ids = list(self.article_hashes(path))
        self.remove_articles(ids)
        with self._lock, self.db:
            self.db.execute("DELETE FROM files WHERE path=?", (path,))
        return ids

    def repair(self) -> int:
        """Drop vectors SQLite does not know (left by an interrupted write); returns how many."""
        with self._lock:
            known = {r["id"] for r in self.db.execute("SELECT id FROM chunks")}
            stored = set(self.collection.get(include=[])["ids"])
            orphans = sorted(stored - known)
            for i in range(0, len(orphans), 5000):
                self.collection.delete(ids=orphans[i : i + 5000])
            missing = known - stored
            if missing:
                # Articles whose vectors vanished are re-embedded by forgetting their hash.
                docs = {
                    r["document_id"]
                    for r in self.db.execute(
                        "SELECT document_id FROM chunks WHERE id IN (%s)" % ",".join("?" * len(missing)),
                        sorted(missing),
                    )
                }
                with self.db:
                    self.db.executemany(
                        "UPDATE articles SET content_hash='' WHERE id=?", [(d,) for d in docs]
                    )
                    self.db.executemany(
                        "UPDATE files SET file_hash='' WHERE path IN "
                        "(SELECT file_path FROM articles WHERE id=?)",
                        [(d,) for d in docs],
                    )
            return len(orphans)

    def restore_catalog(self, signature: str) -> int:
        """Rebuild an empty catalog (and BM25) from the chunks on a Chroma server.

        For a replica pointed at a server another process filled. Each article's text is
        reassembled from its chunks at their offsets (gaps between chunks held only whitespace
        and become spaces), so citation offsets stay exact. Returns the articles restored.
        """
        with self._lock:
            total = self.collection.count()
            if self.count_articles() or not total:
                return 0
            by_doc: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
            for offset in range(0, total, 5000):
                page = self.collection.get(include=["documents", "metadatas"], limit=5000, offset=offset)
                for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                    by_doc.setdefault(str(meta["document_id"]), []).append((cid, text, dict(meta)))
            with self.db:
                for doc_id, parts in by_doc.items():
                    self._restore_article(doc_id, sorted(parts, key=lambda p: int(p[2]["start"])))
                self._bump()
            self.set_meta("signature", signature)
            self.fill_passage_spans()
            self._bm25 = self.rebuild_bm25()
            log.info("restored %d articles from the Chroma server", len(by_doc))
            return len(by_doc)

    def _restore_article(self, doc_id: str, parts: list[tuple[str, str, dict[str, Any]]]) -> None:
        meta = parts[0][2]
        chars = [" "] * max(int(m["end"]) for _, _, m in parts)
        for _, text, m in parts:
            chars[int(m["start"]) : int(m["end"])] = text
        published = meta.get("published_at") or (
            datetime.fromtimestamp(int(meta["published_ts"])).isoformat()
            if int(meta.get("published_ts", -1)) >= 0
            else None
        )
        origin = str(meta.get("origin") or f"chroma:{doc_id}")
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc_id,
                f"chroma:{origin}",
                origin,
                meta.get("title") or "",
                meta.get("source") or None,
                meta.get("author") or None,
                published,
                meta.get("url") or None,
                meta.get("category") or None,
                "".join(chars),
                "",  # unknown hash: a later ingest of the same file re-embeds it
                len(parts),
            ),
        )
        self.db.executemany(
            'INSERT INTO chunks (id, document_id, ordinal, start, "end", text) VALUES (?,?,?,?,?,?)',
            [(cid, doc_id, i, int(m["start"]), int(m["end"]), t) for i, (cid, t, m) in enumerate(parts)],
        )

    # --- passage spans ------------------------------------------------------------------
    def _passage_spans(self, text: str, chunks: Sequence[Chunk]) -> list[tuple[int, int]]:
        tokenizer = get_tokenizer()  # the one SentenceSplitter counts the chunk size with
        return passage_spans(
            text, [(c.start, c.end) for c in chunks], self.settings.chunk_size, lambda t: len(tokenizer(t))
        )

    def _insert_passage_spans(self, pairs: Iterable[tuple[str, tuple[int, int]]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO passage_spans VALUES (?, ?, ?)", [(c, a, b) for c, (a, b) in pairs]
        )

    def fill_passage_spans(self) -> int:
        """Passage spans for the chunks of articles indexed before they existed (or restored from a
        Chroma server); until then a search returns such a chunk as it is. Returns the articles."""
        docs = [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT document_id FROM chunks WHERE id NOT IN (SELECT chunk_id FROM passage_spans)"
            )
        ]
        for doc_id in docs:
            # Read and written under the lock, so an ingest of the same article cannot interleave.
            with self._lock, self.db:
                row = self.db.execute("SELECT text FROM articles WHERE id=?", (doc_id,)).fetchone()
                rows = self.db.execute(
                    'SELECT id, document_id, ordinal, start, "end", text FROM chunks WHERE document_id=?',
                    (doc_id,),
                ).fetchall()
                chunks = [Chunk(*r) for r in rows]
                if row is not None:
                    self._insert_passage_spans(
                        zip([c.id for c in chunks], self._passage_spans(row["text"], chunks), strict=True)
                    )
        return len(docs)

    # --- sentence vectors ---------------------------------------------------------------
    # Kept in SQLite beside their chunks (float16, one blob per chunk), not in Chroma: they are
    # read a hundred chunks at a time by id for the ranker, never searched.
    def _insert_sentence_vectors(self, pairs: Iterable[tuple[str, np.ndarray]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO sentence_vectors VALUES (?, ?)",
            [(cid, np.asarray(v, dtype=np.float16).tobytes()) for cid, v in pairs],
        )

    def add_sentence_vectors(self, pairs: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store vectors for chunks already committed (one removed meanwhile is skipped)."""
        if not pairs:
            return
        with self._lock, self.db:
            marks = ",".join("?" * len(pairs))
            ids = [cid for cid, _ in pairs]
            known = {r[0] for r in self.db.execute(f"SELECT id FROM chunks WHERE id IN ({marks})", ids)}
            self._insert_sentence_vectors((cid, v) for cid, v in pairs if cid in known)

    def count_chunks_without_sentence_vectors(self) -> int:
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM sentence_vectors)"
            ).fetchone()[0]
        )

    def chunks_without_sentence_vectors(self, limit: int) -> list[tuple[str, str]]:
        """(id, text) of up to ``limit`` chunks indexed before sentence vectors existed."""
        rows = self.db.execute(
            "SELECT id, text FROM chunks WHERE id NOT IN (SELECT chunk_id FROM sentence_vectors) LIMIT ?",
            (limit,),
        )
        return [(r["id"], r["text"]) for r in rows]

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each known chunk's sentence vectors, float16 and flat (sentences x dimensions)."""
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(chunk_ids), 500):  # SQLite's bound-parameter limit
            part = chunk_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT chunk_id, vectors FROM sentence_vectors WHERE chunk_id IN ({marks})", list(part)
            )
            for cid, blob in rows:
                out[cid] = np.frombuffer(blob, dtype=np.float16)
        return out

    # --- reading ----------------------------------------------------------------------
    def _info(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "title": row["title"],
            "source": row["source"],
            "author": row["author"],
            "published_at": row["published_at"],
            "url": row["url"],
            "category": row["category"],
            "origin": row["origin"],
        }

    def list_articles(self) -> list[ArticleInfo]:
        rows = self.db.execute(
            "SELECT id, title, source, author, published_at, url, category, origin, "
            "length(text) AS chars, n_chunks FROM articles ORDER BY published_at DESC, title"
        )
        return [ArticleInfo(**self._info(r), chars=r["chars"], chunks=r["n_chunks"]) for r in rows]

    def file_of(self, document_id: str) -> str | None:
        """The path of the file an article was read from."""
        row = self.db.execute("SELECT file_path FROM articles WHERE id=?", (document_id,)).fetchone()
        return str(row["file_path"]) if row else None

    def get_article(self, document_id: str) -> Article:
        row = self.db.execute("SELECT * FROM articles WHERE id=?", (document_id,)).fetchone()
        if row is None:
            raise NotFound(f"No document with id '{document_id}'.")
        return Article(**self._info(row), text=row["text"], content_hash=row["content_hash"])

    def passages(self, scored: Sequence[tuple[str, float]]) -> list[Passage]:
        """Hydrate (chunk id, score) pairs into passages, keeping their order."""
        if not scored:
            return []
        ids = [cid for cid, _ in scored]
        # A chunk is returned as its passage span; one without (an index not yet upgraded) as itself.
        rows = self.db.execute(
            "WITH p AS (SELECT c.id, c.document_id, COALESCE(s.start, c.start) AS start, "
            'COALESCE(s."end", c."end") AS "end" FROM chunks c LEFT JOIN passage_spans s '
            "ON s.chunk_id = c.id WHERE c.id IN (%s)) "
            'SELECT p.*, substr(a.text, p.start + 1, p."end" - p.start) AS text, a.title, a.source, '
            "a.author, a.published_at, a.url, a.category FROM p JOIN articles a ON a.id = p.document_id"
            % ",".join("?" * len(ids)),
            ids,
        ).fetchall()
        by_id = {r["id"]: r for r in rows}
        out = []
        for cid, score in scored:
            r = by_id.get(cid)
            if r is None:  # a vector whose article was removed since the search started
                continue
            out.append(
                Passage(
                    id=cid,
                    document_id=r["document_id"],
                    text=r["text"],
                    start=r["start"],
                    end=r["end"],
                    score=score,
                    title=r["title"],
                    source=r["source"],
                    author=r["author"],
                    published_at=r["published_at"],
                    url=r["url"],
                    category=r["category"],
                )
            )
        return out

    def sources(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT source FROM articles WHERE source IS NOT NULL")
        return sorted(r["source"] for r in rows)

    # --- dense search -----------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        where = self._where(filters)
        try:
            count = self.collection.count()
            if count == 0:
                return []
            res = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(k, count),
                where=where,
                include=["distances"],
            )
        except Exception as exc:
            raise StoreUnavailable(f"Vector search failed: {exc}") from exc
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    @staticmethod
    def _where(filters: Filters | None) -> dict[str, Any] | None:
        if filters is None or filters.is_empty():
            return None
        clauses: list[dict[str, Any]] = []
        if filters.source:
            clauses.append({"source_key": {"$in": [source_key(s) for s in filters.source]}})
        lo, hi = _day_bounds(filters)
        if lo is not None:
            clauses.append({"published_ts": {"$gte": lo}})
        if hi is not None:
            clauses.append({"published_ts": {"$lte": hi}})
            clauses.append({"published_ts": {"$gte": 0}})
        if filters.category:
            clauses.append({"category": filters.category.strip().lower()})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    # --- BM25 -------------------------------------------------------------------------
    @property
    def bm25_dir(self) -> Path:
        return self.data_dir / "bm25"

    def bm25(self) -> BM25Index:
        """The BM25 index for the committed chunks, rebuilt or reloaded when stale."""
        with self._lock:
            gen = self.generation()
            if self._bm25 is not None and getattr(self._bm25, "generation", None) == gen:
                return self._bm25
            index = self._load_bm25(gen) or self.rebuild_bm25()
            self._bm25 = index
            return index

    def _chunk_table(self) -> tuple[list[str], list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Per committed chunk: id, BM25 text (title + outlet + text), text, outlet, time, category."""
        rows = self.db.execute(
            "SELECT c.id, c.text, a.title, a.source, a.published_at, a.category "
            "FROM chunks c JOIN articles a ON a.id = c.document_id ORDER BY c.rowid"
        ).fetchall()
        ids = [r["id"] for r in rows]
        texts = [f"{r['title']}\n{r['source'] or ''}\n{r['text']}" for r in rows]
        bodies = [r["text"] for r in rows]
        sources = np.array([source_key(r["source"]) for r in rows], dtype=object)
        published = np.array(
            [_ts(datetime.fromisoformat(r["published_at"])) if r["published_at"] else -1 for r in rows],
            dtype=np.int64,
        )
        categories = np.array([(r["category"] or "").lower() for r in rows], dtype=object)
        return ids, texts, bodies, sources, published, categories

    def rebuild_bm25(self) -> BM25Index:
        with self._lock:
            gen = self.generation()
            ids, texts, bodies, sources, published, categories = self._chunk_table()
            retriever = _bm25(texts)
            sentences_per_chunk = [split_sentences(body) for body in bodies]
            counts = np.array([len(x) for x in sentences_per_chunk], dtype=np.int64)
            sentences = _bm25([x for chunk in sentences_per_chunk for x in chunk])
            # The index being replaced (in memory, else on disk) lends its word vectors.
            previous = self._bm25.words if self._bm25 is not None else SentenceWords.load(self.bm25_dir)
            words = SentenceWords.build(sentences_per_chunk, previous)
            names = ChunkNames.build(bodies)
            index = BM25Index(ids, retriever, sources, published, categories, words, names, sentences, counts)
            tmp = self.data_dir / "bm25.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            if retriever is not None:
                retriever.save(str(tmp))
            if sentences is not None:
                sentences.save(str(tmp / "sentences"))
            words.save(tmp)
            names.save(tmp)
            manifest = {
                "format": BM25_FORMAT,
                "generation": gen,
                "ids": ids,
                "indexed": retriever is not None,
                "sentence_counts": counts.tolist() if sentences is not None else None,
            }
            (tmp / "chunks.json").write_text(json.dumps(manifest))
            shutil.rmtree(self.bm25_dir, ignore_errors=True)
            tmp.rename(self.bm25_dir)
            index.generation = gen  # type: ignore[attr-defined]
            return index

    def _load_bm25(self, gen: int) -> BM25Index | None:
        manifest = self.bm25_dir / "chunks.json"
        if not manifest.exists():
            return None
        info = json.loads(manifest.read_text())
        if info.get("generation") != gen or info.get("format") != BM25_FORMAT:
            return None
        ids, _texts, _bodies, sources, published, categories = self._chunk_table()
        if ids != info["ids"]:
            return None
        words = SentenceWords.load(self.bm25_dir)
        names = ChunkNames.load(self.bm25_dir)
        if words is None or names is None:  # an index from before them: rebuilt
            return None
        retriever = bm25s.BM25.load(str(self.bm25_dir)) if info["indexed"] else None
        counts = info["sentence_counts"]
        sentences = bm25s.BM25.load(str(self.bm25_dir / "sentences")) if counts is not None else None
        index = BM25Index(
            ids,
            retriever,
            sources,
            published,
            categories,
            words,
            names,
            sentences,
            np.asarray(counts, dtype=np.int64) if counts is not None else None,
        )
        index.generation = gen  # type: ignore[attr-defined]
        return index


def _bm25(texts: list[str]) -> bm25s.BM25 | None:
    """A bm25s index of ``texts`` (None when they hold no indexable word, e.g. only emoji).

    Tokenised by bm25s itself: English stopwords and Snowball stems, which ``keyword_tokens``
    reproduces for queries."""
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False) if texts else None
    if tokens is None or not tokens.vocab:
        return None
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return retriever
