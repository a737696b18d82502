"""The rows the store's modules pass between them: chunks as committed, and sentence spans
and vectors as the database keeps them (int32 and float16 blobs)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

ID_BATCH = 500  # ids per IN (...): SQLite's bound-parameter limit is 999 on older builds

Spans = list[tuple[int, int]]
SentenceVectors = tuple[np.ndarray, Spans]  # (sentences, dimensions) vectors and their spans


def pack(spans: Spans) -> bytes:
    """(start, end) pairs as the int32 blob the database keeps."""
    return np.asarray(spans, dtype=np.int32).reshape(-1).tobytes()


def unpack(blob: bytes | None) -> Spans | None:
    if blob is None:
        return None
    flat = np.frombuffer(blob, dtype=np.int32)
    return [(int(a), int(b)) for a, b in flat.reshape(-1, 2)]


@dataclass
class Chunk:
    id: str
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass
class ChunkRow:
    """What the keyword index reads of a committed chunk: its article's title, outlet, date and
    category beside its own text."""

    id: str
    text: str
    title: str
    source: str | None
    published_at: str | None
    category: str | None
    start: int = 0  # the chunk's offset in its article


def chunked(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), ID_BATCH):
        yield list(ids[i : i + ID_BATCH])
