"""Checking any text: against documents sent with it (nothing stored) or against the corpus."""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.errors import NothingIndexed, TooLarge
from rag.verify import MAX_DOCUMENTS, MAX_TEXT_CHARS, VerifyDocument

REPORT = VerifyDocument(
    title="Harbor council approves budget",
    source="Harbor Gazette",
    text=(
        "The Harbor town council approved the 2024 budget on Tuesday. "
        "Five sources told the Gazette that the vote was unanimous. "
        "The budget raises spending on schools by 12 percent."
    ),
)


def test_a_changed_number_is_contradicted_with_both_values_and_the_span(engine: Engine) -> None:
    text = (
        "The Harbor town council approved the 2024 budget on Tuesday. "
        "Three sources told the Gazette that the vote was unanimous."
    )
    result = engine.verify(text, [REPORT])
    first, second = result.sentences
    assert first.verdict == "supported" and first.start == 0 and text[first.start : first.end] == first.text
    quote = first.citations[0]
    assert REPORT.text[quote.start : quote.end] == quote.quote and "2024 budget" in quote.quote
    assert second.verdict == "contradicted" and result.verdict == "contradicted"
    conflict = second.conflict
    assert conflict is not None
    assert "Three" in conflict.claim_text and "Five" in conflict.evidence_text
    assert second.text[conflict.claim_start : conflict.claim_end] == conflict.claim_text
    held = next(c for c in second.citations if c.id == conflict.citation)
    assert "Five sources" in held.quote and REPORT.text[held.start : held.end] == held.quote
    assert result.counts.model_dump() == {"supported": 1, "unsupported": 0, "contradicted": 1}
    assert engine.store.count_articles() == 0  # nothing was ingested


def test_a_claim_the_documents_do_not_hold_is_unsupported(engine: Engine) -> None:
    result = engine.verify("The mayor resigned after the vote.", [REPORT])
    assert [s.verdict for s in result.sentences] == ["unsupported"] and result.verdict == "unsupported"
    assert 0.0 <= result.sentences[0].score < 0.5


def test_against_the_corpus_the_evidence_is_retrieved_and_cited(seeded: Engine) -> None:
    text = (
        "China is providing Russia with geospatial satellite imagery for military use. "
        "China has sent Russia fighter jets."
    )
    result = seeded.verify(text)
    first, second = result.sentences
    assert first.verdict == "supported"
    assert "geospatial satellite imagery" in first.citations[0].quote
    assert first.citations[0].source == "Business Insider"
    assert second.verdict != "supported" and result.verdict != "supported"


def test_a_text_with_nothing_checkable_is_empty(engine: Engine) -> None:
    text = "Key points\n\nWhat did the council decide?"
    result = engine.verify(text, [REPORT])
    assert result.verdict == "empty" and result.sentences == []
    assert [(n.text, text[n.start : n.end]) for n in result.not_checked] == [
        ("Key points", "Key points"),
        ("What did the council decide?", "What did the council decide?"),
    ]


def test_sentences_left_out_of_the_verdict_are_listed_apart(engine: Engine) -> None:
    """A user checking a draft sees every sentence: those stating nothing checkable are named,
    not dropped silently."""
    text = "What happened? The council approved the budget on Tuesday."
    result = engine.verify(text, [REPORT])
    assert [s.text for s in result.sentences] == ["The council approved the budget on Tuesday."]
    assert [(n.text, n.start) for n in result.not_checked] == [("What happened?", 0)]


def test_limits_and_an_empty_corpus_are_clear_errors(engine: Engine) -> None:
    with pytest.raises(TooLarge, match="20,000"):
        engine.verify("x" * (MAX_TEXT_CHARS + 1), [REPORT])
    with pytest.raises(TooLarge, match="documents"):
        engine.verify("The council met.", [REPORT] * (MAX_DOCUMENTS + 1))
    with pytest.raises(NothingIndexed):
        engine.verify("The council met on Tuesday.")
