"""Retrieval: a question (+ filters) -> ranked ``Passage`` list.

Hybrid search: dense vectors from Chroma and BM25 keywords (bm25s, over title + outlet + text),
fused by reciprocal rank. The question is first analysed (``rag.query``): each outlet it names
(with the date it gives for that outlet's report) becomes a sub-query restricted to that
outlet, so every article a multi-hop question spans gets its own search. Results are fused,
each sub-query's best passage is guaranteed a slot, and one article cannot fill every slot.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import bm25s.stopwords
import numpy as np
import Stemmer

from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.query import OutletIndex, QueryPlan, analyze, keyword_text
from rag.store import BM25Index, Store

EXACT_SEARCH_LIMIT = 300_000  # chunks; ~460 MB of float32 vectors at 384 dimensions
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks
# Fusion weights, measured on the MultiHop-RAG dev split (benchmarks/retrieval.py).
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 1.0
SUBQUERY_WEIGHT = 1.0
USE_SUBQUERIES = True
LEADERS = 2
LEADER_ORDER = "sub"

_WORD = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)


def rrf(rankings: list[list[tuple[str, float]]], weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, (chunk_id, _score) in enumerate(ranking):
            fused[chunk_id] += w / (RRF_K + rank + 1)
    return fused


def keyword_tokens(text: str, stemmer: Stemmer.Stemmer) -> list[str]:
    """The words BM25 indexed for ``text``: bm25s' own tokenisation (regex, English stopwords,
    Snowball stems), inlined because ``bm25s.tokenize`` costs ~3 ms a call in progress-bar setup."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return list(stemmer.stemWords(words)) if words else []


@dataclass
class Catalog:
    """What retrieval knows about the corpus beyond the indexes, rebuilt when it changes."""

    generation: int
    outlets: OutletIndex
    words: frozenset[str]
    document_of: dict[str, str]  # chunk id -> article id
    chunk_ids: list[str]  # the BM25 index's order, which ``vectors`` rows follow
    vectors: np.ndarray | None  # unit vectors, one row per chunk; None = ask Chroma
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)


class Retriever:
    def __init__(self, store: Store, embed: OnnxEmbedding, candidates: int = 50) -> None:
        self.store = store
        self.embed = embed
        self.candidates = candidates
        self.stemmer = Stemmer.Stemmer("english")
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def catalog(self) -> Catalog:
        gen = self.store.generation()
        with self._lock:
            if self._catalog is None or self._catalog.generation != gen:
                words: set[str] = set()
                for (text,) in self.store.db.execute("SELECT title || ' ' || text FROM articles"):
                    words.update(_WORD.findall(text.lower()))
                chunks = dict(self.store.db.execute("SELECT id, document_id FROM chunks").fetchall())
                ids = self.store.bm25().chunk_ids
                self._catalog = Catalog(
                    gen, OutletIndex(self.store.sources()), frozenset(words), chunks, ids, self._vectors(ids)
                )
            return self._catalog

    def _vectors(self, ids: list[str]) -> np.ndarray | None:
        """All chunk vectors in ``ids`` order, for exact in-memory search.

        Every outlet/date sub-query needs its own filtered search; one matrix product scores
        every chunk for a question (~1 ms for 10k chunks) and the BM25 masks apply to it as
        they are, where each filtered Chroma query costs several ms. Past EXACT_SEARCH_LIMIT
        chunks the memory is not worth it and Chroma's index answers instead.
        """
        if not ids or len(ids) > EXACT_SEARCH_LIMIT:
            return None
        rows: dict[str, Any] = {}
        for i in range(0, len(ids), 2000):
            got = self.store.collection.get(ids=ids[i : i + 2000], include=["embeddings"])
            rows.update(zip(got["ids"], got["embeddings"], strict=True))
        if len(rows) != len(ids):
            return None  # vectors and catalog disagree (an ingest is running): use Chroma
        return np.asarray([rows[cid] for cid in ids], dtype=np.float32)

    def plan(self, query: str, filters: Filters | None = None) -> QueryPlan:
        """The outlets, dates and sub-queries the system reads from ``query``."""
        catalog = self.catalog()
        return analyze(query, catalog.outlets, filters, catalog.words)

    def _mask(self, bm25: BM25Index, catalog: Catalog, filters: Filters | None) -> np.ndarray | None:
        key = filters.model_dump_json() if filters is not None else ""
        if key not in catalog.masks:
            if len(catalog.masks) > 512:  # outlets repeat, dates vary: keep the cache bounded
                catalog.masks.clear()
            catalog.masks[key] = bm25.mask(filters)
        return catalog.masks[key]

    def search(
        self,
        query: str,
        k: int = 8,
        filters: Filters | None = None,
        max_per_article: int = 3,
    ) -> list[Passage]:
        query = query.strip()
        if not query:
            raise BadInput("The question is empty.")
        if k < 1:
            raise BadInput("k must be at least 1.")
        if self.store.count_articles() == 0:
            raise NothingIndexed()
        n = max(self.candidates, 4 * k)
        catalog = self.catalog()
        bm25 = self.store.bm25()
        plan = analyze(query, catalog.outlets, filters, catalog.words) if USE_SUBQUERIES else QueryPlan(query)
        sub_text = keyword_text(plan)
        searches = [(query, filters)] + [(sub_text, s.filters) for s in plan.subqueries]
        unique = list(dict.fromkeys(text for text, _ in searches))
        vectors = dict(zip(unique, self.embed.embed_batch(unique), strict=True))
        keyword_scores = {text: self._keyword_scores(bm25, text) for text in unique}
        ranked: list[list[list[tuple[str, float]]]] = []
        # The matrix follows the BM25 index it was built beside; a newer one means an ingest
        # landed in between, and Chroma answers until the catalog catches up.
        matrix = catalog.vectors if catalog.chunk_ids is bm25.chunk_ids else None
        dense_scores = {text: matrix @ vectors[text] for text in unique} if matrix is not None else {}
        for text, where in searches:
            mask = self._mask(bm25, catalog, where)
            if matrix is not None:
                dense = _top(bm25.chunk_ids, dense_scores[text], mask, n, floor=-1.0)
            else:
                dense = self.store.dense_search(vectors[text], n, where)
            ranked.append([dense, _top(bm25.chunk_ids, keyword_scores[text], mask, n)])
        pair = [DENSE_WEIGHT, BM25_WEIGHT]
        fused = rrf(
            [r for lists in ranked for r in lists],
            pair + [SUBQUERY_WEIGHT * w for _ in ranked[1:] for w in pair],
        )
        order = [cid for cid, _ in sorted(fused.items(), key=lambda kv: -kv[1])]
        if LEADERS:
            # Each named outlet's best passages first, so a multi-hop question sees every source.
            leaders: list[str] = []
            per_sub = [sorted(rrf(lists, pair).items(), key=lambda kv: -kv[1]) for lists in ranked[1:]]
            for depth in range(LEADERS):
                leaders.extend(best[depth][0] for best in per_sub if len(best) > depth)
            lead = list(dict.fromkeys(leaders))
            if LEADER_ORDER == "fused":
                lead.sort(key=lambda c: -fused[c])
            taken = set(lead)
            order = lead + [c for c in order if c not in taken]
        chosen = _diversify_ids(order, catalog.document_of, k, max_per_article)
        return self.store.passages([(cid, round(fused[cid], 6)) for cid in chosen])

    def _keyword_scores(self, bm25: BM25Index, text: str) -> np.ndarray:
        vocab = bm25.retriever.vocab_dict if bm25.retriever is not None else {}
        words = [w for w in keyword_tokens(text, self.stemmer) if w in vocab]
        if not words or bm25.retriever is None:
            return np.zeros(len(bm25.chunk_ids), dtype=np.float32)
        return np.asarray(bm25.retriever.get_scores(words), dtype=np.float32)


def _top(
    ids: list[str], scores: np.ndarray, mask: np.ndarray | None, n: int, floor: float = 0.0
) -> list[tuple[str, float]]:
    """The ``n`` best-scoring ids inside ``mask`` (scores above ``floor``), best first."""
    if mask is not None:
        scores = np.where(mask, scores, floor)
    if not len(scores):
        return []
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top])]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > floor]


def _diversify_ids(order: list[str], document_of: dict[str, str], k: int, max_per_article: int) -> list[str]:
    """Keep rank order but allow at most ``max_per_article`` chunks per article."""
    taken: dict[str, int] = defaultdict(int)
    out: list[str] = []
    for cid in order:
        doc = document_of.get(cid)
        if doc is not None and taken[doc] < max_per_article:
            taken[doc] += 1
            out.append(cid)
            if len(out) == k:
                break
    return out
