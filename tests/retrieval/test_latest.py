"""What's new: a question naming only a period is answered by that period's newest stories."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.models import Filters
from rag.retrieval.latest import names_only_a_period
from rag.retrieval.relative import relative_window

STORIES = [
    (
        "Storm floods the harbor bridge",
        "2024-03-06",
        "Harbor News",
        "In brief.\nA storm flooded the harbor bridge on Tuesday, closing it for six hours. Repairs go on.",
    ),
    (
        "Ferry service resumes",
        "2024-03-07",
        "Harbor News",
        "The ferry to Kessling island ran again on Thursday after two weeks of repairs.",
    ),
    (
        "Council votes on budget",
        "2024-02-10",
        "City Ledger",
        "The city council approved a budget of 40 million dollars on a vote of seven to two.",
    ),
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened this week?", True),
        ("What is the latest news?", True),
        ("Any news since Monday?", True),
        ("Tell me the top stories of the past 3 days", True),
        ("What happened to the bridge this week?", False),  # a topic: searched as usual
        ("What is the latest on the storm?", False),
        ("What did USA Today report?", False),  # a name, not a time
        ("What happened?", False),  # no period
        ("What happened in March 2024?", True),
        ("news from Feb. 2024", True),
        ("What happened in 2023?", True),
        ("What did the council spend in 2023?", False),  # a topic, and the year dates an event
    ],
)
def test_a_question_naming_only_a_period(question: str, expected: bool) -> None:
    assert names_only_a_period(question) is expected


@pytest.fixture
def dated(engine: Engine, tmp_path: Path) -> Engine:
    records = [{"title": t, "published_at": d, "source": s, "body": b} for t, d, s, b in STORIES]
    (tmp_path / "news.json").write_text(json.dumps(records))
    engine.ingest([tmp_path / "news.json"])
    return engine


def test_what_happened_this_week_lists_the_weeks_stories_newest_first(dated: Engine) -> None:
    answer = dated.ask("What happened this week?", Filters(as_of=date(2024, 3, 8)))
    assert not answer.refused
    assert [c.title for c in answer.citations] == ["Ferry service resumes", "Storm floods the harbor bridge"]
    # Each story by its lead sentence (a too-short first line is skipped), quoted exactly.
    storm = dated.document(answer.citations[1].document_id)
    assert answer.citations[1].quote == storm.text[answer.citations[1].start : answer.citations[1].end]
    assert answer.citations[1].quote.startswith("A storm flooded the harbor bridge")
    assert all(s.verdict == "supported" for s in answer.sentences)


def test_the_questions_other_filters_still_apply(dated: Engine) -> None:
    answer = dated.ask("What is the latest news?", Filters(as_of=date(2024, 3, 8), source=["City Ledger"]))
    assert [c.title for c in answer.citations] == ["Council votes on budget"]


def test_a_period_without_stories_is_asked_of_the_whole_corpus(dated: Engine) -> None:
    """As of a day long after the corpus ends, "this week" filters nothing (``relative_filters``),
    and a question without a topic gets no digest of arbitrary stories."""
    answer = dated.ask("What happened this week?", Filters(as_of=date(2025, 6, 1)))
    assert answer.refused


def test_a_summary_of_a_period_draws_on_its_stories(dated: Engine) -> None:
    summary = dated.summarize("this week", Filters(as_of=date(2024, 3, 8)))
    assert {s.title for s in summary.sources} == {"Ferry service resumes", "Storm floods the harbor bridge"}
    assert summary.key_points and summary.coverage.articles == 2
    assert not [gap for gap in summary.gaps if "No evidence found about" in gap]  # "week" is no topic


def test_a_named_month_is_answered_by_its_stories(dated: Engine) -> None:
    """ "What happened in March 2024?" cited February's budget story first, by relevance to nothing."""
    answer = dated.ask("What happened in March 2024?")
    assert [c.title for c in answer.citations] == ["Ferry service resumes", "Storm floods the harbor bridge"]


def test_a_month_after_a_verb_of_reporting_filters_a_topic_question(dated: Engine) -> None:
    hits = dated.search("Which budget vote was reported in February 2024?", k=5)
    assert hits and {p.title for p in hits} == {"Council votes on budget"}
    # A named month wins over "the latest"; the same words dating an event filter nothing.
    march = (date(2024, 3, 1), date(2024, 3, 31))
    assert relative_window("What was the latest on the storm in March 2024?", date(2024, 12, 1)) == march
    assert relative_window("What did the council spend in 2023?", date(2024, 3, 8)) is None


def test_a_named_period_is_a_filter_not_words_to_match(engine: Engine, tmp_path: Path) -> None:
    """ "Why was the road closed? reported in May 2020" was refused on a one-story month: the
    period's words, kept in the question, pulled every sentence under the relevance floor."""
    body = (
        "The council voted 7 to 2 on Friday to close the harbour road to lorries from June. "
        "Residents had complained about noise for three years."
    )
    record = {"title": "Harbour road closed", "published_at": "2020-05-01", "source": "Gazette", "body": body}
    (tmp_path / "road.json").write_text(json.dumps([record]))
    engine.ingest([tmp_path / "road.json"])
    question = "Why was the road closed? reported in May 2020"
    answer = engine.ask(question)
    assert not answer.refused and answer.question == question
    assert answer.citations[0].quote.startswith("The council voted 7 to 2")


def test_a_summary_of_a_topic_in_a_named_month(dated: Engine) -> None:
    summary = dated.summarize("the harbor bridge storm reported in March 2024")
    assert summary.coverage.articles == 1
    missing = [gap for gap in summary.gaps if gap.startswith("No evidence found about")]
    assert not any(word in gap for gap in missing for word in ("reported", "March", "2024"))
