"""The learned ranker: its features mean what they say, and the shipped weights fit them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.rank import ABSENT, EMBEDDING_FEATURES, FEATURES, WEIGHTS_FILE, Pool, Ranker, features, model_name


def pool() -> Pool:
    # Three candidates: two chunks of article "a" (the second matches clause 1 best), one of "b"
    # returned only by a named outlet's search.
    return Pool(
        ids=["a:0", "a:1", "b:0"],
        documents=["a", "a", "b"],
        ranks=np.array([[0, ABSENT], [3, ABSENT], [ABSENT, 0]]),
        fused=np.array([1 / 61, 1 / 64, 1 / 61]),
        question_bm25=np.array([8.0, 4.0, 2.0]),
        sentences=np.array([[1.0, 0.2], [0.5, 1.0], [0.0, 0.4]]),
        dense=np.array([[0.5, 0.1], [0.3, 0.6], [0.2, 0.2]]),
        place=np.array([[0, 2], [1, 2], [0, 1]]),
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
    assert column("dense_gap").tolist() == pytest.approx([0.0, 0.0, -0.3])  # b is 0.3 off both bests
    assert column("lead_chunk").tolist() == [1, 0, 1]
    assert column("place").tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert column("article_candidates").tolist() == pytest.approx([math.log(2), math.log(2), 0.0])
    assert column("article_clause_best").tolist() == pytest.approx([1.0, 1.0, 0.4])


def test_an_empty_pool_scores_nothing() -> None:
    none = np.zeros((0, 2))
    empty = Pool([], [], np.zeros((0, 1), int), np.zeros(0), np.zeros(0), none, none, none)
    assert Ranker.load().score(features(empty, 60)).shape == (0,)


def test_shipped_weights_cover_every_feature() -> None:
    """A feature added without retraining (benchmarks/train_ranker.py --write) fails here."""
    models = json.loads(WEIGHTS_FILE.read_text())["models"]
    for embeddings in (True, False):
        weights = models[model_name(embeddings)]["weights"]
        assert set(weights) == set(FEATURES)
        # What the ranker learned, in the directions one expects: matching a clause and ranking
        # high in a search raise a candidate's score.
        for name in ("clause_best", "best_rank", "named_outlet") + (("dense_gap",) if embeddings else ()):
            assert weights[name] > 0, name
    assert all(models["keywords"]["weights"][name] == 0 for name in EMBEDDING_FEATURES)


def test_unknown_feature_is_refused() -> None:
    with pytest.raises(ValueError, match="bogus"):
        Ranker({"bogus": 1.0})


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
    assert all(0.0 < p.score < 1.0 for p in hits)


def test_without_embeddings_a_search_embeds_nothing(
    tmp_path: Path, embed: OnnxEmbedding, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(Settings(data_dir=tmp_path / "data", rank_embeddings=False), embed=embed)
    engine.ingest([rates_corpus(tmp_path)])
    embedded: list[str] = []
    real = OnnxEmbedding.embed_batch
    monkeypatch.setattr(
        OnnxEmbedding, "embed_batch", lambda self, texts: embedded.extend(texts) or real(self, texts)
    )
    # k=1: with fewer keyword hits than asked for, the question is embedded to find the rest.
    hits = engine.search("Who raised rates?", k=1)
    engine.close()
    assert hits[0].title == "Rates" and embedded == []
