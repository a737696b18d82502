"""The vector store: one Chroma vector per chunk, with the metadata a filter or a replica needs.

Embedded (``PersistentClient`` under ``<data>/chroma``) or a server (``RAG_CHROMA_URL``).
Embeddings are computed by us and passed in (the collection has no embedding function: Chroma's
default one would download a model). Every Chroma or transport failure becomes
``StoreUnavailable``, so a stopped server is a 503, never a 500.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, time
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.errors import StoreUnavailable
from rag.models import Article, Filters

PAGE = 5000  # ids per Chroma get/delete call


def source_key(source: str | None) -> str:
    """An outlet name as filters compare it."""
    return (source or "").strip().lower()


def timestamp(value: datetime | None) -> int:
    """Seconds since the epoch (the outlet's local time read as local), -1 when undated."""
    return int(value.timestamp()) if value else -1


def day_bounds(filters: Filters) -> tuple[int | None, int | None]:
    """The filters' first and last day as timestamps (inclusive)."""
    lo = int(datetime.combine(filters.since, time.min).timestamp()) if filters.since else None
    hi = int(datetime.combine(filters.until, time.max).timestamp()) if filters.until else None
    return lo, hi


def chunk_metadata(article: Article, start: int, end: int) -> dict[str, Any]:
    """What Chroma keeps beside a chunk's vector: filterable fields, and enough of the article
    for another replica to rebuild its catalog from the server (``rag.store.restore``)."""
    return {
        "document_id": article.id,
        "start": start,
        "end": end,
        "title": article.title,
        "source": article.source or "",
        "source_key": source_key(article.source),
        "published_ts": timestamp(article.published_at),
        "category": (article.category or "").lower(),
        "author": article.author or "",
        "url": article.url or "",
        "origin": article.origin,
        "published_at": article.published_at.isoformat() if article.published_at else "",
    }


class VectorStore:
    """One Chroma collection."""

    def __init__(self, name: str, path: str, url: str | None = None) -> None:
        self.name = name
        self.path = path
        self.url = url
        self.where = url or path
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The Chroma client, made at first use: importing chromadb and opening the store cost
        a second that a command reading only the catalog need not pay."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    @property
    def collection(self) -> Any:
        client = self.client
        with self._lock:
            if self._collection is None:
                try:
                    self._collection = self._open(client)
                except Exception as exc:  # chromadb raises several unrelated types for a dead server
                    raise self._fail("open the collection of", exc) from exc
            return self._collection

    def _connect(self) -> Any:
        import chromadb

        try:
            settings = chromadb.Settings(anonymized_telemetry=False)
            if self.url:
                parsed = urlparse(self.url if "//" in self.url else f"http://{self.url}")
                return chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or 8000,
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
            return chromadb.PersistentClient(path=self.path, settings=settings)
        except Exception as exc:  # chromadb raises several unrelated types for a dead server
            raise StoreUnavailable(f"Cannot reach the Chroma store at {self.where}: {exc}") from exc

    def _open(self, client: Any) -> Any:
        return client.get_or_create_collection(
            self.name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def _fail(self, action: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"Cannot {action} the Chroma store at {self.where} ({type(exc).__name__}: {exc}); is it running?"
        )

    def count(self) -> int:
        try:
            return int(self.collection.count())
        except Exception as exc:
            raise self._fail("count the vectors of", exc) from exc

    def upsert(
        self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list[dict[str, Any]]
    ) -> None:
        if not ids:
            return
        try:
            self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metas)
        except Exception as exc:
            raise self._fail("write to", exc) from exc

    def delete_documents(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        try:
            self.collection.delete(where={"document_id": {"$in": list(document_ids)}})
        except Exception as exc:
            raise self._fail("delete from", exc) from exc

    def delete_ids(self, ids: Sequence[str]) -> None:
        try:
            for i in range(0, len(ids), PAGE):
                self.collection.delete(ids=list(ids[i : i + PAGE]))
        except Exception as exc:
            raise self._fail("delete from", exc) from exc

    def ids(self) -> set[str]:
        try:
            return set(self.collection.get(include=[])["ids"])
        except Exception as exc:
            raise self._fail("read", exc) from exc

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``ids`` (those Chroma holds)."""
        out: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(ids), 2000):
                got = self.collection.get(ids=list(ids[i : i + 2000]), include=["embeddings"])
                out.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
        except Exception as exc:
            raise self._fail("read", exc) from exc
        return out

    def query(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks (id, cosine similarity) inside ``filters``."""
        try:
            count = self.collection.count()
            if count == 0:
                return []
            res = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(k, count),
                where=where(filters),
                include=["distances"],
            )
        except Exception as exc:
            raise self._fail("search", exc) from exc
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=False)]

    def pages(self) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """Every chunk's (ids, texts, metadatas), a page at a time."""
        total = self.count()
        for offset in range(0, total, PAGE):
            try:
                page = self.collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            except Exception as exc:
                raise self._fail("read", exc) from exc
            yield page["ids"], page["documents"], page["metadatas"]

    def reset(self) -> None:
        """Drop and recreate the collection (a new embedding model cannot mix with the old)."""
        try:
            client = self.client
            client.delete_collection(self.name)
            with self._lock:
                self._collection = self._open(client)
        except Exception as exc:
            raise self._fail("reset", exc) from exc


def where(filters: Filters | None) -> dict[str, Any] | None:
    """``filters`` as a Chroma ``where`` clause (None: everything)."""
    if filters is None or filters.is_empty():
        return None
    clauses: list[dict[str, Any]] = []
    if filters.source:
        clauses.append({"source_key": {"$in": [source_key(s) for s in filters.source]}})
    lo, hi = day_bounds(filters)
    if lo is not None:
        clauses.append({"published_ts": {"$gte": lo}})
    if hi is not None:
        clauses.append({"published_ts": {"$lte": hi}})
        clauses.append({"published_ts": {"$gte": 0}})
    if filters.category:
        clauses.append({"category": filters.category.strip().lower()})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
