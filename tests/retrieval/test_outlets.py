"""Outlet-aware retrieval: outlets and dates named in a question steer what is retrieved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from rag.models import Filters

# Six look-alike stories: each outlet covers the same chip export story, on different days.
RECORDS = [
    ("TechCrunch", "2023-10-02", "Chip export rules tighten", "New chip export rules limit Nvidia sales."),
    ("TechCrunch", "2023-10-20", "Nvidia answers export rules", "Nvidia said the chip export rules cost it."),
    ("The Verge", "2023-10-03", "What chip export rules mean", "The chip export rules hit gaming GPUs too."),
    ("Wired", "2023-10-04", "Chip export rules explained", "Chip export rules explained for Nvidia buyers."),
    ("Wired", "2023-10-05", "Chip export rules, again", "Chip export rules and Nvidia, a second look."),
    ("Fortune", "2023-10-06", "Nvidia stock and export rules", "Nvidia stock fell on chip export rules."),
]


def _ingest(engine: Engine, tmp_path: Path) -> Engine:
    records = [
        {"source": s, "published_at": f"{d}T10:00:00", "title": t, "body": b} for s, d, t, b in RECORDS
    ]
    path = tmp_path / "news.json"
    path.write_text(json.dumps(records))
    engine.ingest([path])
    return engine


@pytest.fixture
def news(engine: Engine, tmp_path: Path) -> Engine:
    return _ingest(engine, tmp_path)


@pytest.fixture
def hybrid(tmp_path: Path, embed: OnnxEmbedding) -> Iterator[Engine]:
    eng = Engine(Settings(data_dir=tmp_path / "hybrid", dense_weight=1.0), embed=embed)
    yield _ingest(eng, tmp_path)
    eng.close()


def test_every_named_outlet_is_searched(news: Engine) -> None:
    hits = news.search("What did The Verge and Fortune say about chip export rules?", k=2)
    assert {p.source for p in hits} == {"The Verge", "Fortune"}


def test_a_date_picks_that_days_report(news: Engine) -> None:
    hits = news.search("What did the TechCrunch report published on October 20, 2023 say about chips?", k=1)
    assert hits[0].title == "Nvidia answers export rules"


@pytest.mark.parametrize("fixture", ["news", "hybrid"])
def test_caller_filters_still_bind(fixture: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(fixture)
    hits = engine.search(
        "What did The Verge and Wired say about chip export rules?", k=5, filters=Filters(source="wired")
    )
    assert hits and {p.source for p in hits} == {"Wired"}


@pytest.mark.parametrize("fixture", ["news", "hybrid"])
def test_paraphrases_are_found_by_meaning(fixture: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(fixture)
    hits = engine.search("Whose shares dropped in value?", k=3)  # no word in common with any story
    assert hits[0].title == "Nvidia stock and export rules"
    assert all(p.text == engine.document(p.document_id).text[p.start : p.end] for p in hits)


def test_a_filter_on_an_outlet_the_corpus_lacks_says_so(news: Engine) -> None:
    """A misspelt outlet filter would otherwise refuse with no hint of why."""
    question = "What did the chip export rules do to Nvidia?"
    answer = news.ask(question, Filters(source=["Wird"]))
    assert answer.refused and "“Wird” (did you mean “Wired”?)" in answer.answer
    assert "no articles from “Nowhere Daily”." in news.ask(question, Filters(source=["Nowhere Daily"])).answer
    kept = news.ask(question, Filters(source=["wired"]))  # filters match outlets case-insensitively
    assert not kept.refused and {c.source for c in kept.citations} == {"Wired"}
