"""The claim checker's own types: what a caller passes (``Evidence``) and what it gets back
(``Judgement`` with its ``Span`` quotes and, for a contradiction, the ``Conflict``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Verdict(StrEnum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"
    CONTRADICTED = "contradicted"  # the evidence states another number, date, name, place, or the negation


@dataclass
class Evidence:
    """One piece of evidence a claim may be checked against: ``text`` starts at ``offset`` in its
    document, and every span returned is in document coordinates (offset + position in text)."""

    text: str
    offset: int = 0
    sentences: list[tuple[int, int]] | None = None  # (start, end) in document coordinates, if known
    vectors: np.ndarray | None = None  # MiniLM vectors of those sentences, rows aligned with them


@dataclass
class Span:
    """A quote: ``text == document[start:end]`` of the claim's ``evidence``-th evidence."""

    evidence: int
    start: int
    end: int
    text: str


@dataclass
class Conflict:
    """What the evidence states differently: ``kind`` (number, date, name, place or negation), the
    claim's part (offsets into the claim), the evidence sentence holding the other value, and
    that value as the evidence writes it (``evidence_text``, e.g. "5 sources")."""

    kind: str
    claim_start: int
    claim_end: int
    claim_text: str
    evidence: Span
    evidence_text: str


@dataclass
class Judgement:
    """A claim's verdict, the calibrated probability that a careful reader calls it supported by
    the evidence, the evidence sentences it rests on, and for a contradiction, the conflict."""

    verdict: Verdict
    score: float
    spans: list[Span]
    conflict: Conflict | None = None
