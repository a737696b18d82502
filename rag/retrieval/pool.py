"""The candidate pool: a question -> the chunks worth ranking, and what was measured about each.

Keyword search (BM25 over title + outlet + text) runs on the whole question and once per outlet
the question names (filtered to it and its dates); the lists are fused by reciprocal rank, and
each clause's best-matching sentences add their chunks. Then, per candidate and clause: how
well its best sentence matches (BM25), where the clause's own keyword search ranks it, how
close its embedding and its closest sentence's are (MiniLM), its soft word match (static word
vectors) and the rare names it shares with the leading articles. ``rag.retrieval.features``
turns this into the ranker's columns. Why each step is there: docs/retrieval-log.md.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Embedder
from rag.models import Filters
from rag.retrieval.corpus import CorpusView
from rag.retrieval.features import ABSENT, Pool
from rag.retrieval.names import ChunkNames
from rag.retrieval.params import CANDIDATES, CLAUSE_DEPTH, RRF_K, SENTENCE_DEPTH
from rag.retrieval.query import Clause, QueryPlan, keyword_text
from rag.retrieval.words import SentenceWords
from rag.store import LexicalIndex, Store
from rag.text import content_words, keyword_tokens

Ranking = list[tuple[str, float]]


def rrf(rankings: list[Ranking], weights: list[float] | None = None) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = defaultdict(float)
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, (chunk_id, _score) in enumerate(ranking):
            fused[chunk_id] += w / (RRF_K + rank + 1)
    return fused


@dataclass
class Context:
    """What one search reads: the store, this generation's view of it and its lexical index."""

    store: Store
    embed: Embedder
    embedder: Executor  # one thread: the question's embedding runs beside the keyword work
    view: CorpusView
    lexical: LexicalIndex

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        return self.view.mask(self.lexical, filters)

    def matrix(self) -> np.ndarray | None:
        """The in-memory chunk vectors, when they follow this lexical index."""
        return self.view.vectors(self.store) if self.view.chunk_ids is self.lexical.chunk_ids else None


def build(ctx: Context, query: str, k: int, filters: Filters | None, plan: QueryPlan) -> Pool:
    """The candidates for a search that returns ``k`` passages, and what the ranker reads."""
    settings = ctx.store.settings
    sub_text = keyword_text(plan)
    searches = [(query, filters)] + [(sub_text, s.filters) for s in plan.subqueries]
    texts = list(dict.fromkeys(text for text, _ in searches))
    keyword_scores = {text: ctx.lexical.keyword_scores(keyword_tokens(text)) for text in texts}
    asked = plan.clauses or [Clause(sub_text or query)]
    parts = [c.text for c in asked]
    weight = settings.dense_weight
    # One embedding run for the clauses (a ranker feature) and, with a dense weight, the
    # searches. It is most of a search's time, so it runs beside the keyword work; the clauses
    # go in as their content words, since its cost grows with the tokens.
    short = [" ".join(content_words(part)) or part for part in parts] if settings.rank_embeddings else []
    embedding = ctx.embedder.submit(ctx.embed.embed_queries, short + (texts if weight else []))
    ranked = _keyword_lists(ctx, searches, keyword_scores, embedding, len(short), max(CANDIDATES, 4 * k), k)
    fused = rrf(ranked)
    # The clauses' own searches look inside every outlet the question names, at any date.
    named = sorted({s for sub in plan.subqueries for s in sub.filters.source or []})
    clause_mask = ctx.mask((filters or Filters()).model_copy(update={"source": named}) if named else filters)
    words = [keyword_tokens(part) for part in parts]
    best_sentences = [ctx.lexical.best_sentence_scores(w) for w in words]
    _add_sentence_candidates(ctx, fused, best_sentences, clause_mask)
    ids, rows, ranks = _candidates(ctx, fused, ranked)
    # A clause is credited to its outlet at any date, as the clause searches look.
    masks = [ctx.mask(Filters(source=s.filters.source)) for s in plan.subqueries]
    documents = [ctx.view.document_of[cid] for cid in ids]
    fused_scores = np.array([fused[cid] for cid in ids])
    at = {cid: i for i, cid in enumerate(ids)}
    extensions = ctx.lexical.extensions
    soft: SentenceWords = extensions["words"]
    names: ChunkNames = extensions["names"]
    matrix = ctx.matrix() if short else None  # the in-memory chunk vectors tell the dimensions
    stored = (
        ctx.view.sentence_vectors(ctx.store, ids, matrix.shape[1] if matrix is not None else None)
        if short
        else {}
    )
    pool = Pool(
        ids=ids,
        documents=documents,
        ranks=ranks,
        fused=fused_scores,
        question_bm25=keyword_scores[query][rows],
        sentences=_sentence_matches(best_sentences, rows),
        clause_ranks=_clause_ranks(ctx.lexical, words, clause_mask, at),
        dense=np.zeros((len(ids), 0)),
        sentence_dense=np.zeros((len(ids), 0)),
        credited=_credited(asked, masks, rows),
        words=soft.match([content_words(part) for part in parts], rows),
        names=names.shared(query, rows, documents, fused_scores),
    )
    # Only now are the clause vectors needed: all the work above ran beside the ONNX run.
    vectors = embedding.result()[: len(short)]
    pool.dense = _clause_similarity(ctx, ids, rows, vectors)
    pool.sentence_dense = _sentence_similarity(ids, stored, vectors)
    return pool


def _add_sentence_candidates(
    ctx: Context, fused: dict[str, float], best_sentences: list[np.ndarray | None], mask: np.ndarray | None
) -> None:
    """The chunks stating what one clause asks, though the whole question's words rank them
    low: candidates too, with no fused score."""
    for best in best_sentences:
        if best is None:  # no sentence index
            return
        for cid, _ in _top(ctx.lexical.chunk_ids, best[:-1], mask, SENTENCE_DEPTH):
            fused.setdefault(cid, 0.0)


def _keyword_lists(
    ctx: Context,
    searches: list[tuple[str, Filters | None]],
    keyword_scores: dict[str, np.ndarray],
    embedding: Future[np.ndarray],
    clauses: int,
    n: int,
    k: int,
) -> list[Ranking]:
    """Per search (the question, then each named outlet's), its fused ranking: keywords, and
    embeddings with a dense weight (or when keywords find fewer than ``k`` chunks)."""
    weight = ctx.store.settings.dense_weight
    texts = list(dict.fromkeys(text for text, _ in searches))
    by_text = dict(zip(texts, embedding.result()[clauses:], strict=True)) if weight else {}
    ranked: list[Ranking] = []
    for i, (text, where) in enumerate(searches):
        mask = ctx.mask(where)
        lists = [_top(ctx.lexical.chunk_ids, keyword_scores[text], mask, n)]
        if weight or (i == 0 and len(lists[0]) < k):
            # Without a dense weight, embeddings still rescue a question whose words the corpus
            # lacks (a paraphrase) rather than leave it with too few passages.
            vector = by_text[text] if weight else ctx.embed.embed_queries([text])[0]
            lists.append(_dense(ctx, vector, mask, where, n))
        ranked.append(sorted(rrf(lists, [1.0, weight or 1.0]).items(), key=lambda kv: -kv[1]))
    return ranked


def _candidates(
    ctx: Context, fused: dict[str, float], ranked: list[Ranking]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The candidates both the view and the lexical index hold: ids, lexical rows, and their
    rank in each list (ABSENT where it did not return them). Chroma is written before the
    catalog commits, and an ingest landing mid-search can leave the view a generation behind
    the index: a chunk one of them lacks is left out of this search."""
    held = [(cid, ctx.lexical.position(cid)) for cid in fused if cid in ctx.view.document_of]
    ids = [cid for cid, row in held if row >= 0]
    rows = np.array([row for _, row in held if row >= 0], dtype=np.int64)
    ranks = np.full((len(ids), len(ranked)), ABSENT, dtype=np.int64)
    at = {cid: i for i, cid in enumerate(ids)}
    for j, ranking in enumerate(ranked):
        for r, (cid, _) in enumerate(ranking):
            if cid in at:
                ranks[at[cid], j] = r
    return ids, rows, ranks


def _clause_similarity(ctx: Context, ids: list[str], rows: np.ndarray, clauses: np.ndarray) -> np.ndarray:
    """(len(ids), clauses): cosine of each candidate (at ``rows`` of the lexical index) with each
    clause's embedding."""
    if not len(clauses):
        return np.zeros((len(ids), 0))
    matrix = ctx.matrix()
    if matrix is not None:
        return matrix[rows] @ clauses.T
    # A Chroma server or a corpus past EXACT_SEARCH_LIMIT: fetch just the candidates' vectors.
    by_id = ctx.store.chunk_vectors(ids) if ids else {}
    out = np.zeros((len(ids), clauses.shape[1]), dtype=np.float32)  # zeros for any it lacks
    for i, cid in enumerate(ids):
        if cid in by_id:
            out[i] = by_id[cid]
    return out @ clauses.T


def _dense(
    ctx: Context, vector: np.ndarray, mask: np.ndarray | None, where: Filters | None, n: int
) -> Ranking:
    # The matrix follows the lexical index it was built beside; a newer one means an ingest
    # landed in between (or the corpus is past the in-memory limit), and Chroma answers. Exact
    # search over the matrix otherwise: a command need not import and open Chroma to answer a
    # question (most of `rag ask`'s time, docs/performance-log.md).
    matrix = ctx.matrix()
    if matrix is None:
        return ctx.store.dense_search(vector, n, where)
    if mask is None:
        scores = matrix @ vector
        return [(ctx.lexical.chunk_ids[j], float(scores[j])) for j in _best(scores, n)]
    # Only the rows the filter keeps: a named outlet is a small share of the corpus.
    rows = np.flatnonzero(mask)
    scores = matrix[rows] @ vector
    return [(ctx.lexical.chunk_ids[rows[j]], float(scores[j])) for j in _best(scores, n)]


def _sentence_matches(best_sentences: list[np.ndarray | None], rows: np.ndarray) -> np.ndarray:
    """(candidates, clauses): how well each candidate's best sentence matches each clause (from
    each clause's ``LexicalIndex.best_sentence_scores``, scaled so each clause's best is 1)."""
    out = np.zeros((len(rows), len(best_sentences)))
    for j, best in enumerate(best_sentences):
        if best is None:
            break
        top = best[rows].max() if len(rows) else 0.0
        if top > 0:
            out[:, j] = best[rows] / top
    return out


def _clause_ranks(
    lexical: LexicalIndex, clause_words: list[list[str]], mask: np.ndarray | None, at: dict[str, int]
) -> np.ndarray:
    """(candidates, clauses): each candidate's rank (``at`` maps id -> row) in each clause's own
    keyword search inside ``mask``, ABSENT past its top CLAUSE_DEPTH. A fact one part of the
    question asks about can rank low for the whole question's words."""
    out = np.full((len(at), len(clause_words)), ABSENT, dtype=np.int64)
    for j, words in enumerate(clause_words):
        scores = lexical.keyword_scores(words)
        for r, (cid, _) in enumerate(_top(lexical.chunk_ids, scores, mask, CLAUSE_DEPTH)):
            if cid in at:
                out[at[cid], j] = r
    return out


def _credited(parts: list[Clause], masks: list[np.ndarray | None], rows: np.ndarray) -> np.ndarray:
    """(len(rows), clauses): whether each candidate is from an outlet its clause names (``masks``:
    each sub-query's outlet, at any date). A column of a clause naming none is all False; when
    no clause names one, every candidate is held (the ranker then reads a plain question as one
    crediting every outlet, the case it was trained on)."""
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
    # einsum, not @: a product this size makes OpenBLAS start its threads, which then spin
    # beside the next search's ONNX run on the same cores.
    similarity = np.einsum("sd,cd->sc", np.concatenate(held).reshape(-1, dim).astype(np.float32), clauses)
    some = counts > 0
    out[some] = np.maximum.reduceat(similarity, (np.cumsum(counts) - counts)[some], axis=0)
    return out


def _top(ids: list[str], scores: np.ndarray, mask: np.ndarray | None, n: int) -> Ranking:
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
