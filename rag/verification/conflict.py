"""Contradiction: the claim lines up with one evidence sentence except for a value that sentence
states differently (another number, date, name or place in the same place in the sentence), or
one of the two negates what the other states.

A rule over the alignment rather than a fitted model: it must say *what* conflicts, and the
synthetic corruptions it is checked on are made by the same kind of swap (docs/verification.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.text import function_words
from rag.verification.claims import MONTHS, Reading, Value, negates
from rag.verification.evidence import Alignment, Pool

# The share of the claim's other content (idf-weighted) the sentence must hold before a value
# it states differently counts as a conflict rather than a different fact.
MIN_REST = 0.6
MIN_NEGATION = 0.75  # ... the share of all its content, for a negation flip
_PARTICLES = frozenset({"yet", "even", "just", "always", "also", "ever", "really", "necessarily"})
_KINDS = {"number": {"number"}, "date": {"date"}, "name": {"name", "place"}, "place": {"place", "name"}}


@dataclass
class Found:
    """A conflict before it is put in document terms: offsets are into the claim and into the
    evidence sentence ``sentence`` (an index into the pool)."""

    kind: str
    claim: tuple[int, int]
    sentence: int
    evidence: tuple[int, int]
    value: Value | None = None  # the claim's value, for a value conflict


def find(claim: Reading, pool: Pool, alignment: Alignment) -> Found | None:
    """The first conflict between ``claim`` and its candidate sentences, best aligned first."""
    if len(alignment.weights) < 3:
        return None
    total = sum(alignment.weights.values())
    value_stems = {claim.stems[i] for v in claim.values for i in range(v.first, v.last + 1)}
    rest = {t: w for t, w in alignment.weights.items() if t not in value_stems}
    rest_total = sum(rest.values())
    holds_rest = [
        bool(rest_total)
        and sum(w for t, w in rest.items() if t in pool.sentences[i].terms) / rest_total >= MIN_REST
        for i in alignment.top
    ]
    for i, holds in zip(alignment.top, holds_rest, strict=True):
        sentence = pool.sentences[i]
        if holds:
            found = _value_conflict(claim, sentence.reading, i)
            # Void when another candidate holding as much of the claim states its value.
            stated = found and any(
                other and j != i and found.value and _said(found.value, pool.sentences[j].reading)
                for j, other in zip(alignment.top, holds_rest, strict=True)
            )
            if found and not stated:
                return found
        held = sum(w for t, w in alignment.weights.items() if t in sentence.terms) / total
        if held >= MIN_NEGATION and (claim.negations > 0) != (sentence.reading.negations > 0):
            found = _negation_conflict(claim, sentence.reading, i)
            if found and not _same_polarity_elsewhere(claim, pool, alignment, held):
                return found
    return None


def _said(value: Value, sentence: Reading) -> bool:
    """Whether ``sentence`` states ``value``: the same value, or for a name any of its words
    ("Mr Davey" for "Alan Davey") or nearly its spelling ("Himalalayn")."""
    said = {v.key for v in sentence.values} | set(sentence.stems) | set(sentence.words)
    if value.key in said:
        return True
    if value.kind not in ("name", "place"):
        return False
    return any(w in said for w in value.key.split()) or any(
        SequenceMatcher(None, value.key, v.key).ratio() >= 0.8 for v in sentence.values
    )


def _value_conflict(claim: Reading, sentence: Reading, index: int) -> Found | None:
    # What the claim states elsewhere is no rival: its values and its words, but not the digits
    # of a name ("Su-24" does not state 24 November).
    claimed = {v.key for v in claim.values} | {w for w in claim.words if not w[0].isdigit()}
    for value in claim.values:
        if "unk" in value.key.split() or _said(value, sentence):
            continue
        rivals = [
            u
            for u in sentence.values
            if u.kind in _KINDS[value.kind] and u.key not in claimed and not set(u.key.split()) <= claimed
        ]
        if not rivals:
            continue
        scored = [(_context(claim, value, sentence, u), u) for u in rivals]
        score, rival = max(scored, key=lambda pair: pair[0])
        if score == 0:
            continue  # nothing says the sentence's value stands where the claim's does
        claim_span, rival_span = _with_unit(claim, value, sentence, rival)
        return Found(value.kind, claim_span, index, rival_span, value)
    return None


def _context(claim: Reading, value: Value, sentence: Reading, rival: Value) -> int:
    """How many content words within two words either side of each value are the same words on
    the same side ("3 sources" / "5 sources"): a function word beside both proves nothing."""
    stop = function_words()

    def around(reading: Reading, v: Value) -> set[tuple[int, str]]:
        before = [
            (-d, reading.words[v.first - d], reading.stems[v.first - d]) for d in (1, 2) if v.first - d >= 0
        ]
        after = [
            (d, reading.words[v.last + d], reading.stems[v.last + d])
            for d in (1, 2)
            if v.last + d < len(reading.stems)
        ]
        # A day beside its month on either side: "19 March" stands where "March 29" does.
        return {
            (0 if v.kind == "date" and word in MONTHS else side, stem)
            for side, word, stem in before + after
            if word not in stop
        }

    return len(around(claim, value) & around(sentence, rival))


def _with_unit(claim: Reading, value: Value, sentence: Reading, rival: Value) -> tuple[tuple[int, int], ...]:
    """The two values' offsets, each with the word after it when that word is the same in both
    ("3 sources" / "5 sources"), for numbers."""
    a, b = value.last + 1, rival.last + 1
    if (
        value.kind == "number"
        and a < len(claim.words)
        and b < len(sentence.words)
        and claim.stems[a] == sentence.stems[b]
        and claim.words[a] not in function_words()
    ):
        return (value.start, claim.spans[a][1]), (rival.start, sentence.spans[b][1])
    return (value.start, value.end), (rival.start, rival.end)


def _same_polarity_elsewhere(claim: Reading, pool: Pool, alignment: Alignment, held: float) -> bool:
    """Whether another candidate holds the claim about as well and negates as the claim does."""
    total = sum(alignment.weights.values())
    for i in alignment.top:
        reading = pool.sentences[i].reading
        if (claim.negations > 0) == (reading.negations > 0):
            share = sum(w for t, w in alignment.weights.items() if t in pool.sentences[i].terms) / total
            if share >= held - 0.1:
                return True
    return False


def _negation_conflict(claim: Reading, sentence: Reading, index: int) -> Found | None:
    """The negation and the word it negates in whichever of the two negates, and that word in the
    other; None when the other does not hold the negated word (the negation is about something
    else the sentence says) or the negation is "not only"."""
    negating, other = (claim, sentence) if claim.negations > 0 else (sentence, claim)
    stop = function_words()
    for at, word in enumerate(negating.words):
        if not negates(word):
            continue
        after = [j for j in range(at + 1, len(negating.words)) if negating.words[j] not in stop | _PARTICLES]
        if not after or negating.words[at + 1] in ("only", "two") or negating.words[after[0]][0].isdigit():
            continue  # "not only", "no two": no statement is denied
        target = after[0]
        match = next((j for j, s in enumerate(other.stems) if s == negating.stems[target]), None)
        # The negated word and the word after it must both be in the other text: a negation
        # elsewhere in a long sentence is about something the claim does not say.
        if match is None or (len(after) > 1 and negating.stems[after[1]] not in other.stems):
            continue
        negated = (negating.spans[at][0], negating.spans[target][1])
        plain = other.spans[match]
        claim_span, sentence_span = (negated, plain) if negating is claim else (plain, negated)
        return Found("negation", claim_span, index, sentence_span)
    return None
