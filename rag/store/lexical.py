"""The lexical index: bm25s over every committed chunk (title + outlet + text) and over their
sentences, with each chunk's outlet, date and category for filtering, saved under ``<data>/bm25``.

Rebuilt from the catalog whenever its generation changes (and saved, so the next process loads
it instead). Retrieval can attach its own per-chunk indexes (``Extension``: e.g. the sentences'
words with their word vectors, the chunks' rare names), built from the same pass over the
chunks and saved beside it, so one rebuild keeps all of them in step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

import bm25s
import numpy as np
from filelock import FileLock, Timeout

from rag.models import Filters
from rag.store.catalog import ChunkRow
from rag.store.rows import Spans
from rag.store.vectors import day_bounds, source_key, timestamp
from rag.text import TokenMemo, split_sentences

log = logging.getLogger(__name__)
FORMAT = 5  # bumped when the saved layout changes, so older indexes are rebuilt
MANIFEST = "chunks.json"


class Extension(Protocol):
    """A per-chunk index another part of the engine keeps in step with this one."""

    name: str

    def build(self, sentences: list[list[str]], bodies: list[str], previous: Any | None) -> Any:
        """From each chunk's sentences and text (index order); ``previous``: what it built last."""

    def save(self, built: Any, folder: Path) -> None: ...

    def load(self, folder: Path) -> Any | None:
        """What ``save`` wrote, or None when it is missing or from an older layout."""


class LexicalIndex:
    """Keyword scores of every committed chunk, and of each chunk's best sentence."""

    def __init__(
        self,
        generation: int,
        chunk_ids: list[str],
        chunks: bm25s.BM25 | None,
        sentences: bm25s.BM25 | None,
        sentence_counts: np.ndarray,
        rows: Sequence[ChunkRow],
        extensions: dict[str, Any],
        memo: TokenMemo[tuple[str, ...]] | None = None,
    ) -> None:
        self.generation = generation
        # The tokens of its chunks and sentences, lent to the next build (empty when loaded).
        self.memo: TokenMemo[tuple[str, ...]] = memo or TokenMemo()
        self.chunk_ids = chunk_ids
        self._positions = {cid: i for i, cid in enumerate(chunk_ids)}
        self.chunks = chunks
        self.sentences = sentences
        self.sources = np.array([source_key(r.source) for r in rows], dtype=object)
        self.published = np.array(
            [timestamp(datetime.fromisoformat(r.published_at)) if r.published_at else -1 for r in rows],
            dtype=np.int64,
        )
        self.categories = np.array([(r.category or "").lower() for r in rows], dtype=object)
        self.extensions = extensions
        # reduceat needs each segment's first row and non-empty segments; chunks without a
        # sentence (whitespace only) keep a best-sentence score of 0.
        self._has_sentences = sentence_counts > 0
        self._sentence_starts = (np.cumsum(sentence_counts) - sentence_counts)[self._has_sentences]

    def position(self, chunk_id: str) -> int:
        """The chunk's row in this index; -1 for one it does not hold (Chroma, written first,
        can briefly hold chunks that are not committed yet)."""
        return self._positions.get(chunk_id, -1)

    def keyword_scores(self, tokens: list[str]) -> np.ndarray:
        """Each chunk's BM25 score for ``tokens`` (stemmed keyword tokens, ``rag.text``)."""
        if self.chunks is None:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        tokens = [w for w in tokens if w in self.chunks.vocab_dict]
        if not tokens:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self.chunks.get_scores(tokens), dtype=np.float32)

    def best_sentence_scores(self, tokens: list[str]) -> np.ndarray | None:
        """For each chunk (by ``position``, plus a last 0 for position -1), the BM25 score of its
        best-matching sentence for ``tokens``; None when there is no sentence index."""
        if self.sentences is None:
            return None
        vocab = self.sentences.vocab_dict
        tokens = [w for w in tokens if w in vocab]
        out = np.zeros(len(self.chunk_ids) + 1, dtype=np.float32)
        if tokens:
            scores = np.asarray(self.sentences.get_scores(tokens), dtype=np.float32)
            out[:-1][self._has_sentences] = np.maximum.reduceat(scores, self._sentence_starts)
        return out

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Which chunks ``filters`` keep (None: all)."""
        if filters is None or filters.is_empty():
            return None
        keep = np.ones(len(self.chunk_ids), dtype=bool)
        if filters.source:
            keep &= np.isin(self.sources, [source_key(s) for s in filters.source])
        lo, hi = day_bounds(filters)
        if lo is not None:
            keep &= self.published >= lo
        if hi is not None:
            keep &= (self.published <= hi) & (self.published >= 0)
        if filters.category:
            keep &= self.categories == filters.category.strip().lower()
        return keep


def build(
    folder: Path,
    generation: int,
    rows: Sequence[ChunkRow],
    extensions: Sequence[Extension],
    previous: LexicalIndex | None,
    spans: Mapping[str, Spans] | None = None,
) -> LexicalIndex:
    """Index ``rows`` and save the result to ``folder`` (replaced whole, never half-written).
    ``spans``: chunks' sentence spans as ingest stored them (article offsets), read instead of
    splitting those chunks again (the same splitter made them, and splitting was the largest part
    of a rebuild: docs/performance-log.md)."""
    ids = [r.id for r in rows]
    sentences_per_chunk = [_sentences(r, (spans or {}).get(r.id)) for r in rows]
    counts = np.array([len(x) for x in sentences_per_chunk], dtype=np.int64)
    headed = [f"{r.title}\n{r.source or ''}\n{r.text}" for r in rows]
    texts = headed + [x for chunk in sentences_per_chunk for x in chunk]
    # Only the texts the index being replaced did not hold are tokenized (an upload's).
    tokens, memo = (previous.memo if previous is not None else TokenMemo()).map(texts, _tokenize)
    chunks, sentences = _bm25(tokens[: len(headed)]), _bm25(tokens[len(headed) :])
    bodies = [r.text for r in rows]
    built = {}
    for ext in extensions:
        # The index being replaced (in memory, else on disk) lends what it built, e.g. the vectors
        # of words it already knew.
        before = previous.extensions.get(ext.name) if previous is not None else ext.load(folder)
        built[ext.name] = ext.build(sentences_per_chunk, bodies, before)
    index = LexicalIndex(generation, ids, chunks, sentences, counts, rows, built, memo)
    try:
        _save(folder, index, chunks, sentences, counts, extensions, built)
    except OSError as exc:  # a full disk: this process searches with it anyway, the next rebuilds it
        log.warning("could not save the keyword index", extra={"error": str(exc), "folder": str(folder)})
        shutil.rmtree(_scratch(folder), ignore_errors=True)
    return index


@contextmanager
def builder_lock(folder: Path) -> Iterator[None]:
    """The lock one process builds the index in ``folder`` under, when its file can be made;
    without it (a read-only data dir) this process builds for itself, as it would search with an
    index it cannot save."""
    try:
        lock = FileLock(_lock_file(folder))
        lock.acquire()
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


@contextmanager
def unless_building(folder: Path, generation: int) -> Iterator[bool]:
    """Whether a file may be added to ``folder`` now (True while no process builds a new index
    there and the saved one is for ``generation``), held for the block. A build replaces the
    whole folder: a file written into it meanwhile made the build's rename fail, or was lost
    with the folder. A search never waits on a build for this: it just does not save."""
    try:
        lock = FileLock(_lock_file(folder), timeout=0)
        lock.acquire()
    except (OSError, Timeout):  # a build is running, or no lock can be made here
        yield False
        return
    try:
        yield saved_generation(folder) == generation
    finally:
        lock.release()


def _lock_file(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.lock")


def _sentences(row: ChunkRow, spans: Spans | None) -> list[str]:
    if spans is None:
        return split_sentences(row.text)
    return [row.text[a - row.start : b - row.start] for a, b in spans]


def _scratch(folder: Path) -> Path:
    """This thread's folder to write a new index into: two processes saving at once never write
    into one folder."""
    return folder.with_name(f".{folder.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _save(
    folder: Path,
    index: LexicalIndex,
    chunks: bm25s.BM25 | None,
    sentences: bm25s.BM25 | None,
    counts: np.ndarray,
    extensions: Sequence[Extension],
    built: dict[str, Any],
) -> None:
    """Write the index to ``folder`` whole: into a temporary folder renamed over it at the end."""
    tmp = _scratch(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if chunks is not None:
        chunks.save(str(tmp))
    if sentences is not None:
        sentences.save(str(tmp / "sentences"))
    for ext in extensions:
        ext.save(built[ext.name], tmp)
    manifest = {
        "format": FORMAT,
        "generation": index.generation,
        "ids": index.chunk_ids,
        "indexed": chunks is not None,
        "sentence_counts": counts.tolist() if sentences is not None else None,
        "extensions": sorted(built),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def saved_generation(folder: Path) -> int | None:
    """The generation the saved index was built for (None: none saved, or an older layout)."""
    try:
        info = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return int(info["generation"]) if info.get("format") == FORMAT else None


def load(
    folder: Path, generation: int, rows: Sequence[ChunkRow], extensions: Sequence[Extension]
) -> LexicalIndex | None:
    """The saved index if it was built for ``generation`` and these chunks; else None."""
    try:
        info = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    ids = [r.id for r in rows]
    wanted = sorted(ext.name for ext in extensions)
    if info.get("format") != FORMAT or info.get("generation") != generation or info.get("ids") != ids:
        return None
    if info.get("extensions") != wanted:
        return None
    built = {ext.name: ext.load(folder) for ext in extensions}
    if any(value is None for value in built.values()):
        return None
    try:
        chunks = bm25s.BM25.load(str(folder)) if info["indexed"] else None
        counts = info["sentence_counts"]
        sentences = bm25s.BM25.load(str(folder / "sentences")) if counts is not None else None
    except (OSError, ValueError, KeyError):  # missing or damaged files: rebuilt by the caller
        return None
    sentence_counts = np.asarray(counts if counts is not None else [0] * len(ids), dtype=np.int64)
    return LexicalIndex(generation, ids, chunks, sentences, sentence_counts, rows, built)


def keep_memos(previous: LexicalIndex, loaded: LexicalIndex) -> None:
    """``loaded`` (another process's build, read here) keeps the tokens ``previous`` (this
    process's last index) holds, so this process's next build still tokenizes only new texts
    when the workers of one data dir take turns building."""
    loaded.memo = previous.memo
    for name, built in loaded.extensions.items():
        memo = getattr(previous.extensions.get(name), "memo", None)
        if memo is not None and hasattr(built, "memo"):
            built.memo = memo


def _tokenize(texts: list[str]) -> list[tuple[str, ...]]:
    """bm25s' own tokenisation (its pattern, Lucene's English stop-words, Snowball stems), which
    ``rag.text.keyword_tokens`` reproduces for questions."""
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    made = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    return [tuple(text) for text in cast(list[list[str]], made)]  # kept between builds: compact


def _bm25(tokens: list[tuple[str, ...]]) -> bm25s.BM25 | None:
    """A bm25s index of texts tokenized by ``_tokenize`` (None when they hold no indexable word,
    e.g. only emoji)."""
    if not any(tokens):
        return None
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)  # bm25s numbers the tokens itself
    return retriever
