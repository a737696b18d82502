"""The learned ranker: a candidate's features -> the log-probability that it holds a fact the
question asks about.

Three models, each a logistic regression boosted by trees fitted to what it leaves unexplained:
the candidate model, the article model and the within-article model (``Ranker``). They are fitted
by ``benchmarks/train_ranker.py`` (scikit-learn, LightGBM) and shipped in ``ranker.json``: one
set with the embedding features and one without them (``RAG_RANK_EMBEDDINGS=false``), with the
retrieval constants and index settings they were fitted under (``rag.retrieval.params``).
Retraining for another corpus is that script with another queries file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import IndexMismatch
from rag.retrieval import params
from rag.retrieval.features import ARTICLE_WIDTH, FEATURES, WITHIN_WIDTH, article_features, within_features

WEIGHTS_FILE = Path(__file__).with_name("ranker.json")


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


class Ranker:
    """Scores a question's candidates from their ``features`` with three models: the
    *candidate* model (does this chunk hold a fact the question asks about?), the *article*
    model (does any of this article's candidates?) and the *within-article* model (given that
    one does, is it this one?). The score is the mean of two log-probabilities: the candidate
    model's, and the article and within-article models' together.

    The two answer the same question from different sides: the candidate model weighs a chunk
    against every other candidate; the pair first picks the articles that hold the evidence,
    then the chunk inside each that states it. Averaged, they find more evidence than either
    alone (docs/retrieval-log.md, "Article and within-article models").
    """

    def __init__(self, candidate: Model, article: Model, within: Model, features: list[str]) -> None:
        widths = (len(candidate.linear), len(article.linear), len(within.linear))
        if list(features) != list(FEATURES) or widths != (len(FEATURES), ARTICLE_WIDTH, WITHIN_WIDTH):
            missing = sorted(set(FEATURES) - set(features)) or sorted(set(features) - set(FEATURES))
            raise IndexMismatch(
                f"The retrieval ranker was fitted on other features than this code computes "
                f"(differing: {', '.join(missing) or 'their order'}); refit it with "
                "benchmarks/train_ranker.py --write."
            )
        self.candidate, self.article, self.within = candidate, article, within

    @classmethod
    def load(cls, settings: Settings, path: Path = WEIGHTS_FILE) -> Ranker:
        """The shipped models for ``settings`` (with or without the embedding features); raises
        ``IndexMismatch`` when they were fitted under other retrieval constants or settings."""
        shipped = json.loads(path.read_text(encoding="utf-8"))
        embeddings = settings.rank_embeddings
        reason = params.mismatch(shipped.get("retrieval", {}), settings, embeddings)
        if reason:
            raise IndexMismatch(reason)
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
