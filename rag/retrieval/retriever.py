"""Retrieval: a question (+ filters) -> ranked ``Passage`` list.

The question is analysed (``query``: the outlets and dates it names, its clauses), a pool of
candidates gathered (``pool``), each described by the ranker's features (``features``) and
scored by the learned ranker (``ranker``); the best are chosen (``select``: each named outlet's
best passages guaranteed a slot, a cap per article) and returned as their passage spans.
docs/architecture.md walks through a search; docs/retrieval-log.md holds what was measured.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np

from rag.embeddings import Embedder
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.retrieval import pool as pools
from rag.retrieval.corpus import CorpusView
from rag.retrieval.features import ABSENT, Pool, features
from rag.retrieval.params import LEADERS, MAX_PER_ARTICLE
from rag.retrieval.query import QueryPlan, analyze
from rag.retrieval.ranker import Ranker
from rag.store import GENERATION_MAX_AGE, Store


class Retriever:
    """Searches one store; one per engine (its caches follow the corpus generation)."""

    def __init__(self, store: Store, embed: Embedder) -> None:
        self.store = store
        self.embed = embed
        self._embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-embed")
        self._view: CorpusView | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._embedder.shutdown(wait=True)

    @cached_property
    def ranker(self) -> Ranker:
        # Loaded at the first search, not with the engine: benchmarks/train_ranker.py builds the
        # pools for a model with new features while the shipped one still reads the old ones.
        return Ranker.load(self.store.settings)

    def view(self) -> CorpusView:
        """This generation's view of the corpus, read beside the lexical index searches use
        (rebuilt when a write, here or in another process, changed the corpus; meanwhile an
        index being rebuilt in the background keeps answering)."""
        index = self.store.lexical(wait=False)
        generation = self.store.generation(max_age=GENERATION_MAX_AGE)
        with self._lock:
            view = self._view
            if view is None or view.generation != generation or view.lexical is not index:
                view = self._view = CorpusView.read(self.store, generation, index)
            return view

    def prepare(self) -> None:
        """Build now what the first search would: this generation's view, its chunk and
        sentence matrices (after an ingest, rather than in the first question's time)."""
        view = self.view()
        matrix = view.vectors(self.store)
        if matrix is not None and self.store.settings.rank_embeddings:
            view.sentence_vectors(self.store, [], matrix.shape[1])

    def plan(self, query: str, filters: Filters | None = None) -> QueryPlan:
        """The outlets, dates and sub-queries the system reads from ``query``."""
        view = self.view()
        return analyze(query, view.outlets, filters, view.words)

    def pool(self, query: str, k: int, filters: Filters | None = None, plan: QueryPlan | None = None) -> Pool:
        """The candidates for a search that returns ``k`` passages, and what the ranker reads."""
        view = self.view()
        context = pools.Context(self.store, self.embed, self._embedder, view, view.lexical)
        return pools.build(
            context, query, k, filters, plan or analyze(query, view.outlets, filters, view.words)
        )

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
        pool = self.pool(query, k, filters, plan)
        score = self.ranker.score(features(pool), pool.documents)
        chosen = select(pool, score, k, max_per_article)
        # The passage score is the ranker's probability (the geometric mean of its two
        # estimates), so a reader can compare it across questions.
        confidence = np.exp(score)
        return self.store.passages([(pool.ids[i], round(float(confidence[i]), 6)) for i in chosen])


def select(pool: Pool, score: np.ndarray, k: int, max_per_article: int = MAX_PER_ARTICLE) -> list[int]:
    """The ``k`` candidates to return (rows of ``pool``), best first: each named outlet's best
    LEADERS come first, so a multi-hop question sees every source it names before the rest fill
    the slots, and at most ``max_per_article`` chunks of one article."""
    lead: set[int] = set()
    for j in range(1, pool.ranks.shape[1]):
        returned = np.flatnonzero(pool.ranks[:, j] < ABSENT)
        lead.update(int(i) for i in returned[np.argsort(-score[returned], kind="stable")][:LEADERS])
    order = sorted(range(len(pool)), key=lambda i: (i not in lead, -score[i]))
    taken: dict[str, int] = defaultdict(int)
    out: list[int] = []
    for i in order:
        doc = pool.documents[i]
        if taken[doc] < max_per_article:
            taken[doc] += 1
            out.append(i)
            if len(out) == k:
                break
    return out
