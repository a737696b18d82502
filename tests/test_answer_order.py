"""An extractive answer to a question asking for an entity leads with the sentence naming it in full."""

from __future__ import annotations

from rag.answer_order import lead_index, seeks_entity

SENTENCES = [
    "The standout testimony came from Caroline Ellison, who said Bankman-Fried told her to take it.",
    "Prosecutors said Bankman-Fried used customer deposits to buy property.",
    "The criminal trial of Sam Bankman-Fried, former chief executive of FTX, began on Tuesday.",
]


def test_who_question_leads_with_the_full_name_of_the_recurring_person() -> None:
    question = "Who is the individual on trial, accused of using customer deposits to buy property?"
    assert lead_index(question, SENTENCES) == 2


def test_a_question_not_asking_for_an_entity_keeps_the_ranked_order() -> None:
    question = "What did prosecutors say about the customer deposits?"
    assert not seeks_entity(question)
    assert lead_index(question, SENTENCES) == 0


def test_a_name_the_question_already_holds_is_not_the_answer() -> None:
    question = "Which witness testified against Bankman-Fried at his trial?"
    # Only "Caroline Ellison" is new, and one sentence names her: no sign enough to reorder.
    assert lead_index(question, SENTENCES) == 0


def test_entity_kinds_after_what() -> None:
    assert seeks_entity("What company, reported by TechCrunch, was sued?")
    assert seeks_entity("what sports betting platform offers cash-out?")
    assert not seeks_entity("What happened to the bridge?")


def test_a_common_word_opening_sentences_is_no_name() -> None:
    sentences = [
        "John Doe, 34, was arrested on Monday over the stabbing, police said.",
        "Police said the victim was taken to hospital.",
        "Detective Chief Inspector Mary Lee of West Yorkshire Police appealed for witnesses.",
    ]
    assert lead_index("Who was arrested over the stabbing in Leeds?", sentences) == 0
