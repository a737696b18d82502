"""A why-question's answer holds the sentence stating the reason beside the event."""

from __future__ import annotations

from rag.answer_reason import asks_why, reason_beside, states_cause

EVENT = "The council closed the coast road on Friday."
REASON = "The decision follows two crashes at the bend in a week."
OTHER = "Drivers will use the inland route until March."


def test_questions_asking_for_a_reason() -> None:
    for question in (
        "Why was the coast road closed?",
        "How come the road shut?",
        "What was the reason for the closure?",
        "What caused the road to close?",
        "For what reason did the council act?",
    ):
        assert asks_why(question), question
    for question in ("When was the road closed?", "What did the council say about the reason?"):
        assert not asks_why(question), question


def test_the_nearest_sentence_stating_a_cause_in_the_same_article_is_added() -> None:
    sentences = [("a", 0, EVENT), ("a", 60, OTHER), ("a", 120, REASON), ("b", 0, "It closed after a crash.")]
    assert reason_beside("Why was the coast road closed?", sentences, [0]) == 2
    before = [("a", 0, REASON), ("a", 60, EVENT)]  # a reason may come first
    assert reason_beside("Why was the coast road closed?", before, [1]) == 0


def test_nothing_is_added_when_not_needed() -> None:
    sentences = [("a", 0, EVENT), ("a", 60, REASON)]
    assert reason_beside("When was the coast road closed?", sentences, [0]) is None  # not a why
    assert reason_beside("Why was the coast road closed?", sentences, [0, 1]) is None  # already there
    far = [("a", 0, EVENT), ("a", 50, OTHER), ("a", 90, OTHER + " "), ("a", 130, REASON)]
    assert reason_beside("Why was the coast road closed?", far, [0]) is None  # too far away
    elsewhere = [("a", 0, EVENT), ("b", 10, REASON)]
    assert reason_beside("Why was the coast road closed?", elsewhere, [0]) is None  # another article


def test_after_a_length_of_time_is_when_not_why() -> None:
    """'The strike ended after 12 days' states no cause, so the reason beside it is still added."""
    assert states_cause("He resigned after a scandal over expenses.")
    assert states_cause("Following the crash, the road was shut.")
    for when in (
        "The strike ended after 12 days.",
        "It reopened after a few weeks.",
        "following two hours of talks",
    ):
        assert not states_cause(when), when
    sentences = [
        ("a", 0, "The strike ended on Monday after 12 days."),
        ("a", 50, "It ended because pay rose."),
    ]
    assert reason_beside("Why did the strike end?", sentences, [0]) == 1
