"""What retrieval knows about the corpus beyond the indexes, rebuilt when its generation changes:
the outlets (for reading questions), the vocabulary (for names the corpus never mentions), each
chunk's article, the chunk vectors for exact in-memory search, filter masks and a bounded cache
of sentence vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag.models import Filters
from rag.retrieval.query import OutletIndex
from rag.store import LexicalIndex, Store
from rag.text import plain_words

EXACT_SEARCH_LIMIT = 300_000  # chunks; ~460 MB of float32 vectors at 384 dimensions
SENTENCE_CACHE = 10_000  # chunks whose sentence vectors are kept: ~7 KB each, float16
MASK_CACHE = 512  # filter masks kept: outlets repeat, dates vary


@dataclass
class CorpusView:
    """One generation of the corpus as retrieval reads it."""

    generation: int
    outlets: OutletIndex
    words: frozenset[str]
    document_of: dict[str, str]  # chunk id -> article id
    lexical: LexicalIndex  # the one this view was read beside; the vector matrix follows its order
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)
    _matrix: np.ndarray | None = None
    _loaded: bool = False
    _sentences: dict[str, np.ndarray] = field(default_factory=dict)
    _sentence_matrix: tuple[np.ndarray, np.ndarray] | None = None
    _sentence_matrix_loaded: bool = False

    @classmethod
    def read(cls, store: Store, generation: int, lexical: LexicalIndex) -> CorpusView:
        words: set[str] = set()
        for text in store.article_texts():
            words.update(plain_words(text))
        outlets = OutletIndex(store.sources())
        return cls(generation, outlets, frozenset(words), store.chunk_documents(), lexical)

    @property
    def chunk_ids(self) -> list[str]:
        return self.lexical.chunk_ids

    def mask(self, lexical: LexicalIndex, filters: Filters | None) -> np.ndarray | None:
        """Which of ``lexical``'s chunks ``filters`` keep, cached for this generation."""
        if self.chunk_ids is not lexical.chunk_ids:
            # An ingest landed between this search's reads of the view and of the keyword index:
            # the cached masks fit another index's chunks, so this one gets its own.
            return lexical.mask(filters)
        key = filters.model_dump_json() if filters is not None else ""
        if key not in self.masks:
            if len(self.masks) > MASK_CACHE:
                self.masks.clear()
            self.masks[key] = lexical.mask(filters)
        return self.masks[key]

    def sentence_vectors(self, store: Store, ids: list[str], dimensions: int | None) -> dict[str, np.ndarray]:
        """The sentence vectors (float16, flat) of the chunks ``ids`` that have them: slices of
        the memory-mapped matrix saved beside the lexical index when there is one, else read
        from the database and kept (bounded by SENTENCE_CACHE chunks)."""
        if not self._sentence_matrix_loaded and dimensions is not None:
            self._sentence_matrix_loaded = True
            self._sentence_matrix = store.sentence_matrix(self.lexical, dimensions)
        if self._sentence_matrix is not None:
            matrix, starts = self._sentence_matrix
            rows = [(cid, self.lexical.position(cid)) for cid in ids]
            return {
                cid: matrix[starts[r] : starts[r + 1]].reshape(-1)
                for cid, r in rows
                if r >= 0 and starts[r + 1] > starts[r]
            }
        got = {cid: v for cid in ids if (v := self._sentences.get(cid)) is not None}
        missing = [cid for cid in ids if cid not in got]
        if missing:
            read = store.sentence_vectors(missing)
            got.update(read)
            if len(self._sentences) + len(read) > SENTENCE_CACHE:
                self._sentences = {}  # a new dict, so a concurrent search reads the old one whole
            self._sentences.update(read)
        return got

    def vectors(self, store: Store) -> np.ndarray | None:
        """All chunk vectors in ``chunk_ids`` order, for exact in-memory search (None: ask Chroma).

        A filtered sub-query scores only its outlet's rows with one matrix product, where each
        filtered Chroma query costs several ms. Past EXACT_SEARCH_LIMIT chunks the memory is
        not worth it and Chroma's index answers instead. Loaded on first use.
        """
        if not self._loaded:
            self._loaded = True
            self._matrix = store.chunk_matrix(self.lexical, EXACT_SEARCH_LIMIT)
        return self._matrix
