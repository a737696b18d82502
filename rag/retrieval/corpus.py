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
    chunk_ids: list[str]  # the lexical index's order, which the vector matrix follows
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)
    _matrix: np.ndarray | None = None
    _loaded: bool = False
    _sentences: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, generation: int, lexical: LexicalIndex) -> CorpusView:
        words: set[str] = set()
        for text in store.article_texts():
            words.update(plain_words(text))
        outlets = OutletIndex(store.sources())
        return cls(generation, outlets, frozenset(words), store.chunk_documents(), lexical.chunk_ids)

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

    def sentence_vectors(self, store: Store, ids: list[str]) -> dict[str, np.ndarray]:
        """The sentence vectors of the chunks ``ids`` (those that have them), kept once read
        (reading a search's candidates from the database is a measurable share of it),
        bounded by SENTENCE_CACHE chunks."""
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
            ids = self.chunk_ids
            if ids and len(ids) <= EXACT_SEARCH_LIMIT:
                rows = store.chunk_vectors(ids)
                if len(rows) == len(ids):  # else an ingest is running: Chroma answers
                    self._matrix = np.asarray([rows[cid] for cid in ids], dtype=np.float32)
        return self._matrix
