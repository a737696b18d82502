"""The claim checker: claims, each with its evidence -> a ``Judgement`` per claim.

Per claim: read it, line it up with its evidence sentences by words (``evidence.align``),
measure the alignment (``features``), score it with the fitted model (``model``), look for a
conflicting value or negation in the sentences it lines up with (``conflict``). The transformer
runs once per call over every claim that needs it (and the candidate sentences whose vectors
the caller did not pass), and only when the shipped model reads its features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.embeddings import OnnxEmbedding
from rag.verification import conflict, features
from rag.verification.claims import Reading, read
from rag.verification.evidence import Alignment, Pool, align
from rag.verification.model import MODEL_FILE, ClaimModel
from rag.verification.types import Conflict, Evidence, Judgement, Span, Verdict


@dataclass
class Case:
    """One claim and everything read about it before scoring."""

    claim: Reading
    pool: Pool
    alignment: Alignment
    found: conflict.Found | None


class ClaimChecker:
    """Checks claims against evidence with the shipped model (``model.json``)."""

    def __init__(self, embed: OnnxEmbedding, model_path: Path = MODEL_FILE) -> None:
        self.embed = embed
        self.model = ClaimModel.load(model_path)
        self.words = features.WordVectors()
        unknown = set(self.model.features) - set(features.FEATURES)
        if unknown:
            raise ValueError(f"{model_path} reads features this checker does not measure: {sorted(unknown)}")
        self._columns = [features.FEATURES.index(name) for name in self.model.features]
        self.families = {
            family
            for family, names in (("dense", features.DENSE), ("tokens", features.TOKENS))
            if set(names) & set(self.model.features)
        }

    def check(self, claims: Sequence[str], evidence: Sequence[Sequence[Evidence]]) -> list[Judgement]:
        """Judge ``claims[i]`` against ``evidence[i]``."""
        if len(claims) != len(evidence):
            raise ValueError(f"{len(claims)} claims but {len(evidence)} evidence lists")
        cases = self.cases(claims, evidence)
        matrix = self.measure(cases, self.families)
        scores = self.model.probability(matrix[:, self._columns]) if len(cases) else np.zeros(0)
        return [self._judge(case, float(score)) for case, score in zip(cases, scores, strict=True)]

    def cases(self, claims: Sequence[str], evidence: Sequence[Sequence[Evidence]]) -> list[Case]:
        """Each claim read and aligned; claims given the same evidence share one ``Pool``."""
        pools: dict[tuple[tuple[str, int, int, int], ...], Pool] = {}
        out: list[Case] = []
        for claim, items in zip(claims, evidence, strict=True):
            key = tuple((e.text, e.offset, id(e.sentences), id(e.vectors)) for e in items)
            pool = pools.get(key)
            if pool is None:
                pool = pools[key] = Pool(items)
            reading = read(claim)
            alignment = align(reading, pool, self.model.idf, self.model.default_idf)
            out.append(Case(reading, pool, alignment, conflict.find(reading, pool, alignment)))
        return out

    def measure(self, cases: list[Case], families: set[str]) -> np.ndarray:
        """The (claims, ``features.FEATURES``) matrix; the dense and token columns stay 0 unless
        their family is asked for."""
        rows = []
        for case in cases:
            row = {name: 0.0 for name in features.FEATURES}
            if case.alignment.top:
                row.update(features.lexical(case.claim, case.pool, case.alignment))
                row.update(features.soft(case.claim, case.pool, case.alignment, self.words))
                row["conflict"] = float(case.found is not None)
            rows.append(row)
        if "dense" in families:
            for row, values in zip(rows, self._dense(cases), strict=True):
                row.update(values)
        if "tokens" in families:
            for row, values in zip(rows, self.token_features(cases), strict=True):
                row.update(values)
        return np.array([[row[name] for name in features.FEATURES] for row in rows], dtype=np.float64)

    def _dense(self, cases: list[Case]) -> list[dict[str, float]]:
        """MiniLM cosines; evidence vectors the caller passed are used as they are."""
        wanted = [c.claim.text for c in cases if c.alignment.top]
        for case in cases:
            if case.pool.vectors is None:
                wanted.extend(case.pool.text(i) for i in _candidates(case))
        unique = list(dict.fromkeys(wanted))
        vectors = dict(zip(unique, self.embed.embed_batch(unique), strict=True)) if unique else {}
        out = []
        for case in cases:
            if not case.alignment.top:
                out.append(dict.fromkeys(features.DENSE, 0.0))
                continue
            pool, top = case.pool, _candidates(case)
            if pool.vectors is not None:
                sentences = {
                    i: pool.vectors[i] / max(float(np.linalg.norm(pool.vectors[i])), 1e-12) for i in top
                }
            else:
                sentences = {i: vectors[pool.text(i)] for i in top}
            out.append(features.dense(vectors[case.claim.text], sentences, case.alignment))
        return out

    def token_features(self, cases: list[Case]) -> list[dict[str, float]]:
        """The BERTScore-like features of each case (``features.tokens``), one transformer run."""
        wanted = [c.claim.text for c in cases] + [c.pool.text(i) for c in cases for i in c.alignment.pair]
        unique = list(dict.fromkeys(wanted))
        tokens = (
            dict(zip(unique, (t[0] for t in self.embed.embed_tokens(unique)), strict=True)) if unique else {}
        )
        return [
            features.tokens(tokens[c.claim.text], [tokens[c.pool.text(i)] for i in c.alignment.pair])
            for c in cases
        ]

    def _judge(self, case: Case, score: float) -> Judgement:
        pool, alignment = case.pool, case.alignment
        if not alignment.top:
            return Judgement(Verdict.UNSUPPORTED, 0.0, [])
        spans = [self._span(pool, i) for i in alignment.pair]
        found = case.found
        if score >= self.model.threshold:
            return Judgement(Verdict.SUPPORTED, score, spans)
        if found is None:
            return Judgement(Verdict.UNSUPPORTED, score, spans)
        holder = self._span(pool, found.sentence)
        a, b = found.evidence
        clash = Conflict(
            kind=found.kind,
            claim_start=found.claim[0],
            claim_end=found.claim[1],
            claim_text=case.claim.text[found.claim[0] : found.claim[1]],
            evidence=holder,
            evidence_text=pool.text(found.sentence)[a:b],
        )
        return Judgement(Verdict.CONTRADICTED, score, [holder], clash)

    @staticmethod
    def _span(pool: Pool, i: int) -> Span:
        sentence = pool.sentences[i]
        item = pool.evidence[sentence.evidence]
        text = item.text[sentence.start - item.offset : sentence.end - item.offset]
        return Span(sentence.evidence, sentence.start, sentence.end, text)


def _candidates(case: Case) -> list[int]:
    """The sentences whose vectors a claim's dense features read: its candidates and its pair."""
    return list(dict.fromkeys(case.alignment.top + case.alignment.pair))
