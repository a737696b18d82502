"""Checking any text against the news: a draft, or another system's answer -> a verdict per
sentence, with the evidence quoted exactly.

Input: the text, and either documents given with it (checked against those only; nothing is
ingested or stored, no index needed) or nothing (each sentence's evidence is retrieved from the
indexed corpus, within ``filters``). Output: a ``Verification``: per sentence its offsets in the
submitted text, the claim checker's verdict and calibrated score, the evidence as ``Citation``s
(the same objects as answers') and, for a contradiction, what conflicts. Sentences that state
nothing checkable (a heading, a question) are listed apart, out of the verdict; a text with
none is ``empty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from rag.answer import SentenceSource, within
from rag.citations import citation
from rag.errors import BadInput, TooLarge
from rag.judge import Verifier
from rag.models import Citation, Conflict, Filters, NonBlank, Passage, Verdict
from rag.retrieval import Retriever
from rag.text import sentence_spans
from rag.verification import Evidence, Judgement, checkable

MAX_TEXT_CHARS = 20_000
MAX_DOCUMENTS = 20
MAX_TOTAL_CHARS = 200_000
EVIDENCE_PASSAGES = 5  # passages retrieved per sentence when checking against the corpus


class VerifyDocument(BaseModel):
    """A document to check the text against instead of the corpus."""

    text: NonBlank = Field(min_length=1, description="The document's text; evidence offsets point into it.")
    title: str | None = None
    source: str | None = Field(None, description="Outlet name.")
    published_at: datetime | None = None
    url: str | None = None


class CheckedSentence(BaseModel):
    text: str
    start: int = Field(description="Offset of the sentence in the submitted text.")
    end: int
    verdict: Verdict
    score: float = Field(description="Calibrated probability that a careful reader calls it supported.")
    citations: list[Citation] = Field(description="The evidence sentences, quoted exactly.")
    conflict: Conflict | None = None


class Counts(BaseModel):
    supported: int = 0
    unsupported: int = 0
    contradicted: int = 0


class NotChecked(BaseModel):
    """A sentence that states nothing a reader could check: a heading, a question, a fragment."""

    text: str
    start: int = Field(description="Offset of the sentence in the submitted text.")
    end: int


class Verification(BaseModel):
    """The verdict on a whole text: ``supported`` when every checkable sentence is, else
    ``contradicted`` when one is, else ``unsupported``; ``empty`` when none is checkable."""

    verdict: Literal["supported", "unsupported", "contradicted", "empty"]
    counts: Counts
    sentences: list[CheckedSentence]
    not_checked: list[NotChecked] = Field(
        default_factory=list,
        description="Sentences left out of the verdict: a heading, a question, or too few words to check.",
    )
    degraded: bool = False
    degraded_reason: str | None = None


def check_limits(text: str, documents: Sequence[VerifyDocument] | None) -> None:
    """Raise ``TooLarge`` (HTTP 413) for a request over the limits."""
    if len(text) > MAX_TEXT_CHARS:
        raise TooLarge(f"The text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}.")
    documents = documents or []
    if len(documents) > MAX_DOCUMENTS:
        raise TooLarge(f"{len(documents)} documents were sent; the limit is {MAX_DOCUMENTS}.")
    total = len(text) + sum(len(d.text) for d in documents)
    if total > MAX_TOTAL_CHARS:
        raise TooLarge(f"The text and documents hold {total:,} characters; the limit is {MAX_TOTAL_CHARS:,}.")


def given_passages(documents: Sequence[VerifyDocument]) -> list[Passage]:
    """Documents sent with the text, as passages whose offsets are their own."""
    return [
        Passage(
            id=f"document-{i}",
            document_id=f"document-{i}",
            text=d.text,
            start=0,
            end=len(d.text),
            score=1.0,
            title=d.title or f"Document {i}",
            source=d.source,
            published_at=d.published_at,
            url=d.url,
        )
        for i, d in enumerate(documents, start=1)
    ]


class TextChecker:
    """Verifies texts with one verifier, against given documents or (with a retriever) the corpus;
    ``sentences``: what the index kept about sentences, so corpus evidence is not split or
    embedded again."""

    def __init__(
        self, verifier: Verifier, retriever: Retriever | None, sentences: SentenceSource | None = None
    ) -> None:
        self.verifier = verifier
        self.retriever = retriever
        self.sentences = sentences

    def verify(
        self,
        text: str,
        documents: Sequence[VerifyDocument] | None = None,
        filters: Filters | None = None,
        top_k: int | None = None,
    ) -> Verification:
        check_limits(text, documents)
        spans, skipped = [], []
        for a, b in sentence_spans(text):
            if checkable(text[a:b]):
                spans.append((a, b))
            else:
                skipped.append(NotChecked(text=text[a:b], start=a, end=b))
        if not spans:
            return Verification(verdict="empty", counts=Counts(), sentences=[], not_checked=skipped)
        claims = [text[a:b] for a, b in spans]
        if documents:
            given = given_passages(documents)
            evidence = [given] * len(claims)
        else:
            if self.retriever is None:
                raise BadInput("Send the documents to check the text against (no corpus is open).")
            k = top_k or EVIDENCE_PASSAGES
            evidence = [self.retriever.search(claim, k, filters) for claim in claims]
        checked = self.verifier.check(claims, self._evidence(evidence, from_corpus=not documents))
        numbering = _Numbering()
        sentences = [
            _sentence(text, span, judgement, passages, numbering)
            for span, judgement, passages in zip(spans, checked.judgements, evidence, strict=True)
        ]
        result = rollup(sentences)
        result.not_checked = skipped
        if checked.degraded_reason:
            result.degraded, result.degraded_reason = True, checked.degraded_reason
        return result

    def _evidence(self, evidence: list[list[Passage]], from_corpus: bool) -> list[list[Evidence]]:
        """The checker's evidence per claim: for passages of the index, with the sentence spans and
        vectors ingest stored (a passage whose sentences are not all stored gets them computed)."""
        if not from_corpus or self.sentences is None:
            return [[Evidence(p.text, p.start) for p in passages] for passages in evidence]
        every = list({p.id: p for passages in evidence for p in passages}.values())
        spans = self.sentences.article_sentences(list({p.document_id for p in every}))
        vectors = self.sentences.stored_sentence_vectors(every)
        out = []
        for passages in evidence:
            items = []
            for p in passages:
                inside = within(p, spans) if p.document_id in spans else None
                found = [vectors.get((p.document_id, a, b)) for a, b in inside or []]
                complete = bool(inside) and all(v is not None for v in found)
                items.append(
                    Evidence(p.text, p.start, inside, np.vstack(found) if complete else None)  # type: ignore[arg-type]
                )
            out.append(items)
        return out


def rollup(sentences: list[CheckedSentence]) -> Verification:
    counts = Counts(
        supported=sum(s.verdict == "supported" for s in sentences),
        unsupported=sum(s.verdict == "unsupported" for s in sentences),
        contradicted=sum(s.verdict == "contradicted" for s in sentences),
    )
    if not sentences:
        verdict: Literal["supported", "unsupported", "contradicted", "empty"] = "empty"
    elif counts.contradicted:
        verdict = "contradicted"
    elif counts.unsupported:
        verdict = "unsupported"
    else:
        verdict = "supported"
    return Verification(verdict=verdict, counts=counts, sentences=sentences)


class _Numbering:
    """Citation ids unique over the whole verification: one per quoted span."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, int, int], int] = {}

    def cite(self, passage: Passage, start: int, end: int) -> Citation:
        key = (passage.document_id, start, end)
        number = self.ids.setdefault(key, len(self.ids) + 1)
        quote = passage.text[start - passage.start : end - passage.start]
        return citation(passage, number, start, end, quote, passage.score)


def _sentence(
    text: str,
    span: tuple[int, int],
    judgement: Judgement,
    passages: list[Passage],
    numbering: _Numbering,
) -> CheckedSentence:
    a, b = span
    citations = [numbering.cite(passages[s.evidence], s.start, s.end) for s in judgement.spans]
    conflict = None
    found = judgement.conflict
    if found is not None:
        held = numbering.cite(passages[found.evidence.evidence], found.evidence.start, found.evidence.end)
        if held.id not in {c.id for c in citations}:
            citations.append(held)
        conflict = Conflict(
            kind=found.kind,  # type: ignore[arg-type]
            claim_text=found.claim_text,
            claim_start=found.claim_start,
            claim_end=found.claim_end,
            evidence_text=found.evidence_text,
            citation=held.id,
        )
    return CheckedSentence(
        text=text[a:b],
        start=a,
        end=b,
        verdict=judgement.verdict.value,  # type: ignore[arg-type]
        score=round(judgement.score, 4),
        citations=citations,
        conflict=conflict,
    )
