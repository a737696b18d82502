"""The evidence of one claim, read once: its sentences (document offsets), an index of their
content stems, every value and word it holds; and the cheap lexical alignment that picks the
evidence sentences a claim rests on before any transformer runs (docs/verification.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.text import sentence_spans
from rag.verification.claims import Reading, read
from rag.verification.types import Evidence

TOP = 3  # candidate sentences per claim handed to the soft and embedding alignment
# A second sentence joins the best when it holds at least this share of the claim's weight
# that the best leaves out: less is a common word found anywhere, not the claim's other half.
MIN_GAIN = 0.1


@dataclass
class Sentence:
    """One evidence sentence: which evidence, its document offsets, how it reads."""

    evidence: int
    start: int
    end: int
    reading: Reading
    terms: frozenset[str]  # content stems


class Pool:
    """Every sentence of one claim's evidence and what the checker looks up in them."""

    def __init__(self, evidence: Sequence[Evidence]) -> None:
        self.evidence = list(evidence)
        self.sentences: list[Sentence] = []
        rows: list[np.ndarray] = []
        has_vectors = bool(evidence) and all(e.vectors is not None and e.sentences for e in evidence)
        for k, item in enumerate(evidence):
            spans = item.sentences if item.sentences else sentence_spans(item.text, offset=item.offset)
            for start, end in spans:
                reading = read(item.text[start - item.offset : end - item.offset])
                self.sentences.append(Sentence(k, start, end, reading, frozenset(reading.content_stems)))
            if has_vectors and item.vectors is not None:
                if len(item.vectors) != len(spans):
                    raise ValueError(f"evidence {k}: {len(item.vectors)} vectors for {len(spans)} sentences")
                rows.append(np.asarray(item.vectors, dtype=np.float32))
        self.vectors = np.vstack(rows) if rows and len(self.sentences) else None
        self.index: dict[str, list[int]] = {}
        self.words: set[str] = set()
        self.bigrams: set[tuple[str, str]] = set()
        self.values: dict[str, set[str]] = {}
        for i, sentence in enumerate(self.sentences):
            for term in sentence.terms:
                self.index.setdefault(term, []).append(i)
            self.words.update(sentence.reading.words)
            stems = sentence.reading.content_stems
            self.bigrams.update(zip(stems, stems[1:], strict=False))
            for value in sentence.reading.values:
                self.values.setdefault(value.kind, set()).add(value.key)

    def text(self, i: int) -> str:
        return self.sentences[i].reading.text

    def has_value(self, key: str) -> bool:
        return any(key in keys for keys in self.values.values())


@dataclass
class Alignment:
    """The evidence sentences a claim lines up with: ``top`` (best first, by the idf-weighted
    share of the claim's content stems each holds) and ``pair``, the best sentence and, when
    it adds to it, the one covering most of what the best leaves out."""

    top: list[int]
    pair: list[int]
    weights: dict[str, float]  # the claim's content stems and their weights


def align(claim: Reading, pool: Pool, idf: dict[str, float], default_idf: float) -> Alignment:
    """Line ``claim`` up with ``pool`` by its content stems, each weighted by its idf."""
    weights = {t: idf.get(t, default_idf) for t in claim.content_stems}
    n = len(pool.sentences)
    if not n or not weights:
        return Alignment([], [], weights)
    scores = np.zeros(n)
    for term, weight in weights.items():
        for i in pool.index.get(term, ()):
            scores[i] += weight
    # Of two sentences covering as much, the shorter says less besides.
    lengths = np.array([len(s.terms) for s in pool.sentences], dtype=np.float64)
    order = np.argsort(-(scores - 1e-3 * lengths), kind="stable")
    top = [int(i) for i in order[:TOP] if scores[i] > 0]
    if not top:  # no content word in common: nothing to quote
        return Alignment([], [], weights)
    best = top[0]
    left = {t: w for t, w in weights.items() if t not in pool.sentences[best].terms}
    pair = [best]
    if left:
        gains = np.zeros(n)
        for term, weight in left.items():
            for i in pool.index.get(term, ()):
                gains[i] += weight
        second = int(np.argmax(gains))
        if gains[second] >= MIN_GAIN * sum(weights.values()):
            pair.append(second)
    return Alignment(top, pair, weights)
