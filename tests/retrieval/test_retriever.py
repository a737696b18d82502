"""Hybrid retrieval: ranking, filters by outlet/date/category, per-article diversity."""

from __future__ import annotations

import json
from pathlib import Path

import chromadb
import numpy as np
import pytest

from rag.engine import Engine
from rag.errors import BadInput, NothingIndexed
from rag.models import Filters
from rag.retrieval.features import FEATURES
from rag.retrieval.pool import _sentence_similarity


@pytest.fixture
def news(engine: Engine, tmp_path: Path) -> Engine:
    records = [
        {
            "title": "Fed holds rates",
            "source": "Reuters",
            "published_at": "2023-10-05T10:00:00",
            "category": "business",
            "body": "The Federal Reserve kept interest rates unchanged on Wednesday.",
        },
        {
            "title": "Fed signals cuts",
            "source": "The Verge",
            "published_at": "2023-11-20T10:00:00",
            "category": "business",
            "body": "The Federal Reserve signalled interest rate cuts next year.",
        },
        {
            "title": "Lakers win",
            "source": "Sporting News",
            "published_at": "2023-11-01T10:00:00",
            "category": "sports",
            "body": "The Lakers beat the Suns 110-100 behind a strong fourth quarter.",
        },
    ]
    path = tmp_path / "news.json"
    path.write_text(json.dumps(records))
    engine.ingest([path])
    return engine


def test_relevant_article_ranks_first(news: Engine) -> None:
    hits = news.search("Which team beat the Suns?", k=3)
    assert hits[0].title == "Lakers win"
    assert hits[0].text == news.document(hits[0].document_id).text[hits[0].start : hits[0].end]


def test_filters_by_outlet_date_and_category(news: Engine) -> None:
    by_source = news.search("Federal Reserve interest rates", filters=Filters(source="the verge"))
    assert [p.title for p in by_source] == ["Fed signals cuts"]
    by_date = news.search("Federal Reserve interest rates", filters=Filters(until="2023-10-31"))
    assert [p.title for p in by_date] == ["Fed holds rates"]
    by_cat = news.search("Federal Reserve", filters=Filters(category="sports"))
    assert {p.title for p in by_cat} <= {"Lakers win"}


def test_bad_filters_and_queries(news: Engine) -> None:
    with pytest.raises(BadInput, match="after"):
        Filters(since="2023-12-01", until="2023-11-01")
    with pytest.raises(BadInput, match="empty"):
        news.search("   ")


def test_nothing_indexed_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(NothingIndexed, match="rag ingest"):
        engine.search("anything")


class KeywordRanksOnly:
    """A ranker that reads nothing but the fused keyword ranks."""

    def score(self, matrix: np.ndarray, documents: list[str]) -> np.ndarray:
        fused = matrix[:, FEATURES.index("fused")]
        return fused - fused.max()  # a log-probability: the best is 1


def test_the_chunk_stating_a_clause_outranks_one_that_only_repeats_its_words(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        {
            "title": "Energy roundup",
            "source": "Reuters",
            "body": "Solar panel prices rose in March. Prices fell for some buyers. "
            "Subsidies ended for farms. Wind turbines were installed on the coast.",
        },
        {
            "title": "Market note",
            "source": "Reuters",
            "body": "Analysts said solar panel prices fell once subsidies ended in Spain. "
            "Other markets were calm. Oil was steady and gold rose slightly. Bond yields were flat "
            "while the dollar weakened against the euro and the yen.",
        },
    ]
    records.append({"title": "Lakers win", "source": "Sporting News", "body": "The Lakers beat the Suns."})
    path = tmp_path / "energy.json"
    path.write_text(json.dumps(records))
    engine.ingest([path])
    question = "Which outlet reported that solar panel prices fell once subsidies ended?"
    shipped = engine.retriever.ranker
    monkeypatch.setattr(engine.retriever, "ranker", KeywordRanksOnly())
    assert engine.search(question, k=2)[0].title == "Energy roundup"  # words alone favour the roundup
    monkeypatch.setattr(engine.retriever, "ranker", shipped)
    assert engine.search(question, k=2)[0].title == "Market note"


def test_vectors_not_committed_yet_are_ignored(news: Engine) -> None:
    """Chroma is written before SQLite, so a search during an ingest can meet a vector for a
    chunk the catalog does not hold yet; it must be skipped, not break the search."""
    question = "Which basketball squad triumphed?"  # no word of it is in the corpus: dense search
    vector = news.embed.embed_batch([question])[0]
    # Another writer's vector (the same embedded Chroma, opened as a second client would).
    other = chromadb.PersistentClient(path=str(news.store.data_dir / "chroma"))
    other.get_collection("articles").upsert(
        ids=["in-flight:0"], embeddings=[vector.tolist()], documents=["x"]
    )
    hits = news.search(question, k=3)
    assert hits and all(p.id != "in-flight:0" for p in hits)
    assert {p.title for p in hits} <= {"Fed holds rates", "Fed signals cuts", "Lakers win"}


def test_a_search_an_ingest_lands_in_keeps_to_one_index(
    news: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest landing between a search's read of the catalog and of the keyword index
    (an upload beside a question) left it with an outlet filter cached for the other index's
    chunks: a 500 (found by the schema fuzzer, uploads and asks in two workers)."""
    verge = Filters(source="the verge")
    question = "Federal Reserve interest rates"
    assert [p.title for p in news.search(question, filters=verge)] == ["Fed signals cuts"]
    before = news.retriever.view()  # holds The Verge's filter, for the index of 3 chunks
    more = tmp_path / "more.json"
    article = {"title": "Fed minutes", "source": "The Verge", "body": "Federal Reserve minutes."}
    more.write_text(json.dumps([article]))
    news.ingest([more])
    with monkeypatch.context() as race:
        race.setattr(news.retriever, "view", lambda: before)  # read just before the ingest
        # The new chunk is left out of that one search (the catalog does not know it yet).
        assert [p.title for p in news.search(question, filters=verge)] == ["Fed signals cuts"]
    assert {p.title for p in news.search(question, filters=verge)} == {"Fed signals cuts", "Fed minutes"}


def test_a_corpus_too_big_for_memory_ranks_the_same(news: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXACT_SEARCH_LIMIT the chunk vectors are not held in memory: the ranker's embedding
    features come from Chroma instead, and must give the same ranking."""
    question = "Did the Federal Reserve change interest rates, as The Verge reported?"
    in_memory = [(p.id, p.score) for p in news.search(question, k=3)]
    monkeypatch.setattr("rag.retrieval.corpus.EXACT_SEARCH_LIMIT", 0)
    news.retriever._view = None  # as after a restart
    from_chroma = [(p.id, p.score) for p in news.search(question, k=3)]
    assert [i for i, _ in from_chroma] == [i for i, _ in in_memory]
    assert [s for _, s in from_chroma] == pytest.approx([s for _, s in in_memory], abs=1e-4)


def test_a_candidate_is_as_close_to_a_clause_as_its_closest_sentence() -> None:
    clauses = np.array([[1.0, 0.0], [0.0, 1.0]])
    stored = {
        "a": np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float16).ravel(),  # two sentences
        "b": np.array([[0.0, 1.0]], dtype=np.float16).ravel(),
    }
    similarity = _sentence_similarity(["a", "b", "c"], stored, clauses)  # "c" has no sentence vectors
    assert np.allclose(similarity, [[1.0, 0.8], [0.0, 1.0], [0.0, 0.0]], atol=1e-3)
    assert _sentence_similarity(["a"], stored, np.zeros((0, 2))).shape == (1, 0)  # no embeddings


def test_a_chunk_stating_one_clause_joins_the_candidates_though_the_question_ranks_it_low(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multi-hop question's words are mostly about its other parts, so the whole question's
    search can leave out the one chunk stating what a clause asks; that clause's best sentences
    bring it in."""
    chips = [
        {
            "title": f"Chip makers report {i}",
            "source": "Reuters",
            "body": f"Nvidia chip sales grew strongly in quarter {i}. Nvidia chip demand stayed high. "
            "A ferry from Oslo carried the chips.",
        }
        for i in range(8)
    ]
    games = [{"title": f"Match {i}", "source": "ESPN", "body": f"Team {i} won the game."} for i in range(30)]
    stating = {
        "title": "Weekly digest",
        "source": "Reuters",
        "body": "Markets were calm. The ferry strike in Oslo went on.",
    }
    path = tmp_path / "news.json"
    path.write_text(json.dumps([*chips, *games, stating]))
    engine.ingest([path])
    question = "Did Nvidia chip sales grow, and was there a ferry strike in Oslo?"
    monkeypatch.setattr("rag.retrieval.pool.CANDIDATES", 1)  # the question's own search reads 4 deep

    def titles() -> set[str]:
        pool = engine.retriever.pool(question, k=1)
        return {p.title for p in engine.store.passages([(cid, 0.0) for cid in pool.ids])}

    assert "Weekly digest" in titles()
    monkeypatch.setattr("rag.retrieval.pool.SENTENCE_DEPTH", 0)
    assert "Weekly digest" not in titles()
