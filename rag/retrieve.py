"""Retrieval: a question (+ filters) -> ranked ``Passage`` list.

BM25 keywords (bm25s, over title + outlet + text), optionally fused with embedding similarity
(``RAG_DENSE_WEIGHT``; off by default: the packaged MiniLM lowered MultiHop-RAG MRR@10 at every
weight tried). The question is first analysed (``rag.query``): each outlet it names (with the
date it gives for that outlet's report) becomes a sub-query restricted to that outlet, so every
article a multi-hop question spans gets its own search. Rankings are fused by reciprocal rank;
then each candidate gains credit for holding a sentence that matches one clause of the question
well (a chunk matching the whole question loosely is not the one holding the fact a part of it
asks about). Each named outlet's best passages are guaranteed a slot, and one article cannot
fill every slot.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import Stemmer

from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.query import OutletIndex, QueryPlan, analyze, clauses, keyword_text, keyword_tokens
from rag.store import BM25Index, Store

EXACT_SEARCH_LIMIT = 300_000  # chunks; ~460 MB of float32 vectors at 384 dimensions
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks
# Passages per named outlet guaranteed a slot (measured on the MultiHop-RAG dev split with
# benchmarks/retrieval.py: 2 beat 0, 1 and 3).
LEADERS = 2
# At most this many passages of one article (measured: 4 found more evidence than 2 or 3).
MAX_PER_ARTICLE = 4
# Weight of the best clause-to-sentence match (0..1) next to the fused rank score (one list's
# top rank is worth 1/61 ~ 0.016). Measured on the MultiHop-RAG dev split: 0.01 beat 0.005 and
# 0.02 (MRR@10 0.687 -> 0.727, evidence recall@10 0.652 -> 0.675).
SENTENCE_WEIGHT = 0.01

_WORD = re.compile(r"[a-z0-9]+")


def rrf(rankings: list[list[tuple[str, float]]], weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, (chunk_id, _score) in enumerate(ranking):
            fused[chunk_id] += w / (RRF_K + rank + 1)
    return fused


@dataclass
class Catalog:
    """What retrieval knows about the corpus beyond the indexes, rebuilt when it changes."""

    generation: int
    outlets: OutletIndex
    words: frozenset[str]
    document_of: dict[str, str]  # chunk id -> article id
    chunk_ids: list[str]  # the BM25 index's order, which the vector matrix follows
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)
    _matrix: np.ndarray | None = None
    _loaded: bool = False

    def vectors(self, store: Store) -> np.ndarray | None:
        """All chunk vectors in ``chunk_ids`` order, for exact in-memory search (None: use Chroma).

        A filtered sub-query scores only its outlet's rows with one matrix product, where each
        filtered Chroma query costs several ms. Past EXACT_SEARCH_LIMIT chunks the memory is
        not worth it and Chroma's index answers instead. Loaded on first use.
        """
        if not self._loaded:
            self._loaded = True
            ids = self.chunk_ids
            if ids and len(ids) <= EXACT_SEARCH_LIMIT:
                rows: dict[str, Any] = {}
                for i in range(0, len(ids), 2000):
                    got = store.collection.get(ids=ids[i : i + 2000], include=["embeddings"])
                    rows.update(zip(got["ids"], got["embeddings"], strict=True))
                if len(rows) == len(ids):  # else an ingest is running: Chroma answers
                    self._matrix = np.asarray([rows[cid] for cid in ids], dtype=np.float32)
        return self._matrix


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
                outlets = OutletIndex(self.store.sources())
                ids = self.store.bm25().chunk_ids
                self._catalog = Catalog(gen, outlets, frozenset(words), chunks, ids)
            return self._catalog

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
        max_per_article: int = MAX_PER_ARTICLE,
        plan: QueryPlan | None = None,
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
        plan = plan or analyze(query, catalog.outlets, filters, catalog.words)
        sub_text = keyword_text(plan)
        searches = [(query, filters)] + [(sub_text, s.filters) for s in plan.subqueries]
        texts = list(dict.fromkeys(text for text, _ in searches))
        keyword_scores = {text: bm25.keyword_scores(keyword_tokens(text, self.stemmer)) for text in texts}
        weight = self.store.settings.dense_weight
        vectors = dict(zip(texts, self.embed.embed_batch(texts), strict=True)) if weight else {}
        ranked: list[list[tuple[str, float]]] = []  # per search: its fused ranking
        for i, (text, where) in enumerate(searches):
            mask = self._mask(bm25, catalog, where)
            lists = [_top(bm25.chunk_ids, keyword_scores[text], mask, n)]
            if weight or (i == 0 and len(lists[0]) < k):
                # Without dense weight, embeddings still rescue a question whose words the
                # corpus lacks (a paraphrase) rather than leave it with too few passages.
                vector = vectors[text] if weight else self.embed.embed_batch([text])[0]
                lists.append(self._dense(catalog, bm25, vector, mask, where, n))
            ranked.append(sorted(rrf(lists, [1.0, weight or 1.0]).items(), key=lambda kv: -kv[1]))
        score = self._sentence_support(bm25, sub_text, rrf(ranked))
        # Each named outlet's best LEADERS passages come first (best score first), so a
        # multi-hop question sees every source it names before the rest fills the slots.
        lead = {
            cid
            for sub in ranked[1:]
            for cid in heapq.nlargest(LEADERS, (c for c, _ in sub), key=score.__getitem__)
        }
        order = sorted(score, key=lambda cid: (cid not in lead, -score[cid]))
        chosen = _diversify_ids(order, catalog.document_of, k, max_per_article)
        return self.store.passages([(cid, round(score[cid], 6)) for cid in chosen])

    def _sentence_support(self, bm25: BM25Index, text: str, fused: dict[str, float]) -> dict[str, float]:
        """``fused`` plus SENTENCE_WEIGHT x how well the candidate's best sentence matches one
        clause of ``text`` (BM25 over sentences, scaled so each clause's best candidate is 1)."""
        if not fused:
            return fused
        rows = np.fromiter((bm25.position(cid) for cid in fused), dtype=np.int64, count=len(fused))
        support = np.zeros(len(fused), dtype=np.float32)
        for clause in clauses(text):
            best = bm25.best_sentence_scores(keyword_tokens(clause, self.stemmer))
            if best is None:
                return fused
            top = best[rows].max()
            if top > 0:
                np.maximum(support, best[rows] / top, out=support)
        return {cid: f + SENTENCE_WEIGHT * float(support[i]) for i, (cid, f) in enumerate(fused.items())}

    def _dense(
        self,
        catalog: Catalog,
        bm25: BM25Index,
        vector: np.ndarray,
        mask: np.ndarray | None,
        where: Filters | None,
        n: int,
    ) -> list[tuple[str, float]]:
        # The matrix follows the BM25 index it was built beside; a newer one means an ingest
        # landed in between, and Chroma answers until the catalog catches up.
        matrix = catalog.vectors(self.store) if catalog.chunk_ids is bm25.chunk_ids else None
        if matrix is None or mask is None:
            return self.store.dense_search(vector, n, where)
        # Only the rows the filter keeps: a named outlet is a small share of the corpus.
        rows = np.flatnonzero(mask)
        scores = matrix[rows] @ vector
        return [(bm25.chunk_ids[rows[j]], float(scores[j])) for j in _best(scores, n)]


def _top(ids: list[str], scores: np.ndarray, mask: np.ndarray | None, n: int) -> list[tuple[str, float]]:
    """The ``n`` best-scoring ids inside ``mask`` (positive scores only), best first."""
    if mask is not None:
        scores = np.where(mask, scores, 0.0)
    return [(ids[i], float(scores[i])) for i in _best(scores, n) if scores[i] > 0]


def _best(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores, highest first."""
    if not len(scores):
        return np.zeros(0, dtype=np.int64)
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    return top[np.argsort(-scores[top])]


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
