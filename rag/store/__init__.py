"""Persistence: the catalog (database), the vectors (Chroma) and the lexical index (bm25s),
behind one small facade, ``Store``.

- ``database``: the SQLAlchemy engine for ``RAG_DATABASE_URL`` (SQLite in the data dir by
  default), its Alembic migrations and the cross-process writer lock;
- ``catalog``: files, articles, chunks (and a copy of their vectors), passage spans, meta
  (generation);
- ``vectors``: one Chroma vector per chunk, embedded store or server;
- ``lexical``: bm25s over chunks and their sentences, rebuilt when the generation changes;
- ``matrices``: chunk and sentence vector matrices saved beside it, memory-mapped;
- ``sentences``: sentence spans and vectors (``rows``: the row types they share);
- ``spans``: each chunk's passage (the chunk grown by whole sentences), computed at write;
- ``restore``: a catalog rebuilt from a Chroma server's chunks.

Writes go to Chroma first, then the database in one transaction, so an interrupted ingest
leaves at worst vectors the catalog does not know; ``repair()`` removes those.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from rag.config import Settings
from rag.errors import NotFound
from rag.models import Article, ArticleInfo, Filters, Passage
from rag.runtime import release_freed_memory
from rag.store import lexical, matrices
from rag.store.catalog import Catalog, Chunk, SentenceVectors
from rag.store.database import Database
from rag.store.lexical import Extension, LexicalIndex
from rag.store.restore import restore
from rag.store.sentences import Sentences
from rag.store.spans import passage_spans
from rag.store.vectors import VectorStore, chunk_metadata
from rag.text import sentence_spans

__all__ = ["GENERATION_MAX_AGE", "Chunk", "Extension", "LexicalIndex", "Store"]


# A search reads the corpus generation at most this often (seconds): another replica's write is
# seen within it, and a search spares a query.
GENERATION_MAX_AGE = 0.5


@lru_cache(maxsize=20_000)
def chunk_sentences(text: str, start: int) -> tuple[tuple[int, int], ...]:
    """A chunk's sentences at article offsets, as ingest split them for their vectors."""
    return tuple(sentence_spans(text, offset=start))


log = logging.getLogger(__name__)


class Store:
    """The catalog, the vector collection and the lexical index of one corpus."""

    def __init__(self, settings: Settings, database: Database, extensions: Sequence[Extension] = ()) -> None:
        self.settings = settings
        self.data_dir = settings.resolved_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._db = database
        self._catalog = Catalog(self._db)
        self._sentences = Sentences(self._db)
        self._vectors = VectorStore(settings.collection, str(self.data_dir / "chroma"), settings.chroma_url)
        self._extensions = list(extensions)
        self._lexical: LexicalIndex | None = None
        self._lock = threading.RLock()  # writes (Chroma, then the database) one at a time
        # Builds of the keyword index one at a time, apart from writes: a write committed during a
        # build bumps the generation, so the index built is replaced by the next, never stale.
        self._build_lock = threading.Lock()
        self._generation: tuple[int, float] | None = None
        self._refreshing: threading.Thread | None = None
        self._refresh_lock = threading.Lock()

    @contextmanager
    def writing(self, wait: float = 0.0, waiting: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the corpus's writer lock (one ingest at a time, across processes and replicas);
        ``waiting`` is called once if another writer holds it."""
        with self._db.exclusive("ingest", wait=wait, waiting=waiting):
            yield

    # --- reading the catalog ------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        return self._catalog.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._catalog.set_meta(key, value)

    def generation(self, max_age: float = 0.0) -> int:
        """The corpus generation (bumped by every write, by any process or replica); a reader
        may take one read up to ``max_age`` seconds ago, sparing a query per search."""
        now = time.monotonic()
        cached = self._generation
        if max_age and cached is not None and now - cached[1] <= max_age:
            return cached[0]
        value = self._catalog.generation()
        self._generation = (value, now)
        return value

    def count_articles(self) -> int:
        return self._catalog.count_articles()

    def list_articles(self) -> list[ArticleInfo]:
        return self._catalog.list_articles()

    def get_article(self, document_id: str) -> Article:
        return self._catalog.get_article(document_id)

    def iter_articles(self) -> Iterator[tuple[Article, str]]:
        return self._catalog.iter_articles()

    def file_of(self, document_id: str) -> str | None:
        return self._catalog.file_of(document_id)

    def file_hash(self, path: str) -> str | None:
        return self._catalog.file_hash(path)

    def set_file(self, path: str, digest: str) -> None:
        self._catalog.set_file(path, digest)

    def forget_file(self, path: str) -> None:
        """Drop a file's record (not its articles)."""
        self._catalog.forget_file(path)

    def known_files(self) -> list[str]:
        return self._catalog.known_files()

    def article_hashes(self, file_path: str | None = None) -> dict[str, str]:
        return self._catalog.article_hashes(file_path)

    def sources(self) -> list[str]:
        return self._catalog.sources()

    def article_texts(self) -> list[str]:
        return self._catalog.texts()

    def chunk_documents(self) -> dict[str, str]:
        return self._catalog.chunk_documents()

    def passages(self, scored: Sequence[tuple[str, float]]) -> list[Passage]:
        return self._catalog.passages(scored)

    def chunk_texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        return self._catalog.chunk_texts(chunk_ids)

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self._sentences.sentence_vectors(chunk_ids)

    def stored_sentence_vectors(self, passages: Sequence[Passage]) -> dict[tuple[str, int, int], np.ndarray]:
        """The vectors ingest stored for the sentences inside ``passages``, keyed by (article id,
        start, end) in article offsets: what an answer would otherwise embed again."""
        chunks = self._catalog.chunks_within([(p.document_id, p.start, p.end) for p in passages])
        ids = [c.id for c in chunks]
        vectors, stored = self._sentences.sentence_vectors(ids), self._sentences.sentence_spans(ids)
        out: dict[tuple[str, int, int], np.ndarray] = {}
        for chunk in chunks:
            flat = vectors.get(chunk.id)
            spans = stored.get(chunk.id) or chunk_sentences(chunk.text, chunk.start)
            if flat is None or not spans or len(flat) % len(spans):
                continue
            rows = flat.reshape(len(spans), -1).astype(np.float32)
            out.update({(chunk.document_id, a, b): row for (a, b), row in zip(spans, rows, strict=True)})
        return out

    # --- vectors ------------------------------------------------------------------------
    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        return self._vectors.query(vector, k, filters)

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors of ``chunk_ids``: the database's copy first; the vector store only for
        chunks written before the database kept one."""
        found = self._catalog.chunk_vectors(chunk_ids)
        missing = [cid for cid in chunk_ids if cid not in found]
        if missing:
            found.update(self._vectors.embeddings(missing))
        return found

    def vector_ids(self) -> set[str]:
        """The ids of every chunk vector the vector store holds."""
        return self._vectors.ids()

    def ping(self) -> tuple[int, int]:
        """(articles, vectors): raises ``StoreUnavailable`` when either store cannot answer."""
        return self._catalog.count_articles(), self._vectors.count()

    # --- writing ------------------------------------------------------------------------
    def write_articles(
        self,
        items: Sequence[tuple[Article, str, str, list[Chunk]]],
        embeddings: np.ndarray,
        sentence_vectors: Sequence[SentenceVectors] = (),
    ) -> None:
        """Replace each (article, file, stored hash, chunks): Chroma, then one transaction. With
        ``sentence_vectors``, one (vectors, spans) per chunk in the same order."""
        sentences = [sentence_spans(a.text) for a, _, _, _ in items]
        spans = [
            passage_spans(a.text, [(c.start, c.end) for c in chunks], self.settings.chunk_size, sentences=ss)
            for (a, _, _, chunks), ss in zip(items, sentences, strict=True)
        ]
        chunks = [(a, c) for a, _, _, article_chunks in items for c in article_chunks]
        with self._lock:
            self._vectors.delete_documents([a.id for a, _, _, _ in items])
            self._vectors.upsert(
                [c.id for _, c in chunks],
                embeddings,
                [c.text for _, c in chunks],
                [chunk_metadata(a, c.start, c.end) for a, c in chunks],
            )
            with self._db.write() as connection:
                self._catalog.replace_articles(
                    connection, items, spans, sentences, sentence_vectors, embeddings
                )
            self._generation = None

    def remove_articles(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        with self._lock:
            self._vectors.delete_documents(document_ids)
            with self._db.write() as connection:
                self._catalog.delete_rows(connection, document_ids)
                self._catalog.bump(connection)
            self._generation = None

    def remove_file(self, path: str) -> list[str]:
        """Forget a file and its articles; returns their ids."""
        ids = list(self._catalog.article_hashes(path))
        self.remove_articles(ids)
        self._catalog.forget_file(path)
        return ids

    def reset_vectors(self) -> None:
        """Drop the vector collection (the catalog is kept, to be re-embedded)."""
        with self._lock:
            self._vectors.reset()

    def repair(self) -> int:
        """Drop vectors the catalog does not know (left by an interrupted write), and make the
        next ingest re-embed articles whose vectors are missing. Returns the orphans dropped."""
        with self._lock:
            known = self._catalog.chunk_ids()
            stored = self._vectors.ids()
            orphans = sorted(stored - known)
            self._vectors.delete_ids(orphans)
            missing = sorted(known - stored)
            if missing:
                self._catalog.forget_hashes(self._catalog.documents_of_chunks(missing))
            return len(orphans)

    def restore_catalog(self, signature: str, wait: float = 30.0) -> int:
        """An empty catalog rebuilt from a Chroma server's chunks; returns the articles. Under the
        writer lock, so replicas starting together over one database restore it once."""
        with self.writing(wait=wait), self._lock:
            restored = restore(self._catalog, self._vectors)
            if restored:
                self.set_meta("signature", signature)
                self.fill_passage_spans()
                self.fill_sentences()
                self.lexical()
                log.info("restored articles from the Chroma server", extra={"articles": restored})
            return restored

    def fill_passage_spans(self) -> int:
        """Passage spans for chunks stored before they existed (or restored from a server)."""
        docs = self._catalog.documents_without_spans()
        for doc_id in docs:
            with self._lock, self._db.write() as connection:
                try:
                    article = self._catalog.get_article(doc_id)
                except NotFound:  # removed meanwhile
                    continue
                chunks = self._catalog.chunks_of(connection, doc_id)
                spans = passage_spans(
                    article.text, [(c.start, c.end) for c in chunks], self.settings.chunk_size
                )
                self._catalog.insert_spans(connection, zip([c.id for c in chunks], spans, strict=True))
        return len(docs)

    def without_sentence_vectors(self, limit: int | None = None) -> list[Chunk]:
        return self._sentences.without_sentence_vectors(limit)

    def add_sentence_vectors(self, pairs: Sequence[tuple[str, SentenceVectors]]) -> None:
        if pairs:
            self._sentences.add_sentence_vectors(pairs)

    def fill_sentences(self) -> int:
        """Sentence spans for articles and chunk vectors stored before they were kept (no
        embedding: the text is split again). Returns the articles and chunks filled."""
        articles, chunks = self._sentences.without_sentences()
        texts = {doc: self._catalog.get_article(doc).text for doc in articles}
        self._sentences.set_sentences(
            {doc: sentence_spans(text) for doc, text in texts.items()},
            {c.id: list(chunk_sentences(c.text, c.start)) for c in chunks},
        )
        return len(articles) + len(chunks)

    def article_sentences(self, document_ids: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
        """Each article's sentence spans as stored at ingest (missing for an index not upgraded)."""
        return self._sentences.article_sentences(document_ids)

    # --- the lexical index ----------------------------------------------------------------
    def lexical_is_current(self) -> bool:
        """Whether the saved lexical index was built for the current generation (cheap)."""
        return lexical.saved_generation(self.data_dir / "bm25") == self.generation()

    def lexical(self, wait: bool = True) -> LexicalIndex:
        """The lexical index of the committed chunks: the one in memory, the saved one, or a
        fresh build (saved for the next process) when the corpus changed since.

        With ``wait=False`` (a search) an index already in memory keeps answering while a
        newer one is built in the background, when another process or replica changed the
        corpus; the first index of a process is always built (or loaded) before returning."""
        generation = self.generation(max_age=0.0 if wait else GENERATION_MAX_AGE)
        current = self._lexical
        if current is not None and current.generation == generation:
            return current
        if current is not None and not wait:
            self._refresh_in_background()
            return current
        return self._built_since(generation)

    def _built_since(self, target: int) -> LexicalIndex:
        """An index holding every write up to generation ``target``: built here, or by the build
        running in another thread, so that under a stream of writes a waiter returns once its own
        write is in rather than queueing for the lock behind rebuild after rebuild."""
        while True:
            if self._build_lock.acquire(timeout=0.2):
                try:
                    return self._rebuild()
                finally:
                    self._build_lock.release()
            current = self._lexical
            # Bounded above too: a catalog restored under a running server starts its count again.
            if current is not None and target <= current.generation <= self.generation():
                return current

    def _rebuild(self) -> LexicalIndex:
        generation = self.generation()
        if self._lexical is not None and self._lexical.generation == generation:
            return self._lexical
        folder = self.data_dir / "bm25"
        # One process builds; the others wait and load what it saved (workers of one data dir).
        with lexical.builder_lock(folder):
            generation = self.generation()
            rows = self._catalog.chunk_rows()
            index = lexical.load(folder, generation, rows, self._extensions)
            if index is not None and self._lexical is not None:
                lexical.keep_memos(self._lexical, index)
            if index is None:
                spans = self._sentences.sentence_spans([r.id for r in rows])
                index = lexical.build(folder, generation, rows, self._extensions, self._lexical, spans)
        self._lexical = index
        release_freed_memory()  # what the build (and the index it replaces) held
        return index

    def refresh_lexical_soon(self) -> None:
        """After a write whose caller need not wait (a delete): this process's keyword index is
        rebuilt in the background, the one in memory answering meanwhile."""
        if self._lexical is not None and self._lexical.generation != self.generation():
            self._refresh_in_background()

    def _refresh_in_background(self) -> None:
        # Its own lock: the build lock is held for the whole rebuild, which a search must not wait on.
        with self._refresh_lock:
            if self._refreshing is not None and self._refreshing.is_alive():
                return

            def refresh() -> None:
                try:
                    # Until caught up: writes committed during a build need the next one.
                    while True:
                        with self._build_lock:
                            built = self._rebuild()
                        if built.generation == self.generation():
                            break
                except Exception:  # the old index keeps answering; the next search retries
                    log.exception("refreshing the lexical index failed")

            self._refreshing = threading.Thread(target=refresh, name="rag-lexical-refresh", daemon=True)
            self._refreshing.start()

    def sentence_matrix(self, index: LexicalIndex, dimensions: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Every chunk's sentence vectors in ``index``'s order (``matrices.sentence_matrix``)."""
        return matrices.sentence_matrix(
            self.data_dir / "bm25", index, dimensions, self._sentences.sentence_vectors
        )

    def chunk_matrix(self, index: LexicalIndex, limit: int) -> np.ndarray | None:
        """Every chunk's vector in ``index``'s order (``matrices.chunk_matrix``)."""
        return matrices.chunk_matrix(self.data_dir / "bm25", index, limit, self.chunk_vectors)
