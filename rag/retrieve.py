"""Retrieval: a question (+ filters) -> ranked ``Passage`` list.

Hybrid search: dense vectors from Chroma and BM25 keywords (bm25s, over title + outlet + text),
fused by reciprocal rank, then diversified so one article cannot fill every slot.
"""

from __future__ import annotations

from collections import defaultdict

from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.store import Store

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks


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


class Retriever:
    def __init__(self, store: Store, embed: OnnxEmbedding, candidates: int = 50) -> None:
        self.store = store
        self.embed = embed
        self.candidates = candidates

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
        vector = self.embed.embed_batch([query])[0]
        dense = self.store.dense_search(vector, n, filters)
        sparse = self.store.bm25().search(query, n, filters)
        fused = rrf([dense, sparse])
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        passages = self.store.passages(ranked[: n * 2])
        return diversify(passages, k, max_per_article)
