"""Vector matrices saved beside the lexical index: every chunk's vector and every chunk's
sentence vectors in the index's chunk order, for exact in-memory search and ranking. Saved as
``.npy`` and memory-mapped, so the worker processes of one host share their pages; valid for
the generation the lexical index was saved for."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.errors import StoreUnavailable
from rag.store import lexical
from rag.store.lexical import LexicalIndex

VECTORS_FILE = "vectors.npy"
SENTENCES_FILE = "sentence_vectors.npy"
SENTENCE_STARTS_FILE = "sentence_starts.npy"

log = logging.getLogger(__name__)


def save(path: Path, array: np.ndarray, generation: int) -> None:
    """Beside the keyword index of ``generation``, whole or not at all, even with two worker
    processes saving at once (a file of their own each, then an atomic rename); not while
    another process replaces that index (``lexical.unless_building``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp.npy")
    try:
        with lexical.unless_building(path.parent, generation) as free:
            if free:
                np.save(tmp, array)
                tmp.replace(path)
    except OSError as exc:  # a full disk: kept in memory for this process only
        tmp.unlink(missing_ok=True)
        log.warning("could not save a vector matrix", extra={"error": str(exc), "path": str(path)})


def load(path: Path, rows: int) -> np.ndarray | None:
    try:
        matrix = np.load(path, mmap_mode="r").view(np.ndarray)
    except (OSError, ValueError):
        return None
    return matrix if matrix.shape[0] == rows else None


def sentence_matrix(
    folder: Path,
    index: LexicalIndex,
    dimensions: int,
    stored: Callable[[Sequence[str]], dict[str, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Every chunk's sentence vectors in ``index``'s order, one float16 matrix (rows
    ``starts[i]:starts[i + 1]`` are chunk i's), saved beside the lexical index and
    memory-mapped like ``chunk_matrix``; None while the saved index is for another generation."""
    if lexical.saved_generation(folder) != index.generation:
        return None
    ids = index.chunk_ids
    try:
        starts = np.load(folder / SENTENCE_STARTS_FILE)
        # A plain array over the mapped file: memmap's own slicing is slow on a search's path.
        matrix = np.load(folder / SENTENCES_FILE, mmap_mode="r").view(np.ndarray)
        if len(starts) == len(ids) + 1 and matrix.shape == (int(starts[-1]), dimensions):
            return matrix, starts
    except (OSError, ValueError):
        pass
    flat = stored(ids)
    parts = [flat.get(cid, np.zeros(0, np.float16)).reshape(-1, dimensions) for cid in ids]
    starts = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
    matrix = np.concatenate(parts) if parts else np.zeros((0, dimensions), np.float16)
    for name, array in ((SENTENCES_FILE, matrix), (SENTENCE_STARTS_FILE, starts)):
        save(folder / name, array, index.generation)
    return matrix, starts


def chunk_matrix(
    folder: Path,
    index: LexicalIndex,
    limit: int,
    embeddings: Callable[[Sequence[str]], dict[str, np.ndarray]],
) -> np.ndarray | None:
    """Every chunk's vector in ``index``'s order, for exact in-memory search: saved beside
    the lexical index (memory-mapped, so worker processes share the pages) and read from
    the vector store only when missing. None past ``limit`` chunks, or when the vector store
    lacks some (an ingest is running)."""
    ids = index.chunk_ids
    if not ids or len(ids) > limit:
        return None
    path = folder / VECTORS_FILE
    saved = load(path, len(ids))
    if saved is not None and lexical.saved_generation(path.parent) == index.generation:
        return saved
    try:
        rows = embeddings(ids)
    except StoreUnavailable:
        return as_saved(path, ids)
    if len(rows) != len(ids):
        return None
    matrix = np.asarray([rows[cid] for cid in ids], dtype=np.float32)
    save(path, matrix, index.generation)
    return matrix


def as_saved(path: Path, ids: list[str]) -> np.ndarray:
    """With the vector store unreadable (a full disk, a server down), the matrix saved for an
    earlier generation still serves the chunks it holds; newer ones read as zero vectors
    until the store is back. Raises ``StoreUnavailable`` when nothing was saved."""
    try:
        saved_ids = json.loads((path.parent / lexical.MANIFEST).read_text())["ids"]
        saved = load(path, len(saved_ids))
    except (OSError, ValueError, KeyError):
        saved = None
    if saved is None:
        raise StoreUnavailable(f"Cannot read the vectors of {path.parent.parent}, and none are saved.")
    log.warning("the vector store is unreadable: searching with the vectors saved earlier")
    row = {cid: i for i, cid in enumerate(saved_ids)}
    out = np.zeros((len(ids), saved.shape[1]), dtype=np.float32)
    for i, cid in enumerate(ids):
        if cid in row:
            out[i] = saved[row[cid]]
    return out
