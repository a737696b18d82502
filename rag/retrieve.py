"""Retrieval: a question (+ filters) -> ranked ``Passage`` list.

BM25 keywords (bm25s, over title + outlet + text), optionally fused with embedding similarity
(``RAG_DENSE_WEIGHT``; off by default: the packaged MiniLM lowered MultiHop-RAG MRR@10 at every
weight tried). The question is first analysed (``rag.query``): each outlet it names (with the
date it gives for that outlet's report) becomes a sub-query restricted to that outlet, so every
article a multi-hop question spans gets its own search. Rankings are fused by reciprocal rank
into a pool of candidates, joined by the chunks whose best sentence matches a clause of the
question best (the whole question's words can rank the one stating that part low). A learned
ranker (``rag.rank``: linear models boosted by trees, for the candidate, its article and the
candidate within its article) scores them from what was measured about each: its ranks, how
well its best sentence matches each clause of the question (a chunk matching the whole
question loosely is not the one holding the fact a part of it asks about), its rank in each
clause's own keyword search, how close its embedding and its closest sentence's are to each
clause's, and how close its best sentence's words are to each clause's (``rag.words``: static
word vectors, so a synonym counts). Each named outlet's best passages are guaranteed a slot,
and one article cannot fill every slot.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import Stemmer

from rag.embeddings import OnnxEmbedding
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters, Passage
from rag.query import Clause, OutletIndex, QueryPlan, analyze, content_words, keyword_text, keyword_tokens
from rag.rank import ABSENT, Pool, Ranker, features
from rag.store import BM25Index, Store

EXACT_SEARCH_LIMIT = 300_000  # chunks; ~460 MB of float32 vectors at 384 dimensions
SENTENCE_CACHE = 10_000  # chunks whose sentence vectors a catalog keeps: ~7 KB each, float16
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very top ranks
# Passages per named outlet guaranteed a slot. Measured on the MultiHop-RAG dev split: with plain
# BM25, 2 beat 0, 1 and 3; with the learned ranker and the soft word match, 3 found +0.004
# evidence recall on articles no training question cites (positive on all 8 fold assignments;
# +0.001 cross-validated by question), and 4 no more than 3.
LEADERS = 3
# At most this many passages of one article (measured on the MultiHop-RAG dev split: with the
# learned ranker, 5 found more evidence than 4 in each of three cross-validation runs, +0.005 to
# +0.008 evidence recall; 6 and 7 no more than 5).
MAX_PER_ARTICLE = 5
# How deep each clause's own search is read for the ranker. Measured on the MultiHop-RAG dev
# split (paired over 6 cross-validation seeds): the clause-search features found +0.009 more
# evidence (t = 3.0; +0.008 without embeddings); adding the chunks these searches find to the
# pool did not help (again beside the sentence candidates below: +0.003 by question, -0.004 on
# articles no training question cites).
CLAUSE_DEPTH = 20
# Each clause's best chunks by their best sentence's BM25 (inside the outlets the question names)
# join the candidates. Measured on the MultiHop-RAG dev split, the ranker refitted: gold facts in
# the pool 91.5% -> 93.7%, evidence recall +0.005 by question and +0.003 on articles no training
# question cites (+0.002 / +0.005 over 6 splits / 8 fold assignments); 10: +0.002 / +0.001;
# 30: +0.006 / -0.001; no measurable change in a search's time.
SENTENCE_DEPTH = 20

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
    _sentences: dict[str, np.ndarray] = field(default_factory=dict)

    def sentence_vectors(self, store: Store, ids: list[str]) -> dict[str, np.ndarray]:
        """The sentence vectors of the chunks ``ids`` (those that have them), kept once read:
        reading a search's candidates from SQLite took ~1.5 ms of it, and every chunk of the
        609 benchmark articles takes ~50 MB. Bounded by SENTENCE_CACHE chunks."""
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
        self._embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-embed")
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._embedder.shutdown(wait=True)

    @cached_property
    def ranker(self) -> Ranker:
        # Loaded at the first search, not with the engine: benchmarks/train_ranker.py builds the
        # pools for a model with new features while the shipped one still reads the old ones.
        return Ranker.load(embeddings=self.store.settings.rank_embeddings)

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
        if catalog.chunk_ids is not bm25.chunk_ids:
            # An ingest landed between this search's reads of the catalog and of the keyword
            # index: the catalog's masks fit another index's chunks, so this one gets its own.
            return bm25.mask(filters)
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
        pool = self.pool(query, k, filters, plan)
        score = self.ranker.score(features(pool, RRF_K), pool.documents)
        chosen = select(pool, score, k, max_per_article)
        # The passage score is the ranker's probability (rag.rank.Ranker: the geometric mean of
        # its two estimates), so a reader can compare it across questions.
        confidence = np.exp(score)
        return self.store.passages([(pool.ids[i], round(float(confidence[i]), 6)) for i in chosen])

    def pool(self, query: str, k: int, filters: Filters | None = None, plan: QueryPlan | None = None) -> Pool:
        """The candidates for a search that returns ``k`` passages, and what the ranker reads."""
        n = max(self.candidates, 4 * k)
        catalog = self.catalog()
        bm25 = self.store.bm25()
        plan = plan or analyze(query, catalog.outlets, filters, catalog.words)
        sub_text = keyword_text(plan)
        searches = [(query, filters)] + [(sub_text, s.filters) for s in plan.subqueries]
        texts = list(dict.fromkeys(text for text, _ in searches))
        keyword_scores = {text: bm25.keyword_scores(keyword_tokens(text, self.stemmer)) for text in texts}
        asked = plan.clauses or [Clause(sub_text or query)]
        parts = [c.text for c in asked]
        weight = self.store.settings.dense_weight
        # One embedding run for the clauses (a ranker feature) and, with dense weight, the
        # searches. It is most of a search's time, so it runs beside the keyword searches, and
        # the clauses go in as their content words: its cost grows with the tokens (~0.3 ms
        # each here), and dropping stop words cost nothing measurable on MultiHop-RAG.
        ranked_by_embeddings = self.store.settings.rank_embeddings
        short = [" ".join(content_words(part)) or part for part in parts] if ranked_by_embeddings else []
        embedding = self._embedder.submit(self.embed.embed_queries, short + (texts if weight else []))
        by_text = dict(zip(texts, embedding.result()[len(short) :], strict=True)) if weight else {}
        ranked: list[list[tuple[str, float]]] = []  # per search: its fused ranking
        for i, (text, where) in enumerate(searches):
            mask = self._mask(bm25, catalog, where)
            lists = [_top(bm25.chunk_ids, keyword_scores[text], mask, n)]
            if weight or (i == 0 and len(lists[0]) < k):
                # Without dense weight, embeddings still rescue a question whose words the
                # corpus lacks (a paraphrase) rather than leave it with too few passages.
                vector = by_text[text] if weight else self.embed.embed_queries([text])[0]
                lists.append(self._dense(catalog, bm25, vector, mask, where, n))
            ranked.append(sorted(rrf(lists, [1.0, weight or 1.0]).items(), key=lambda kv: -kv[1]))
        fused = rrf(ranked)
        # The clauses' own searches look inside every outlet the question names, at any date (the
        # outlets' dates on them found less evidence: +0.003 against +0.009).
        named = sorted({s for sub in plan.subqueries for s in sub.filters.source or []})
        clause_where = (filters or Filters()).model_copy(update={"source": named}) if named else filters
        clause_mask = self._mask(bm25, catalog, clause_where)
        words = [keyword_tokens(part, self.stemmer) for part in parts]  # each clause's, once
        best_sentences = [bm25.best_sentence_scores(w) for w in words]
        for best in best_sentences:
            if best is None:  # no sentence index
                break
            # The chunks stating what one clause asks, though the whole question's words rank
            # them low: candidates too, with no fused score.
            for cid, _ in _top(bm25.chunk_ids, best[:-1], clause_mask, SENTENCE_DEPTH):
                fused.setdefault(cid, 0.0)
        # Chroma is written before SQLite commits, so it can name a chunk no index holds yet; and
        # an ingest or delete landing mid-search can leave the catalog read above a generation
        # behind the keyword index (a chunk one of them lacks is left out of this search).
        held = [(cid, bm25.position(cid)) for cid in fused if cid in catalog.document_of]
        ids = [cid for cid, row in held if row >= 0]
        rows = np.array([row for _, row in held if row >= 0], dtype=np.int64)
        ranks = np.full((len(ids), len(ranked)), ABSENT, dtype=np.int64)
        at = {cid: i for i, cid in enumerate(ids)}
        for j, ranking in enumerate(ranked):
            for r, (cid, _) in enumerate(ranking):
                if cid in at:
                    ranks[at[cid], j] = r
        stored = catalog.sentence_vectors(self.store, ids) if short else {}
        # A clause is credited to its outlet at any date, as the clause searches look (the
        # outlet's date too: -0.003 evidence recall).
        masks = [self._mask(bm25, catalog, Filters(source=s.filters.source)) for s in plan.subqueries]
        documents = [catalog.document_of[cid] for cid in ids]
        fused_scores = np.array([fused[cid] for cid in ids])
        sentences = _sentence_matches(best_sentences, rows)
        clause_ranks = _clause_ranks(bm25, words, clause_mask, at)
        credited = _credited(asked, masks, rows)
        soft = bm25.words.match([content_words(part) for part in parts], rows)
        names = bm25.names.shared(query, rows, documents, fused_scores)
        # Only now are the clause vectors needed, so without a dense weight (the default) all the
        # work since the embedding was submitted runs beside the ONNX run.
        # Paired over 600 dev searches: -1.2 ms a search, identical results (one ONNX thread
        # instead, leaving a core to this work, was 6 ms slower; so was ONNX without spinning).
        vectors = embedding.result()[: len(short)]
        return Pool(
            ids=ids,
            documents=documents,
            ranks=ranks,
            fused=fused_scores,
            question_bm25=keyword_scores[query][rows],
            sentences=sentences,
            clause_ranks=clause_ranks,
            dense=self._clause_similarity(catalog, bm25, ids, rows, vectors),
            sentence_dense=_sentence_similarity(ids, stored, vectors),
            credited=credited,
            words=soft,
            names=names,
        )

    def _clause_similarity(
        self, catalog: Catalog, bm25: BM25Index, ids: list[str], rows: np.ndarray, clauses: np.ndarray
    ) -> np.ndarray:
        """(len(ids), clauses): cosine of each candidate (``ids``, at ``rows`` of ``bm25``) with
        each clause's embedding."""
        if not len(clauses):
            return np.zeros((len(ids), 0))
        matrix = catalog.vectors(self.store) if catalog.chunk_ids is bm25.chunk_ids else None
        if matrix is not None:
            return matrix[rows] @ clauses.T
        # A Chroma server or a corpus past EXACT_SEARCH_LIMIT: fetch just the candidates' vectors.
        found = self.store.collection.get(ids=ids, include=["embeddings"]) if ids else {"ids": []}
        by_id = dict(zip(found["ids"], found.get("embeddings", []), strict=True))
        out = np.zeros((len(ids), clauses.shape[1]), dtype=np.float32)  # zeros for any it lacks
        for i, cid in enumerate(ids):
            if cid in by_id:
                out[i] = by_id[cid]
        return out @ clauses.T

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


def _sentence_matches(best_sentences: list[np.ndarray | None], rows: np.ndarray) -> np.ndarray:
    """(candidates, clauses): how well each candidate's best sentence matches each clause (from
    each clause's ``BM25Index.best_sentence_scores``, scaled so each clause's best candidate is 1)."""
    out = np.zeros((len(rows), len(best_sentences)))
    for j, best in enumerate(best_sentences):
        if best is None:
            break
        top = best[rows].max() if len(rows) else 0.0
        if top > 0:
            out[:, j] = best[rows] / top
    return out


def _clause_ranks(
    bm25: BM25Index, clause_words: list[list[str]], mask: np.ndarray | None, at: dict[str, int]
) -> np.ndarray:
    """(candidates, clauses): each candidate's rank (``at`` maps id -> row) in each clause's own
    keyword search inside ``mask``, ABSENT past its top CLAUSE_DEPTH. A fact one part of the
    question asks about can rank low for the whole question's words."""
    out = np.full((len(at), len(clause_words)), ABSENT, dtype=np.int64)
    for j, words in enumerate(clause_words):
        scores = bm25.keyword_scores(words)
        for r, (cid, _) in enumerate(_top(bm25.chunk_ids, scores, mask, CLAUSE_DEPTH)):
            if cid in at:
                out[at[cid], j] = r
    return out


def _credited(parts: list[Clause], masks: list[np.ndarray | None], rows: np.ndarray) -> np.ndarray:
    """(len(rows), clauses): whether each candidate is from an outlet its clause names (``masks``:
    each sub-query's outlet, at any date). A column of a clause naming none is
    all False; when no clause names one, every candidate is held (the ranker then reads a plain
    question as one crediting every outlet, the case it was trained on, not as an unseen one).
    """
    if not any(part.subqueries for part in parts):
        return np.ones((len(rows), len(parts)), dtype=bool)
    out = np.zeros((len(rows), len(parts)), dtype=bool)
    for k, part in enumerate(parts):
        for j in part.subqueries:
            mask = masks[j]
            out[:, k] |= True if mask is None else mask[rows]
    return out


def _sentence_similarity(ids: list[str], stored: dict[str, np.ndarray], clauses: np.ndarray) -> np.ndarray:
    """(len(ids), clauses): the highest cosine between one of each candidate's sentences (its
    ``stored`` float16 vectors, flat) and each clause's embedding; 0 for a chunk without any."""
    out = np.zeros((len(ids), len(clauses)))
    if not len(clauses):
        return out
    dim = clauses.shape[1]
    held = [stored.get(cid, np.zeros(0, dtype=np.float16)) for cid in ids]
    counts = np.array([len(v) // dim for v in held])
    if not counts.sum():
        return out
    # einsum, not @: a matrix this size makes OpenBLAS start its threads, which then spin
    # beside the next search's ONNX run on the same 2 cores (its embedding went from ~16 to ~33 ms).
    similarity = np.einsum("sd,cd->sc", np.concatenate(held).reshape(-1, dim).astype(np.float32), clauses)
    some = counts > 0
    out[some] = np.maximum.reduceat(similarity, (np.cumsum(counts) - counts)[some], axis=0)
    return out


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
