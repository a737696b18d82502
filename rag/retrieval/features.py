"""Ranking features: what retrieval measured about each candidate of a question -> one row of
numbers per candidate, the matrix the ranker (``rag.retrieval.ranker``) scores.

Inputs: a ``Pool`` (one question's candidates, the ranked lists they came from, how well their
best sentence matches each clause of the question, where each clause's own keyword search ranks
them, how close their embedding and their closest sentence's are to each clause's, their soft
word match and the rare names they share with the leading articles). Outputs: ``features`` (the
candidate model's columns, in ``FEATURES`` order), and the article and within-article models'
matrices (``article_features``, ``within_features``).

The features are about the candidate and the question's shape, never its words, so the model
cannot memorise questions; nor do they say where a chunk sits in its article, which let the trees
learn where this benchmark's evidence sits (docs/retrieval-log.md, "What the trees learn").
A new signal is a column here (with its computation in ``pool.py``), then a refit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.retrieval.params import CLAUSE_TOP, RRF_K

ABSENT = np.iinfo(np.int32).max  # the rank of a candidate a list did not return

EMBEDDING_FEATURES = (
    "dense_best",
    "dense_gap",
    "dense_mean",
    "sentence_dense_best",
    "sentence_dense_second",
    "sentence_dense_gap",
    "sentence_dense_mean",
    "credited_dense",
    "credited_dense_gap",
    "standing_dense",
    "margin_dense",
)
FEATURES = (
    "fused",  # reciprocal-rank fusion of all lists, x (RRF_K + 1) so a list's top rank is ~1
    "best_rank",  # 1 / (1 + the candidate's best rank in any list)
    "named_outlet",  # returned by the search of an outlet the question names
    "question_bm25",  # the whole question's BM25 score, over the best candidate's
    "clause_best",  # the best clause-to-sentence match (each clause's best candidate is 1)
    "clause_second",  # the second-best clause's match: a chunk answering two parts at once
    "clause_mean",
    "clause_search_best",  # 1 / (1 + its best rank in a clause's own search)
    "clause_search_top",  # how many clauses' own searches rank it in their top CLAUSE_TOP
    "dense_best",  # the highest cosine between the chunk's and a clause's embedding
    "dense_gap",  # ... minus that clause's best candidate's (0 for the best)
    "dense_mean",
    "sentence_dense_best",  # the highest cosine between one of its sentences and a clause
    "sentence_dense_second",  # ... the second clause's: a chunk stating two parts at once
    "sentence_dense_gap",  # ... minus that clause's best candidate's
    "sentence_dense_mean",
    # Against the clauses the question credits to the candidate's outlet, among the
    # candidates those hold ("..., according to Fortune": Fortune's chunks); -1 when none is:
    "credited_clause",  # its best clause match, that clause's best such candidate being 1
    "credited_search",  # 1 / (1 + its rank among them in that clause's own search); 0 unranked
    "credited_dense",  # its best sentence cosine with such a clause
    "credited_dense_gap",  # ... minus that clause's best such candidate's
    # 1 / (1 + its place among the candidates a clause is credited to, all of them when it
    # names no outlet; ties share the better place), at its best-placed clause, by each matcher:
    "standing_sentence",  # its best sentence's BM25
    "standing_dense",  # its closest sentence's MiniLM cosine
    "standing_words",  # the soft word match
    # Its match minus the best other such candidate's, at its best clause: positive only for a
    # clause's best, by how far it leads; -1 where no clause has two such candidates:
    "margin_sentence",
    "margin_dense",
    "margin_words",
    # Soft word match of its best sentence with each clause (rag.words: each clause word's
    # closest word in the sentence by static word vectors, idf-weighted):
    "words_best",
    "words_mean",
    "words_gap_mean",  # its gaps to each clause's best candidate, averaged
    "words_gap_worst",  # ... the largest (its worst-matched clause)
    # Rare names shared with the best candidate of each of the leading other articles
    # (rag.names), each over the pool's best:
    "names_best",  # with the one it shares most with
    "names_leads",  # how many leading articles it shares one with
    "names_sum",
    "article_candidates",  # log of how many of its article's chunks are candidates
    "article_fused",  # the best fused score among its article's candidates
    "article_clause_best",  # the best clause match among its article's candidates
    "outlets_named",  # how many outlets the question names (its shape: trees split on it)
    "clauses",  # how many clauses the question has
)


@dataclass
class Pool:
    """One question's candidates (rows) and what retrieval measured about them."""

    ids: list[str]
    documents: list[str]  # each candidate's article id
    ranks: np.ndarray  # (n, lists): rank in each list (the question's, then each outlet's); ABSENT
    fused: np.ndarray  # (n,) reciprocal-rank fusion of the lists
    question_bm25: np.ndarray  # (n,)
    sentences: np.ndarray  # (n, clauses): best-sentence BM25 per clause, each clause's best = 1
    clause_ranks: np.ndarray  # (n, clauses): rank in each clause's own keyword search; ABSENT
    dense: np.ndarray  # (n, clauses): cosine of chunk and clause embeddings; (n, 0) without them
    sentence_dense: np.ndarray  # (n, clauses): best cosine of its sentences' and the clause's
    credited: np.ndarray  # (n, clauses): from the outlet the clause is credited to
    words: np.ndarray  # (n, clauses): soft word match of its best sentence with each clause
    names: np.ndarray  # (n, leads): idf of the rare names it shares with each leading article

    def __len__(self) -> int:
        return len(self.ids)


def features(pool: Pool, rrf_k: int = RRF_K) -> np.ndarray:
    """The (n, len(FEATURES)) matrix the ranker scores, columns in FEATURES order."""
    n = len(pool)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    fused = pool.fused * (rrf_k + 1)
    best, second, _, clause_mean = _per_clause(pool.sentences)
    dense_best, _, dense_gap, dense_mean = _per_clause(pool.dense)
    sentence_best, sentence_second, sentence_gap, sentence_mean = _per_clause(pool.sentence_dense)
    top_bm25 = pool.question_bm25.max()
    article_top, _, article_count, article = _by_article(np.column_stack([fused, best]), pool.documents)
    article_fused, article_best = article_top[article].T
    credited = _credited_features(pool)
    (standing_sentence, margin_sentence), (standing_dense, margin_dense), (standing_words, margin_words) = (
        _standing(pool, m) for m in (pool.sentences, pool.sentence_dense, pool.words)
    )
    words_gap = pool.words - pool.words.max(axis=0, keepdims=True)
    names = _shared_names(pool.names)
    columns = {
        "fused": fused,
        "best_rank": 1.0 / (1.0 + pool.ranks.min(axis=1)),
        "named_outlet": (pool.ranks[:, 1:] < ABSENT).any(axis=1),
        "question_bm25": pool.question_bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n),
        "clause_best": best,
        "clause_second": second,
        "clause_mean": clause_mean,
        "clause_search_best": 1.0 / (1.0 + pool.clause_ranks.min(axis=1, initial=ABSENT)),
        "clause_search_top": (pool.clause_ranks < CLAUSE_TOP).sum(axis=1),
        "dense_best": dense_best,
        "dense_gap": dense_gap,
        "dense_mean": dense_mean,
        "sentence_dense_best": sentence_best,
        "sentence_dense_second": sentence_second,
        "sentence_dense_gap": sentence_gap,
        "sentence_dense_mean": sentence_mean,
        "credited_clause": credited[0],
        "credited_search": credited[1],
        "credited_dense": credited[2],
        "credited_dense_gap": credited[3],
        "standing_sentence": standing_sentence,
        "standing_dense": standing_dense,
        "standing_words": standing_words,
        "margin_sentence": margin_sentence,
        "margin_dense": margin_dense,
        "margin_words": margin_words,
        "words_best": pool.words.max(axis=1),
        "words_mean": pool.words.mean(axis=1),
        "words_gap_mean": words_gap.mean(axis=1),
        "words_gap_worst": words_gap.min(axis=1),
        "names_best": names[:, 0],
        "names_leads": names[:, 1],
        "names_sum": names[:, 2],
        "article_candidates": np.log(article_count[article]),
        "article_fused": article_fused,
        "article_clause_best": article_best,
        "outlets_named": np.full(n, pool.ranks.shape[1] - 1),
        "clauses": np.full(n, pool.sentences.shape[1]),
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES])


def _shared_names(shares: np.ndarray) -> np.ndarray:
    """(n, 3): the rare-name share with the candidate's best-sharing leading article, how many
    leading articles it shares one with, and the sum; each over the pool's best."""
    names = np.column_stack([shares.max(axis=1, initial=0.0), (shares > 0).sum(axis=1), shares.sum(axis=1)])
    names /= np.maximum(names.max(axis=0, keepdims=True), 1e-12)
    return names


def _credited_features(pool: Pool) -> np.ndarray:
    """(4, n): the ``credited_*`` features. A multi-hop question credits each part to one outlet,
    so a candidate is compared only with the other candidates of that outlet: the best of them
    for that part is likely its evidence even when another outlet's chunk matches it better."""
    n = len(pool)
    out = np.full((4, n), -1.0)
    for k in range(pool.credited.shape[1]):
        held = pool.credited[:, k]
        if not held.any():
            continue
        top = pool.sentences[held, k].max()
        out[0] = np.maximum(out[0], np.where(held, pool.sentences[:, k] / top if top > 0 else 0.0, -1.0))
        ranks = np.where(held, pool.clause_ranks[:, k], ABSENT)
        among = np.empty(n)  # its rank among the outlet's candidates in that clause's search
        among[np.argsort(ranks, kind="stable")] = np.arange(n)
        out[1] = np.maximum(out[1], np.where(held, np.where(ranks < ABSENT, 1.0 / (1.0 + among), 0.0), -1.0))
        if pool.sentence_dense.shape[1]:
            dense = pool.sentence_dense[:, k]
            out[2] = np.maximum(out[2], np.where(held, dense, -1.0))
            out[3] = np.maximum(out[3], np.where(held, dense - dense[held].max(), -1.0))
    if not pool.sentence_dense.shape[1]:
        out[2:] = 0.0  # as the keywords-only model was trained (benchmarks/train_ranker.py)
    return out


def _standing(pool: Pool, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (n,) arrays: 1 / (1 + the candidate's best place over the clauses by ``matrix``
    (candidates, clauses)), among the candidates each clause is credited to, or all when it
    names no outlet (0 where no clause is); and its largest margin over the best other of them
    (-1 where no clause has two). Both 0 without columns (a search without embeddings).

    The match values say how close a candidate comes; its place says whether anything comes
    closer. A clause's evidence is usually the best or nearly the best match within its outlet,
    even where that match is weak. The margin says how clearly a clause's best leads.
    (docs/retrieval-log.md, "Standing".)
    """
    n = len(matrix)
    if not matrix.shape[1]:
        return np.zeros(n), np.zeros(n)
    place, margin = np.full(n, np.inf), np.full(n, -1.0)
    for k in range(matrix.shape[1]):
        held = pool.credited[:, k] if pool.credited[:, k].any() else np.ones(n, dtype=bool)
        rivals = np.sort(matrix[held, k])
        value = matrix[:, k]
        above = len(rivals) - np.searchsorted(rivals, value, side="right")
        place = np.where(held, np.minimum(place, above), place)
        if len(rivals) > 1:
            best_other = np.where(value >= rivals[-1], rivals[-2], rivals[-1])
            margin = np.where(held, np.maximum(margin, value - best_other), margin)
    return 1.0 / (1.0 + place), margin


def _per_clause(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate (row) of a (candidates, clauses) measure: its best clause, its second-best,
    the best clause's gap to that clause's best candidate (0 for the best), and the mean. All 0
    when there are no columns (a search without embeddings)."""
    n = len(matrix)
    if not matrix.shape[1]:
        return np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    ordered = -np.sort(-matrix, axis=1)
    second = ordered[:, 1] if matrix.shape[1] > 1 else np.zeros(n)
    gap = (matrix - matrix.max(axis=0, keepdims=True)).max(axis=1)
    return ordered[:, 0], second, gap, matrix.mean(axis=1)


ARTICLE_WIDTH = 2 * len(FEATURES) + 1
WITHIN_WIDTH = 2 * len(FEATURES)


def article_features(matrix: np.ndarray, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """What the article model reads: per article among the candidates, each feature's best and
    mean over its candidates and how many there are (``ARTICLE_WIDTH`` columns); and each
    candidate's article, as a row of that matrix."""
    best, mean, counts, article = _by_article(matrix, documents)
    return np.hstack([best, mean, counts[:, None]]), article


def _by_article(values: np.ndarray, documents: list[str]) -> tuple[np.ndarray, ...]:
    """Per article among the candidates (rows of ``values``, ``documents`` their articles):
    each column's best and mean over its candidates, how many there are; and each candidate's
    article, as an index into those."""
    if len(documents) == 0:
        width = values.shape[1]
        return np.zeros((0, width)), np.zeros((0, width)), np.zeros(0), np.zeros(0, dtype=np.intp)
    _, article = np.unique(np.asarray(documents), return_inverse=True)
    order = np.argsort(article, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(article[order]) != 0])
    grouped = values[order]
    counts = np.diff(np.r_[starts, len(order)]).astype(np.float64)
    best = np.maximum.reduceat(grouped, starts, axis=0)
    mean = np.add.reduceat(grouped, starts, axis=0) / counts[:, None]
    return best, mean, counts, article


def within_features(matrix: np.ndarray, articles: np.ndarray, article: np.ndarray) -> np.ndarray:
    """What the within-article model reads: each candidate's features, and each minus the best
    among its article's candidates (``article_features``'s first columns)."""
    return np.hstack([matrix, matrix - articles[article, : matrix.shape[1]]])
