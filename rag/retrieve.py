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
from dataclasses import dataclass

import numpy as np

from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.query import OutletIndex, QueryPlan, analyze, clauses, keyword_text
from rag.store import Store

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks
# Fusion weights, measured on the MultiHop-RAG dev split (benchmarks/retrieval.py).
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 1.0
SUBQUERY_WEIGHT = 1.0
USE_SUBQUERIES = True
LEADERS = 1
LEADER_ORDER = "sub"
CLEAN_SUB = False
CLAUSES = False

_WORD = re.compile(r"[a-z0-9]+")


def rrf(rankings: list[list[tuple[str, float]]], weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, (chunk_id, _score) in enumerate(ranking):
            fused[chunk_id] += w / (RRF_K + rank + 1)
    return fused


def diversify(passages: list[Passage], k: int, max_per_article: int) -> list[Passage]:
    """Keep rank order but allow at most ``max_per_article`` passages per article."""
    taken: dict[str, int] = defaultdict(int)
    out: list[Passage] = []
    for p in passages:
        if taken[p.document_id] < max_per_article:
            taken[p.document_id] += 1
            out.append(p)
            if len(out) == k:
                break
    return out


@dataclass
class Catalog:
    """What question analysis needs to know about the corpus, rebuilt when it changes."""

    generation: int
    outlets: OutletIndex
    words: frozenset[str]


class Retriever:
    def __init__(self, store: Store, embed: OnnxEmbedding, candidates: int = 50) -> None:
        self.store = store
        self.embed = embed
        self.candidates = candidates
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def catalog(self) -> Catalog:
        gen = self.store.generation()
        with self._lock:
            if self._catalog is None or self._catalog.generation != gen:
                words: set[str] = set()
                for (text,) in self.store.db.execute("SELECT title || ' ' || text FROM articles"):
                    words.update(_WORD.findall(text.lower()))
                self._catalog = Catalog(gen, OutletIndex(self.store.sources()), frozenset(words))
            return self._catalog

    def plan(self, query: str, filters: Filters | None = None) -> QueryPlan:
        """The outlets, dates and sub-queries the system reads from ``query``."""
        catalog = self.catalog()
        return analyze(query, catalog.outlets, filters, catalog.words)

    def _ranked(self, text: str, vector: np.ndarray, n: int, filters: Filters | None) -> list[list[tuple[str, float]]]:
        return [self.store.dense_search(vector, n, filters), self.store.bm25().search(text, n, filters)]

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
        plan = self.plan(query, filters) if USE_SUBQUERIES else QueryPlan(query)
        subs = [(keyword_text(plan, s.text) if CLEAN_SUB else s.text, s.filters) for s in plan.subqueries]
        if CLAUSES:
            named = sorted({src for m in plan.mentions for src in m.sources})
            scope = Filters(
                source=named or (filters.source if filters else None),
                since=filters.since if filters else None,
                until=filters.until if filters else None,
                category=filters.category if filters else None,
            )
            subs += [(c, scope) for c in clauses(keyword_text(plan, query))]
        texts = [query] + [t for t, _ in subs]
        unique = list(dict.fromkeys(texts))
        vectors = dict(zip(unique, self.embed.embed_batch(unique), strict=True))
        lists = self._ranked(query, vectors[query], n, filters)
        weights = [DENSE_WEIGHT, BM25_WEIGHT]
        sub_lists = []
        for text, sub_filters in subs:
            ranked = self._ranked(text, vectors[text], n, sub_filters)
            sub_lists.append(ranked)
            lists.extend(ranked)
            weights.extend([SUBQUERY_WEIGHT * DENSE_WEIGHT, SUBQUERY_WEIGHT * BM25_WEIGHT])
        fused = rrf(lists, weights)
        order = [cid for cid, _ in sorted(fused.items(), key=lambda kv: -kv[1])]
        if LEADERS:
            # Each named outlet's best passages first, so a multi-hop question sees every source.
            leaders: list[str] = []
            for depth in range(LEADERS):
                for ranked in sub_lists:
                    best = sorted(rrf(ranked, [DENSE_WEIGHT, BM25_WEIGHT]).items(), key=lambda kv: -kv[1])
                    if len(best) > depth:
                        leaders.append(best[depth][0])
            lead = list(dict.fromkeys(leaders))
            if LEADER_ORDER == "fused":
                lead.sort(key=lambda c: -fused[c])
            order = lead + [c for c in order if c not in set(lead)]
        passages = self.store.passages([(cid, fused[cid]) for cid in order[: n * 2]])
        return diversify(passages, k, max_per_article)
