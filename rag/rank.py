"""Learned scoring of retrieval candidates: what retrieval measured about each candidate -> one
score, the log-odds that the candidate holds a fact the question asks about.

Inputs: a ``Pool`` (the candidates of one question, the ranked lists they came from, how well
their best sentence matches each clause of the question, how close their embedding is to each
clause's, and where they sit in their article). Outputs: a feature matrix (``features``) and a
score per candidate (``Ranker.score``).

The weights are a logistic regression fitted by ``benchmarks/train_ranker.py`` on the
MultiHop-RAG dev split and shipped in ``rag/ranker.json``: one model with the embedding features
and one without them, for ``RAG_RANK_EMBEDDINGS=false`` (no query embedding, faster searches).
A linear model over a dozen and a half features is deliberate: its weights can be read, it
cannot memorise questions, and the script's 5-fold cross-validation shows the held-out folds
scoring what the whole fit does. Retraining for another corpus is that script with another
queries file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("ranker.json")
ABSENT = np.iinfo(np.int32).max  # the rank of a candidate a list did not return

EMBEDDING_FEATURES = ("dense_best", "dense_gap", "dense_mean")
FEATURES = (
    "fused",  # reciprocal-rank fusion of all lists, x (RRF_K + 1) so a list's top rank is ~1
    "best_rank",  # 1 / (1 + the candidate's best rank in any list)
    "named_outlet",  # returned by the search of an outlet the question names
    "question_bm25",  # the whole question's BM25 score, over the best candidate's
    "clause_best",  # the best clause-to-sentence match (each clause's best candidate is 1)
    "clause_second",  # the second-best clause's match: a chunk answering two parts at once
    "clause_mean",
    "dense_best",  # the highest cosine between the chunk's and a clause's embedding
    "dense_gap",  # ... minus that clause's best candidate's (0 for the best)
    "dense_mean",
    "lead_chunk",  # the article's first chunk (its title and lede)
    "place",  # where in its article the chunk sits, 0 (start) .. 1 (end)
    "article_candidates",  # log of how many of its article's chunks are candidates
    "article_fused",  # the best fused score among its article's candidates
    "article_clause_best",  # the best clause match among its article's candidates
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
    dense: np.ndarray  # (n, clauses): cosine of chunk and clause embeddings; (n, 0) without them
    place: np.ndarray  # (n, 2): (index of the chunk in its article, chunks in the article)

    def __len__(self) -> int:
        return len(self.ids)


def features(pool: Pool, rrf_k: int) -> np.ndarray:
    """The (n, len(FEATURES)) matrix the ranker scores, columns in FEATURES order."""
    n = len(pool)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    fused = pool.fused * (rrf_k + 1)
    by_clause = -np.sort(-pool.sentences, axis=1)
    second = by_clause[:, 1] if by_clause.shape[1] > 1 else np.zeros(n)
    best = by_clause[:, 0]
    dense = pool.dense if pool.dense.shape[1] else np.zeros((n, 1))  # no embeddings: features 0
    gap = (dense - dense.max(axis=0, keepdims=True)).max(axis=1)
    top_bm25 = pool.question_bm25.max()
    articles: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(pool.documents):
        articles[doc].append(i)
    article_count, article_fused, article_best = np.zeros(n), np.zeros(n), np.zeros(n)
    for rows in articles.values():
        article_count[rows] = len(rows)
        article_fused[rows] = fused[rows].max()
        article_best[rows] = best[rows].max()
    index, count = pool.place[:, 0], pool.place[:, 1]
    columns = {
        "fused": fused,
        "best_rank": 1.0 / (1.0 + pool.ranks.min(axis=1)),
        "named_outlet": (pool.ranks[:, 1:] < ABSENT).any(axis=1),
        "question_bm25": pool.question_bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n),
        "clause_best": best,
        "clause_second": second,
        "clause_mean": pool.sentences.mean(axis=1),
        "dense_best": dense.max(axis=1),
        "dense_gap": gap,
        "dense_mean": dense.mean(axis=1),
        "lead_chunk": index == 0,
        "place": index / np.maximum(count - 1, 1),
        "article_candidates": np.log(np.maximum(article_count, 1)),
        "article_fused": article_fused,
        "article_clause_best": article_best,
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES])


class Ranker:
    """A linear scorer over ``FEATURES``: ``score = features @ weights + bias``."""

    def __init__(self, weights: dict[str, float], bias: float = 0.0) -> None:
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"Unknown ranker features: {sorted(unknown)}")
        self.weights = np.array([weights.get(name, 0.0) for name in FEATURES])
        self.bias = bias

    @classmethod
    def load(cls, embeddings: bool = True, path: Path = WEIGHTS_FILE) -> Ranker:
        """The shipped model, with or without the embedding features."""
        model = json.loads(path.read_text(encoding="utf-8"))["models"][model_name(embeddings)]
        return cls(model["weights"], model["bias"])

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Log-odds per row of a ``features`` matrix."""
        return np.asarray(matrix @ self.weights + self.bias, dtype=np.float64)


def model_name(embeddings: bool) -> str:
    return "embeddings" if embeddings else "keywords"
