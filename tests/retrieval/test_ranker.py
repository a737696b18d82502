"""The learned ranker: its features mean what they say, and the shipped weights fit them."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.errors import IndexMismatch
from rag.retrieval import params
from rag.retrieval.features import (
    ABSENT,
    ARTICLE_WIDTH,
    FEATURES,
    WITHIN_WIDTH,
    Pool,
    article_features,
    features,
    within_features,
)
from rag.retrieval.ranker import WEIGHTS_FILE, Model, Ranker, fitted_on, model_name


def pool() -> Pool:
    # Three candidates: two chunks of article "a" (the second matches clause 1 best), one of "b"
    # returned only by a named outlet's search, the outlet the question credits clause 1 to.
    return Pool(
        ids=["a:0", "a:1", "b:0"],
        documents=["a", "a", "b"],
        ranks=np.array([[0, ABSENT], [3, ABSENT], [ABSENT, 0]]),
        fused=np.array([1 / 61, 1 / 64, 1 / 61]),
        question_bm25=np.array([8.0, 4.0, 2.0]),
        sentences=np.array([[1.0, 0.2], [0.5, 1.0], [0.0, 0.4]]),
        clause_ranks=np.array([[0, 7], [ABSENT, 2], [ABSENT, ABSENT]]),
        dense=np.array([[0.5, 0.1], [0.3, 0.6], [0.2, 0.2]]),
        sentence_dense=np.array([[0.7, 0.2], [0.4, 0.9], [0.3, 0.3]]),
        credited=np.array([[False, False], [False, False], [False, True]]),
        words=np.array([[0.9, 0.3], [0.6, 0.8], [0.5, 0.5]]),
        # a:1 shares names with b (lead 1), b with a (lead 0) and more of them.
        names=np.array([[0.0, 0.0], [0.0, 4.0], [6.0, 0.0]]),
    )


def column(name: str) -> np.ndarray:
    return features(pool(), 60)[:, FEATURES.index(name)]


def test_features_read_the_pool() -> None:
    assert features(pool(), 60).shape == (3, len(FEATURES))
    assert column("fused").tolist() == pytest.approx([1.0, 61 / 64, 1.0])
    assert column("best_rank").tolist() == pytest.approx([1.0, 0.25, 1.0])
    assert column("named_outlet").tolist() == [0, 0, 1]
    assert column("question_bm25").tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert column("clause_best").tolist() == pytest.approx([1.0, 1.0, 0.4])
    assert column("clause_second").tolist() == pytest.approx([0.2, 0.5, 0.0])
    assert column("clause_search_best").tolist() == pytest.approx([1.0, 1 / 3, 0.0], abs=1e-9)
    assert column("clause_search_top").tolist() == [1, 1, 0]
    assert column("dense_gap").tolist() == pytest.approx([0.0, 0.0, -0.3])  # b is 0.3 off both bests
    assert column("sentence_dense_best").tolist() == pytest.approx([0.7, 0.9, 0.3])
    assert column("sentence_dense_second").tolist() == pytest.approx([0.2, 0.4, 0.3])
    assert column("sentence_dense_gap").tolist() == pytest.approx([0.0, 0.0, -0.4])
    # b is the best match for clause 1 among its outlet's candidates, though a:1 matches it better.
    assert column("credited_clause").tolist() == pytest.approx([-1.0, -1.0, 1.0])
    assert column("credited_search").tolist() == pytest.approx([-1.0, -1.0, 0.0])  # not in its top
    assert column("credited_dense").tolist() == pytest.approx([-1.0, -1.0, 0.3])
    assert column("credited_dense_gap").tolist() == pytest.approx([-1.0, -1.0, 0.0])
    # Clause 0 names no outlet, so every candidate is placed for it; for clause 1 only b's
    # outlet counts, where b is first though a:1 matches that clause better.
    assert column("standing_sentence").tolist() == pytest.approx([1.0, 0.5, 1.0])
    assert column("standing_dense").tolist() == pytest.approx([1.0, 0.5, 1.0])
    assert column("standing_words").tolist() == pytest.approx([1.0, 0.5, 1.0])
    # a:0 leads clause 0 by 0.5 over a:1; b, alone in its outlet for clause 1, has no rival there.
    assert column("margin_sentence").tolist() == pytest.approx([0.5, -0.5, -1.0])
    assert column("margin_dense").tolist() == pytest.approx([0.3, -0.3, -0.4])
    assert column("margin_words").tolist() == pytest.approx([0.3, -0.3, -0.4])
    # a:0 matches clause 0 best but is 0.5 off clause 1's best; a:1 is closer to both bests.
    assert column("words_best").tolist() == pytest.approx([0.9, 0.8, 0.5])
    assert column("words_gap_mean").tolist() == pytest.approx([-0.25, -0.15, -0.35])
    assert column("words_gap_worst").tolist() == pytest.approx([-0.5, -0.3, -0.4])
    assert column("names_best").tolist() == pytest.approx([0.0, 4 / 6, 1.0])
    assert column("names_leads").tolist() == pytest.approx([0.0, 1.0, 1.0])
    assert column("article_candidates").tolist() == pytest.approx([math.log(2), math.log(2), 0.0])
    assert column("article_clause_best").tolist() == pytest.approx([1.0, 1.0, 0.4])


def test_tied_candidates_share_the_better_place_and_a_search_without_embeddings_places_by_none() -> None:
    tied = replace(pool(), sentences=np.array([[0.5, 0.2], [0.5, 1.0], [1.0, 0.4]]))
    tied.credited[:] = True  # a question naming no outlet credits every clause to every candidate
    x = features(tied, 60)
    assert x[:, FEATURES.index("standing_sentence")].tolist() == pytest.approx([0.5, 1.0, 1.0])
    keywords = replace(pool(), dense=np.zeros((3, 0)), sentence_dense=np.zeros((3, 0)))
    for name in ("standing_dense", "margin_dense"):
        assert features(keywords, 60)[:, FEATURES.index(name)].tolist() == [0.0, 0.0, 0.0]


def test_an_empty_pool_scores_nothing() -> None:
    none = np.zeros((0, 2))
    empty = Pool([], [], np.zeros((0, 1), int), np.zeros(0), np.zeros(0), *[none] * 7)
    assert Ranker.load(Settings()).score(features(empty, 60), []).shape == (0,)


def test_a_model_adds_the_linear_part_and_the_leaf_each_tree_sends_the_row_to() -> None:
    split, weighted = FEATURES.index("clause_best"), FEATURES.index("names_best")
    # Root: clause_best <= 0.5 goes left (-1), else right (+1); a second tree adds 0.5 to all.
    stump = {"feature": [split, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 1, 2], "right": [2, 1, 2]}
    constant = {"feature": [0], "threshold": [0], "left": [0], "right": [0], "value": [0.5], "depth": 0}
    linear = [0.0] * len(FEATURES)
    linear[weighted] = 2.0
    # Given shallowest first: the model walks them deepest first.
    model = Model([constant, stump | {"value": [0, -1, 1], "depth": 1}], 0.25, linear)
    rows = np.zeros((3, len(FEATURES)))
    rows[:, split] = [0.4, 0.5, 0.6]
    rows[:, weighted] = [0.0, 1.0, 0.5]
    assert model.score(rows).tolist() == pytest.approx([-0.25, 1.75, 2.75])


def test_articles_are_read_from_their_candidates() -> None:
    x = features(pool(), 60)
    articles, article = article_features(x, pool().documents)
    assert articles.shape == (2, ARTICLE_WIDTH) and article.tolist() == [0, 0, 1]
    best = FEATURES.index("clause_best")
    assert articles[:, best].tolist() == [1.0, x[2, best]]  # the best of a's two chunks, b's own
    assert articles[0, len(FEATURES) + best] == pytest.approx((x[0, best] + x[1, best]) / 2)
    assert articles[:, -1].tolist() == [2, 1]  # how many candidates each has
    within = within_features(x, articles, article)
    assert within.shape == (3, WITHIN_WIDTH)
    # Each candidate against its own article's best: a:0 leads a on clause_best, a:1 trails it.
    assert within[:, len(FEATURES) + best].tolist() == pytest.approx([0.0, x[1, best] - 1.0, 0.0])


def test_scores_follow_their_candidates_in_any_order() -> None:
    """Articles are grouped however their candidates are ordered."""
    x, documents = features(pool(), 60), pool().documents
    ranker = Ranker.load(Settings())
    score = ranker.score(x, documents)
    order = [0, 2, 1]  # a's two candidates apart: a, b, a
    moved = ranker.score(x[order], [documents[i] for i in order])
    assert moved.tolist() == pytest.approx(score[order].tolist())


def linear_model(width: int, weights: dict[int, float], baseline: float = 0.0) -> Model:
    linear = [0.0] * width
    for column, weight in weights.items():
        linear[column] = weight
    return Model([], baseline, linear)


def test_the_score_averages_the_candidate_and_the_article_then_chunk_probabilities() -> None:
    best = FEATURES.index("clause_best")
    # The candidate model sees only the fused score; the article model only how many of an
    # article's chunks are candidates; the within-article model only the gap to the article's
    # best clause match.
    candidate = linear_model(len(FEATURES), {FEATURES.index("fused"): 1.0})
    article = linear_model(ARTICLE_WIDTH, {ARTICLE_WIDTH - 1: 1.0}, baseline=-1.5)
    within = linear_model(WITHIN_WIDTH, {len(FEATURES) + best: 4.0})
    x = features(pool(), 60)
    score = Ranker(candidate, article, within, list(FEATURES)).score(x, pool().documents)

    def log_p(log_odds: float) -> float:
        return -math.log1p(math.exp(-log_odds))

    fused = x[:, FEATURES.index("fused")]
    expected = [
        (log_p(fused[0]) + log_p(0.5) + log_p(0.0)) / 2,
        (log_p(fused[1]) + log_p(0.5) + log_p(4.0 * (x[1, best] - 1.0))) / 2,
        (log_p(fused[2]) + log_p(-0.5) + log_p(0.0)) / 2,
    ]
    assert score.tolist() == pytest.approx(expected)
    assert all(s < 0 for s in score)  # log-probabilities


def test_shipped_models_read_these_features() -> None:
    """A feature added without retraining (benchmarks/train_ranker.py --write) fails here."""
    shipped = json.loads(WEIGHTS_FILE.read_text())
    assert shipped["features"] == list(FEATURES)
    for embeddings in (True, False):
        cross = shipped["models"][model_name(embeddings)]["cross_validated"]
        assert cross["evidence_recall@10"] > 0.6  # what the model scored on questions it never saw
        assert Ranker.load(Settings(rank_embeddings=embeddings)).score(
            features(pool(), 60), pool().documents
        ).shape == (3,)
    keywords = shipped["models"]["keywords"]
    parts = [Model.from_json(keywords[part]) for part in ("candidate", "article", "within")]
    with pytest.raises(IndexMismatch, match="other features"):
        Ranker(*parts, list(FEATURES[:-1]))
    with pytest.raises(IndexMismatch, match="other features"):
        Ranker(parts[0], parts[2], parts[1], list(FEATURES))  # models swapped


def test_a_ranker_fitted_under_other_settings_is_refused_naming_the_setting() -> None:
    """Features computed under another chunk size or retrieval constant are not what the model
    learned from: loading says which value differs instead of scoring them anyway."""
    with pytest.raises(IndexMismatch, match="RAG_CHUNK_SIZE is 512"):
        Ranker.load(Settings(chunk_size=512))
    with pytest.raises(IndexMismatch, match="RAG_EMBED_MODEL"):
        Ranker.load(Settings(embed_model="/models/other"))
    # The keywords-only model reads no vector, so another embedding model does not matter to it.
    Ranker.load(Settings(embed_model="/models/other", rank_embeddings=False))
    shipped = json.loads(WEIGHTS_FILE.read_text())
    assert shipped["retrieval"] == params.current(Settings(), embeddings=True)
    changed = shipped | {"retrieval": shipped["retrieval"] | {"clause_depth": 30}}
    with pytest.raises(IndexMismatch, match="CLAUSE_DEPTH is 20"):
        params_check(changed)


def test_in_sample_scores_are_flagged() -> None:
    shipped = json.loads(WEIGHTS_FILE.read_text())
    assert fitted_on(shipped["trained_on_sha256"], True) == shipped["models"]["embeddings"]["cross_validated"]
    unseen = fitted_on(shipped["trained_on_sha256"], True, figures="unseen_articles")
    assert unseen is not None and unseen["evidence_recall@10"] > 0.6  # on articles it never saw
    assert fitted_on("0" * 64, True) is None


def rates_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [
                {"title": "Rates", "source": "Reuters", "body": "The central bank raised rates again."},
                {"title": "Cup", "source": "Reuters", "body": "The team won the cup final."},
            ]
        )
    )
    return path


def test_passage_scores_are_probabilities(engine: Engine, tmp_path: Path) -> None:
    engine.ingest([rates_corpus(tmp_path)])
    hits = engine.search("Who raised rates?", k=2)
    assert hits[0].title == "Rates"
    assert all(0.0 <= p.score <= 1.0 for p in hits)
    assert hits[0].score > 0.5 > hits[1].score  # the article that answers it, the one that does not


def test_without_embeddings_a_search_embeds_nothing(
    tmp_path: Path, embed: OnnxEmbedding, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(Settings(data_dir=tmp_path / "data", rank_embeddings=False), embed=embed)
    engine.ingest([rates_corpus(tmp_path)])
    # Nothing reads sentence vectors without embeddings, so the ingest did not compute them.
    assert engine.store.without_sentence_vectors() != []
    embedded: list[str] = []
    real = OnnxEmbedding.embed_batch
    monkeypatch.setattr(
        OnnxEmbedding, "embed_batch", lambda self, texts: embedded.extend(texts) or real(self, texts)
    )
    # k=1: with fewer keyword hits than asked for, the question is embedded to find the rest.
    hits = engine.search("Who raised rates?", k=1)
    engine.close()
    assert hits[0].title == "Rates" and embedded == []


def params_check(shipped: dict[str, object]) -> None:
    reason = params.mismatch(shipped["retrieval"], Settings(), embeddings=True)  # type: ignore[arg-type]
    if reason:
        raise IndexMismatch(reason)
