"""Learned scoring of retrieval candidates: what retrieval measured about each candidate -> one
score, the log-probability that the candidate holds a fact the question asks about.

Inputs: a ``Pool`` (the candidates of one question, the ranked lists they came from, how well
their best sentence matches each clause of the question, where each clause's own keyword search
ranks them, and how close their embedding and their closest sentence's are to each clause's).
Outputs: a feature matrix (``features``) and a score per candidate (``Ranker.score``).

The ranker is three models, each a logistic regression boosted by trees fitted to what it leaves
unexplained: one scores the candidate, one its article, one the candidate against the rest of
its article (``Ranker``). They are fitted by ``benchmarks/train_ranker.py`` (scikit-learn,
LightGBM) on the MultiHop-RAG dev split and shipped in ``rag/ranker.json``: one set with the
embedding features and one without them, for ``RAG_RANK_EMBEDDINGS=false`` (no query
embedding, faster searches). The features are about the
candidate and the question's shape, never its words, so the model cannot memorise questions.
Nor do they say where a chunk sits in its article: given that, the trees learned where the dev
questions' evidence sits in the benchmark's own articles (a third of its facts serve several
questions), worth +0.03 evidence recall on new questions about the same articles and nothing on
articles no training question cites. The script prints both: cross-validation by question, and
models fitted only on questions that share no evidence article with the ones they score.
Retraining for another corpus is that script with another queries file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("ranker.json")
ABSENT = np.iinfo(np.int32).max  # the rank of a candidate a list did not return
CLAUSE_TOP = 5

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


def features(pool: Pool, rrf_k: int) -> np.ndarray:
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
    shares = pool.names
    names = np.column_stack([shares.max(axis=1, initial=0.0), (shares > 0).sum(axis=1), shares.sum(axis=1)])
    names /= np.maximum(names.max(axis=0, keepdims=True), 1e-12)
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
    even where that match is weak. Measured on the MultiHop-RAG dev split, the ranker refitted:
    +0.005 evidence recall cross-validated by question and +0.006 on articles no training
    question cites; with two more features (the best of the three places, and how many of them
    are in a clause's top 3) +0.009 / +0.006, ahead on all 6 splits and 8 fold assignments, and
    the two added nothing over the three (3 splits each). Placing only credited clauses lost
    (+0.000 / +0.002 against the three's +0.005 / +0.009 on the same splits).

    The margin says how clearly a clause's best leads. Beside the standings: +0.007 by question
    (ahead on all 6 splits) and +0.003 on unseen articles (ahead on 7 of 8 fold assignments,
    level on one), MRR +0.007 / +0.011.
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


class Model:
    """A linear model boosted by regression trees: ``score = baseline + row · linear + sum of
    the leaf each tree sends the row to`` (log-odds).

    The trees are fitted to what the linear model leaves unexplained: a linear model carries
    over to articles no training question cites better than trees alone, which learn these
    very articles (``benchmarks/train_ranker.py``).

    Evaluated with numpy rather than by unpickling scikit-learn: serving needs a dozen lines of
    array indexing, not scikit-learn, LightGBM and SciPy (~100 MB) in every install, and JSON
    weights cannot run code when loaded. ``benchmarks/train_ranker.py`` checks that these scores
    equal the fitted models' before it writes them.
    """

    def __init__(self, trees: list[dict[str, Any]], baseline: float, linear: list[float]) -> None:
        # LightGBM's trees, exported by benchmarks/train_ranker.py: node lists ``feature``,
        # ``threshold`` (a row goes left when its value is at most it), ``left``, ``right``,
        # ``value`` and the tree's ``depth``; a leaf points to itself, so a row that reached its
        # leaf stays there while deeper trees finish. All in one node table, deepest first:
        # each step down walks only the trees that go deeper (the shipped trees average 8
        # levels, the deepest 13).
        self.trees = trees
        trees = sorted(trees, key=lambda t: -int(t["depth"]))
        starts = np.cumsum([0] + [len(t["feature"]) for t in trees])

        def column(key: str, dtype: type, offset: bool = False) -> np.ndarray:
            parts: list[np.ndarray] = [
                np.asarray(t[key], dtype=dtype) + (start if offset else 0)
                for t, start in zip(trees, starts, strict=False)
            ]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        self.feature = column("feature", np.intp)
        self.threshold = column("threshold", np.float64)
        # A node's children side by side, so a step is one lookup: 2 * node + (goes right).
        # No feature is NaN (it would go left here, right in LightGBM).
        children = [column("left", np.intp, offset=True), column("right", np.intp, offset=True)]
        self.children = np.stack(children, axis=1).ravel()
        self.value = column("value", np.float64)
        self.roots = starts[:-1]
        depths = np.array([int(t["depth"]) for t in trees], dtype=np.intp)
        self.deeper = [int((depths > level).sum()) for level in range(depths.max(initial=0))]
        self.baseline = baseline
        self.linear = np.asarray(linear, dtype=np.float64)

    @classmethod
    def from_json(cls, model: dict[str, Any]) -> Model:
        return cls(model["trees"], model["baseline"], model["linear"])

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "linear": self.linear.tolist(), "trees": self.trees}

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Log-odds per row of ``matrix``."""
        n = len(matrix)
        rows = np.asarray(matrix, dtype=np.float64)
        columns = np.ascontiguousarray(rows.T).ravel()  # column j's cells at j * n
        at = self.feature * n
        row = np.arange(n)[None, :]
        node = np.repeat(self.roots[:, None], n, axis=1)  # (trees, rows); take() beats [] here
        for deeper in self.deeper:
            walking = node[:deeper]
            right = columns.take(at.take(walking) + row) > self.threshold.take(walking)
            node[:deeper] = self.children.take(2 * walking + right)
        trees = self.value.take(node).sum(axis=0)
        return np.asarray(self.baseline + rows @ self.linear + trees, dtype=np.float64)


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


class Ranker:
    """Scores a question's candidates from their ``features`` with three models: the
    *candidate* model (does this chunk hold a fact the question asks about?), the *article*
    model (does any of this article's candidates?) and the *within-article* model (given that
    one does, is it this one?). The score is the mean of two log-probabilities: the candidate
    model's, and the article and within-article models' together.

    The two answer the same question from different sides. The candidate model weighs a chunk
    against every other candidate; the pair first picks the articles that hold the evidence,
    then the chunk inside each that states it, where a chunk's features are read against its
    own article's best. On the MultiHop-RAG dev split (``benchmarks/train_ranker.py``) the
    average finds more evidence than either side alone: evidence recall 0.796 -> 0.804 over the
    candidate model by question, 0.763 -> 0.765 on articles no training question cites, and
    more often a right passage first (hits@4 +0.008 / +0.011).
    """

    def __init__(self, candidate: Model, article: Model, within: Model, features: list[str]) -> None:
        widths = (len(candidate.linear), len(article.linear), len(within.linear))
        if list(features) != list(FEATURES) or widths != (len(FEATURES), ARTICLE_WIDTH, WITHIN_WIDTH):
            raise ValueError(f"The ranker was trained on other features: {features}")
        self.candidate, self.article, self.within = candidate, article, within

    @classmethod
    def load(cls, embeddings: bool = True, path: Path = WEIGHTS_FILE) -> Ranker:
        """The shipped models, with or without the embedding features."""
        shipped = json.loads(path.read_text(encoding="utf-8"))
        model = shipped["models"][model_name(embeddings)]
        parts = ("candidate", "article", "within")
        candidate, article, within = (Model.from_json(model[part]) for part in parts)
        return cls(candidate, article, within, shipped["features"])

    def score(self, matrix: np.ndarray, documents: list[str]) -> np.ndarray:
        """Log-probability per row of a ``features`` matrix (``documents``: each row's article)
        that the candidate holds a fact the question asks about."""
        articles, article = article_features(matrix, documents)
        candidate = _log_sigmoid(self.candidate.score(matrix))
        own_article = _log_sigmoid(self.article.score(articles))[article]
        within = _log_sigmoid(self.within.score(within_features(matrix, articles, article)))
        return np.asarray((candidate + own_article + within) / 2, dtype=np.float64)


def _log_sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -log_odds)


def fitted_on(
    queries_sha256: str, embeddings: bool, path: Path = WEIGHTS_FILE, figures: str = "cross_validated"
) -> dict[str, Any] | None:
    """The shipped model's held-out scores (``figures``: "cross_validated", or "unseen_articles"
    from models fitted without the questions citing the scored ones' articles) when it was
    fitted on the queries file with this sha256 (so scores measured on it are in-sample and
    flattering); else None."""
    shipped = json.loads(path.read_text(encoding="utf-8"))
    if shipped.get("trained_on_sha256") != queries_sha256:
        return None
    held_out: dict[str, Any] | None = shipped["models"][model_name(embeddings)].get(figures)
    return held_out


def model_name(embeddings: bool) -> str:
    return "embeddings" if embeddings else "keywords"
