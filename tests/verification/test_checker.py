"""The claim checker on short news texts written here: quotes with exact document offsets,
contradictions that say what conflicts, unsupported claims, two-sentence claims, precomputed
vectors, and sentences with nothing to check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import OnnxEmbedding
from rag.text import sentence_spans
from rag.verification import ClaimChecker, Evidence, Judgement, Verdict, checkable
from rag.verification.model import MODEL_FILE

HEADER = "Business | Updated 7 December\n\n"
ARTICLE = (
    "Acme Motors will close its assembly plant in Toledo, Ohio, by March, the company said on Monday. "
    "5 sources familiar with the plan told Reuters that about 1,200 workers would lose their jobs. "
    "The carmaker did not approve a proposal from the United Auto Workers union to keep the plant open. "
    "Chief executive Maria Lopez said the decision was driven by falling demand for sedans."
)
OTHER = (
    "Shares of Acme Motors rose 3% in early trading on Tuesday. "
    "Analysts at Barclays said the closure would save the company $400 million a year."
)
DOCUMENT = HEADER + ARTICLE


@pytest.fixture(scope="module")
def checker(embed: OnnxEmbedding) -> ClaimChecker:
    return ClaimChecker(embed)


def evidence() -> list[Evidence]:
    return [Evidence(ARTICLE, offset=len(HEADER)), Evidence(OTHER)]


def judge(checker: ClaimChecker, claim: str, items: list[Evidence] | None = None) -> Judgement:
    return checker.check([claim], [items if items is not None else evidence()])[0]


def test_a_faithful_sentence_is_supported_with_its_exact_quote(checker: ClaimChecker) -> None:
    result = judge(checker, "Acme Motors will close its plant in Toledo, Ohio, by March, the company said.")
    assert result.verdict is Verdict.SUPPORTED
    assert result.score > 0.5
    span = result.spans[0]
    assert span.evidence == 0 and span.start >= len(HEADER)
    assert DOCUMENT[span.start : span.end] == span.text
    assert span.text.startswith("Acme Motors will close its assembly plant in Toledo")


def test_a_swapped_number_is_contradicted_with_both_values(checker: ClaimChecker) -> None:
    result = judge(
        checker,
        "3 sources familiar with the plan told Reuters that about 1,200 workers would lose their jobs.",
    )
    assert result.verdict is Verdict.CONTRADICTED
    conflict = result.conflict
    assert conflict is not None and conflict.kind == "number"
    assert conflict.claim_text == "3 sources" and conflict.evidence_text == "5 sources"
    assert DOCUMENT[conflict.evidence.start : conflict.evidence.end] == conflict.evidence.text
    assert conflict.evidence_text in conflict.evidence.text


JET = "Kayahan was born on March 29, 1949. The Su-24 was shot down by F-16 fighters on 24 November."


@pytest.mark.parametrize(
    ("claim", "claimed", "stated"),
    [
        ("Kayahan was born on 19 March 1949.", "19", "29"),  # day before the month, as the British write it
        ("The Su-24 was shot down by F-16 fighters on 14 November.", "14", "24"),  # "24" of Su-24 is no day
        ("The Su-25 was shot down by F-16 fighters on 24 November.", "Su-25", "Su-24"),
    ],
)
def test_a_changed_date_or_model_is_contradicted(
    checker: ClaimChecker, claim: str, claimed: str, stated: str
) -> None:
    result = judge(checker, claim, [Evidence(JET)])
    assert result.verdict is Verdict.CONTRADICTED
    assert result.conflict is not None
    assert (result.conflict.claim_text, result.conflict.evidence_text) == (claimed, stated)


def test_the_same_date_written_the_other_way_is_supported(checker: ClaimChecker) -> None:
    assert judge(checker, "Kayahan was born on 29 March 1949.", [Evidence(JET)]).verdict is Verdict.SUPPORTED


def test_a_negation_flip_is_contradicted(checker: ClaimChecker) -> None:
    claim = "The carmaker approved a proposal from the United Auto Workers union to keep the plant open."
    result = judge(checker, claim)
    assert result.verdict is Verdict.CONTRADICTED
    assert result.conflict is not None and result.conflict.kind == "negation"
    assert "not" in result.conflict.evidence_text
    assert claim[result.conflict.claim_start : result.conflict.claim_end] == result.conflict.claim_text


def test_an_unrelated_sentence_is_unsupported(checker: ClaimChecker) -> None:
    result = judge(checker, "The city zoo welcomed a baby giraffe named Kiki after a long pregnancy.")
    assert result.verdict is Verdict.UNSUPPORTED
    assert result.score < 0.5


def test_a_claim_resting_on_two_sentences_cites_both(checker: ClaimChecker) -> None:
    claim = (
        "Acme Motors will close its Toledo plant by March, and analysts at Barclays said "
        "the closure would save $400 million a year."
    )
    result = judge(checker, claim)
    assert result.verdict is Verdict.SUPPORTED
    assert {span.evidence for span in result.spans} == {0, 1}


def test_no_evidence_is_unsupported_with_no_spans(checker: ClaimChecker) -> None:
    result = judge(checker, "Acme Motors will close its assembly plant in Toledo.", [])
    assert result.verdict is Verdict.UNSUPPORTED and result.score < 0.01 and result.spans == []


def with_vectors(embed: OnnxEmbedding) -> list[Evidence]:
    """The evidence with its sentences and their MiniLM vectors, as an index stores them."""
    items = []
    for item in evidence():
        spans = sentence_spans(item.text, offset=item.offset)
        texts = [item.text[a - item.offset : b - item.offset] for a, b in spans]
        items.append(Evidence(item.text, item.offset, spans, embed.embed_batch(texts).astype(np.float16)))
    return items


CLAIMS = [
    "Acme Motors will close its plant in Toledo, Ohio, by March, the company said.",
    "3 sources familiar with the plan told Reuters that about 1,200 workers would lose their jobs.",
    "The city zoo welcomed a baby giraffe named Kiki after a long pregnancy.",
]


def test_precomputed_vectors_give_the_same_judgements(checker: ClaimChecker, embed: OnnxEmbedding) -> None:
    computed = checker.check(CLAIMS, [evidence()] * len(CLAIMS))
    given = checker.check(CLAIMS, [with_vectors(embed)] * len(CLAIMS))
    assert [j.verdict for j in given] == [j.verdict for j in computed]
    assert [j.spans for j in given] == [j.spans for j in computed]


def test_a_model_reading_embeddings_uses_the_vectors_given(embed: OnnxEmbedding, tmp_path: Path) -> None:
    """The shipped model reads no transformer feature; one that does (a refit with
    ``--families dense``) must judge alike whether it embeds the evidence or is given vectors."""
    shipped = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    shipped["features"].append("cos_best")
    shipped["linear"].append(2.0)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(shipped), encoding="utf-8")
    checker = ClaimChecker(embed, path)
    assert checker.families == {"dense"}
    computed = checker.check(CLAIMS, [evidence()] * len(CLAIMS))
    given = checker.check(CLAIMS, [with_vectors(embed)] * len(CLAIMS))
    assert [j.verdict for j in given] == [j.verdict for j in computed]
    assert np.allclose([j.score for j in given], [j.score for j in computed], atol=0.01)
    assert computed[0].score != ClaimChecker(embed).check(CLAIMS[:1], [evidence()])[0].score


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Key findings", False),
        ("## What the report says", False),
        ("Why did Acme close the plant?", False),
        ("In short:", False),
        ("9.", False),
        ("Acme Motors will close its plant in Toledo by March.", True),
        ("About 1,200 workers will lose their jobs.", True),
    ],
)
def test_checkable(text: str, expected: bool) -> None:
    assert checkable(text) is expected


def test_a_year_after_a_hyphen_is_still_a_date(checker: ClaimChecker) -> None:
    evidence = [Evidence("The plant will close in mid-2020, the company said.")]
    result = judge(checker, "The plant will close in 2021, the company said.", evidence)
    assert result.verdict is Verdict.CONTRADICTED
    assert result.conflict is not None and result.conflict.evidence_text == "2020"
