"""Question analysis: outlets and dates named in a question become filtered sub-queries."""

from __future__ import annotations

from datetime import date

from rag.models import Filters
from rag.retrieval.query import OutletIndex, analyze, clauses, keyword_text
from rag.text import content_words

SOURCES = [
    "TechCrunch",
    "The Verge",
    "The Age",
    "Sporting News",
    "Cnbc | World Business News Leader",
    "FOX News - Health",
    "FOX News - Lifestyle",
    "CBSSports.com",
    "The New York Times",
]
OUTLETS = OutletIndex(SOURCES)
WORDS = frozenset(
    ["the", "chip", "maker", "nvidia", "said", "apple", "sold", "phones", "bloomberg", "quarter"]
)


def named(question: str) -> list[tuple[str, ...]]:
    return [m.sources for m in OUTLETS.find(question)]


def test_outlets_by_name_alias_and_capitalisation() -> None:
    assert named("Did TechCrunch and the 'Sporting News' article agree?") == [
        ("TechCrunch",),
        ("Sporting News",),
    ]
    # Short forms of long outlet names, and one name standing for several sections.
    assert named("a CNBC report and a Fox News story") == [
        ("Cnbc | World Business News Leader",),
        ("FOX News - Health", "FOX News - Lifestyle"),
    ]
    assert named("as CBSSports reported, and a New York Times piece") == [
        ("CBSSports.com",),
        ("The New York Times",),
    ]
    # Ordinary words are not outlets: "the age of AI" is not The Age.
    assert named("In the age of AI, is the verge of collapse near?") == []


def test_each_outlet_and_its_date_is_a_sub_query() -> None:
    plan = analyze(
        "Did the TechCrunch report published on October 6, 2023 and the TechCrunch report "
        "published on Oct 7, 2023 agree with The Verge before November 1, 2023?",
        OUTLETS,
    )
    assert [(d.day, d.relation) for d in plan.dates] == [
        (date(2023, 10, 6), "on"),
        (date(2023, 10, 7), "on"),
        (date(2023, 11, 1), "before"),
    ]
    subs = [(s.filters.source, s.filters.since, s.filters.until) for s in plan.subqueries]
    assert subs == [
        (["TechCrunch"], date(2023, 10, 5), date(2023, 10, 7)),  # a day of slack either way
        (["TechCrunch"], date(2023, 10, 6), date(2023, 10, 8)),
        (["The Verge"], None, date(2023, 11, 2)),
    ]
    assert "TechCrunch" not in keyword_text(plan) and "2023" not in keyword_text(plan)


def test_caller_filters_narrow_sub_queries() -> None:
    question = "Do TechCrunch and The Verge agree?"
    plan = analyze(question, OUTLETS, Filters(source="the verge", since="2023-10-01"))
    assert [(s.filters.source, s.filters.since) for s in plan.subqueries] == [
        (["The Verge"], date(2023, 10, 1))
    ]


def test_unanswerable_signals() -> None:
    unknown = analyze("What did a Bloomberg article and TechCrunch say about Nvidia?", OUTLETS, words=WORDS)
    assert unknown.unknown_outlets == ["Bloomberg"]
    assert "Bloomberg" in (unknown.unanswerable() or "")
    absent = analyze("Which phones did Zorblax Quintero sell, as The Verge said?", OUTLETS, words=WORDS)
    assert absent.absent_names == ["Zorblax Quintero"]
    dated = analyze("Which phones did Apple sell, reported in May 2020 or on Friday?", OUTLETS, words=WORDS)
    assert dated.absent_names == []  # a month or a weekday is no one the corpus must mention
    fine = analyze("Which phones did Apple sell last quarter, according to The Verge?", OUTLETS, words=WORDS)
    assert fine.unanswerable() is None


def test_a_place_or_month_after_reported_in_is_not_taken_for_an_outlet() -> None:
    """ "Which earthquake was reported in Italy?" was refused: "holds no articles from Italy"."""
    for question in (
        "Which earthquake was reported in Italy?",
        "What was reported in March about Nvidia?",
        "Which storm was reported in September 2020?",
        "What was published in New York about phones?",
    ):
        assert analyze(question, OUTLETS, words=WORDS).unknown_outlets == [], question
    for question, name in (
        ("What was discussed in the Guardian about phones?", "the Guardian"),
        ("What was reported in Business Standard about Apple?", "Business Standard"),
        ("What was reported in NPR about Apple?", "NPR"),
        ("Which phones did Apple sell, according to Bloomberg?", "Bloomberg"),
    ):
        assert analyze(question, OUTLETS, words=WORDS).unknown_outlets == [name], question
    # Opening a question, "According to" names a person or an agency as often as an outlet.
    assert analyze("According to the CDC, how many phones did Apple sell?", OUTLETS).unknown_outlets == []


def test_a_filter_naming_part_of_an_outlet_suggests_it() -> None:
    outlets = OutletIndex(["BBC", "CNN", "Fox News"])  # "fox news" is the closer spelling
    plan = analyze("What did Apple sell?", outlets, Filters(source=["BBC News"]), words=WORDS)
    assert plan.unknown_outlets == ["“BBC News” (did you mean “BBC”?)"]


def texts(question: str) -> list[str]:
    return [c.text for c in clauses(question)]


def test_a_multi_part_question_splits_into_clauses() -> None:
    question = (
        "Which company, known for dominating the e-reader space with its Kindle lineup, "
        "has also created a Prime-themed sale day and introduced invite-only deals?"
    )
    parts = texts(question)
    assert len(parts) == 3
    assert any("Kindle lineup" in p for p in parts)
    assert any("Prime-themed sale day" in p and "invite-only" not in p for p in parts)
    assert set(content_words(question)) - set(content_words(" ".join(parts))) <= {"also"}  # only joiners go
    assert texts("Who won the match?") == ["Who won the match"]  # too short to split
    assert texts("Did he pass 2,000 receiving yards this season?") == [
        "Did he pass 2,000 receiving yards this season"
    ]  # a number's comma is no break
    assert clauses("") == []


def test_the_words_pointing_at_a_source_are_no_clause_of_their_own() -> None:
    # "Does the article suggest" and "while the report indicates" say nothing about what the
    # articles hold: matched on their own, they would pull in any chunk that says "report".
    plan = analyze(
        "Does the TechCrunch article suggest that the startup raised a large seed round, while "
        "the report from The Verge indicates that its founder left the company in October?",
        OUTLETS,
    )
    assert [c.text for c in plan.clauses] == [
        "Does the article suggest the startup raised a large seed round",
        "while the report from indicates its founder left the company in October",
    ]


def test_each_clause_is_credited_to_the_outlet_it_names() -> None:
    plan = analyze(
        "Which billionaire inflated the value of his apartment, according to 'The Age', and is "
        "accused of hiding losses, as reported by TechCrunch, while The Verge article on "
        "2023-10-05 says he lost a lawsuit?",
        OUTLETS,
    )
    outlets = [s.filters.source for s in plan.subqueries]
    assert outlets == [["The Age"], ["TechCrunch"], ["The Verge"]]
    assert [d.day for d in plan.dates] == [date(2023, 10, 5)]  # an ISO date is a date too
    # "according to X" after a part credits that part; "the X article says" the part it opens.
    credited = [[outlets[j] for j in c.subqueries] for c in plan.clauses]
    assert credited == [[["The Age"]], [["TechCrunch"]], [["The Verge"]]]
    assert "2023" not in " ".join(c.text for c in plan.clauses)
