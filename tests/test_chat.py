"""Follow-up condensation: which messages lean on the conversation, and what the answer leads with."""

from __future__ import annotations

import pytest

from rag.chat import Exchange, condense_by_rule, follow_up_focus
from rag.models import MAX_QUESTION_CHARS

FIRST = "What is China providing Russia?"
EARLIER = [Exchange(FIRST, FIRST, "Satellite imagery.")]


def test_a_follow_up_carries_the_earlier_topic() -> None:
    assert condense_by_rule("And what about Starlink?", EARLIER) == "And what about Starlink? (China Russia)"
    assert condense_by_rule("And what about Starlink?", []) == "And what about Starlink?"
    long = "And what about it " + "x " * 990  # under the limit, but not with the topic added
    assert len(long) <= MAX_QUESTION_CHARS and condense_by_rule(long, EARLIER) == long


@pytest.mark.parametrize(
    ("message", "focus"),
    [
        ("And what about Starlink?", "And what about Starlink?"),  # names its own subject
        ("How much did it cost?", None),  # its subject is the carried topic
        ("When was that?", None),
        ("What is Moldova's gas deal?", None),  # standalone: not condensed at all
    ],
)
def test_the_answer_leads_with_what_the_follow_up_names(message: str, focus: str | None) -> None:
    question = condense_by_rule(message, EARLIER)
    assert follow_up_focus(message, question) == focus
    assert follow_up_focus(message + "\n", question) == focus  # as sent, before it is cleaned
