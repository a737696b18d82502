"""Alignment signals between a claim and its evidence -> one row of named features.

Three families (docs/verification.md says which the shipped model reads and why):
- lexical: which of the claim's content stems, bigrams, numbers, dates and names the evidence
  holds (all of it, its best sentence, its best pair of sentences), idf-weighted; negation;
  whether the claim is verbatim in the evidence;
- soft: each claim word's closest word in the candidate sentences by static word vectors;
- dense: MiniLM cosine of the claim and its candidate sentences, and a token-by-token
  (BERTScore-like) alignment of the claim with its best pair.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from rag.verification.claims import Reading
from rag.verification.evidence import Alignment, Pool
from rag.wordvectors import word_vectors

LEXICAL = (
    "n_content",  # log(1 + the claim's content stems)
    "cov_all",  # idf-weighted share of the claim's content stems anywhere in the evidence
    "cov_all_plain",  # ... unweighted
    "cov_best",  # ... in the best-aligned sentence
    "cov_pair",  # ... in the best pair of sentences
    "missing",  # idf mass of the claim's stems absent from all evidence (not a share)
    "bigram_all",  # share of the claim's adjacent content-stem pairs adjacent somewhere in the evidence
    "bigram_pair",  # ... in the best pair
    "values",  # log(1 + the claim's numbers, dates, names and places)
    "values_missing",  # how many of them the evidence never states
    "values_missing_pair",  # ... that the best pair does not state
    "name_words_missing",  # words of the claim's names absent from all evidence
    "negation_mismatch",  # the claim and its best sentence differ in whether they negate
    "order",  # longest common subsequence of content stems with the best sentence, over the claim's
    "verbatim",  # the claim's words appear in this order in one evidence sentence
    "best_extra",  # share of the best sentence's content stems the claim does not use
)
SOFT = ("soft_mean", "soft_min", "soft_low")
DENSE = ("cos_best", "cos_pair", "cos_top")
TOKENS = ("tok_mean", "tok_min", "tok_low")
CONFLICT = ("conflict",)
FEATURES = LEXICAL + SOFT + DENSE + TOKENS + CONFLICT


def lexical(claim: Reading, pool: Pool, alignment: Alignment) -> dict[str, float]:
    """The lexical features of ``claim`` against ``pool``."""
    weights = alignment.weights
    total = sum(weights.values()) or 1.0
    pair_terms = frozenset().union(*(pool.sentences[i].terms for i in alignment.pair))
    best = pool.sentences[alignment.pair[0]] if alignment.pair else None
    present = [t for t in weights if t in pool.index]
    stems = claim.content_stems
    bigrams = _bigrams(stems)
    pair_bigrams = {b for i in alignment.pair for b in _bigrams(pool.sentences[i].reading.content_stems)}
    values = claim.values
    pair_values = {v.key for i in alignment.pair for v in pool.sentences[i].reading.values}
    pair_values |= pair_terms
    name_words = {w for v in values if v.kind in ("name", "place") for w in v.key.split()}
    return {
        "n_content": math.log1p(len(weights)),
        "cov_all": sum(weights[t] for t in present) / total,
        "cov_all_plain": len(present) / max(len(weights), 1),
        "cov_best": _share(weights, best.terms if best else frozenset(), total),
        "cov_pair": _share(weights, pair_terms, total),
        "missing": total - sum(weights[t] for t in present) if weights else 0.0,
        "bigram_all": _fraction([b in pool.bigrams for b in bigrams]),
        "bigram_pair": _fraction([b in pair_bigrams for b in bigrams]),
        "values": math.log1p(len(values)),
        "values_missing": sum(not _stated(v.key, pool) for v in values),
        "values_missing_pair": sum(v.key not in pair_values for v in values),
        "name_words_missing": sum(w not in pool.words for w in name_words),
        "negation_mismatch": float(
            best is not None and (claim.negations > 0) != (best.reading.negations > 0)
        ),
        "order": _common_subsequence(stems, best.reading.content_stems) / len(stems)
        if best and stems
        else 0.0,
        "verbatim": float(
            any(_contains(pool.sentences[i].reading.words, claim.words) for i in alignment.top)
        ),
        "best_extra": len(best.terms - weights.keys()) / (len(best.terms) + 1) if best else 1.0,
    }


def _bigrams(stems: list[str]) -> list[tuple[str, str]]:
    return list(zip(stems, stems[1:], strict=False))


def _stated(key: str, pool: Pool) -> bool:
    return pool.has_value(key) or all(w in pool.words or w in pool.index for w in key.split())


def _share(weights: dict[str, float], terms: frozenset[str], total: float) -> float:
    return sum(w for t, w in weights.items() if t in terms) / total


def _fraction(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 1.0


def _common_subsequence(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _contains(words: list[str], part: list[str]) -> bool:
    return bool(part) and f" {' '.join(part)} " in f" {' '.join(words)} "


class WordVectors:
    """WordLlama vectors by word, kept for the process: the same words recur across claims and
    calls, and looking one up through WordLlama is slow by comparison (rag.wordvectors)."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        with self._lock:
            new = sorted({w for w in words if w not in self._vectors})
            if new:
                if len(self._vectors) + len(new) > self.LIMIT:
                    self._vectors.clear()
                self._vectors.update(zip(new, word_vectors(new), strict=True))
            if not words:
                return np.zeros((0, 256), dtype=np.float32)
            return np.stack([self._vectors[w] for w in words])


def soft(claim: Reading, pool: Pool, alignment: Alignment, vectors: WordVectors) -> dict[str, float]:
    """Each claim content word's best match among the candidate sentences' content words: 1 for
    the same stem, else the cosine of their word vectors; idf-weighted mean, minimum, and the
    weighted share matching below 0.5."""
    terms = frozenset().union(*(pool.sentences[i].terms for i in alignment.top))
    words = [claim.words[i] for i in claim.content]
    if not words:
        return {"soft_mean": 1.0, "soft_min": 1.0, "soft_low": 0.0}
    match = np.array([1.0 if claim.stems[i] in terms else 0.0 for i in claim.content])
    others = sorted(
        {r.words[i] for k in alignment.top for r in [pool.sentences[k].reading] for i in r.content}
    )
    unmatched = [j for j, m in enumerate(match) if m < 1]
    if unmatched and others:
        cosines = vectors([words[j] for j in unmatched]) @ vectors(others).T
        match[unmatched] = np.clip(cosines.max(axis=1), 0.0, 1.0)
    weights = np.array([alignment.weights.get(claim.stems[i], 1.0) for i in claim.content])
    weights /= weights.sum()
    return {
        "soft_mean": float(match @ weights),
        "soft_min": float(match.min()),
        "soft_low": float(weights[match < 0.5].sum()),
    }


def dense(
    claim_vector: np.ndarray, sentence_vectors: dict[int, np.ndarray], alignment: Alignment
) -> dict[str, float]:
    """MiniLM cosines of the claim with its best sentence, the mean of its best pair, and the
    closest of its candidates."""
    if not alignment.top:
        return dict.fromkeys(DENSE, 0.0)
    pair = np.sum([sentence_vectors[i] for i in alignment.pair], axis=0)
    pair = pair / max(float(np.linalg.norm(pair)), 1e-12)
    return {
        "cos_best": float(claim_vector @ sentence_vectors[alignment.pair[0]]),
        "cos_pair": float(claim_vector @ pair),
        "cos_top": max(float(claim_vector @ sentence_vectors[i]) for i in alignment.top),
    }


def tokens(claim_tokens: np.ndarray, evidence_tokens: list[np.ndarray]) -> dict[str, float]:
    """BERTScore-like: each claim token's highest cosine with a token of the best pair."""
    if not len(claim_tokens) or not evidence_tokens or not sum(len(e) for e in evidence_tokens):
        return {"tok_mean": 0.0, "tok_min": 0.0, "tok_low": 1.0}
    best = (claim_tokens @ np.vstack(evidence_tokens).T).max(axis=1)
    return {
        "tok_mean": float(best.mean()),
        "tok_min": float(best.min()),
        "tok_low": float((best < 0.6).mean()),
    }
