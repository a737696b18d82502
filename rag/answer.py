"""Answering: a question + retrieved passages -> a cited ``Answer``.

The extractive answerer (the offline default) picks the sentences of the retrieved passages
that best answer the question (embedding similarity + overlap of content words), drops
near-duplicates, keeps 2-5 of them and cites each one with its exact article span. When the
best evidence is too weak it refuses instead of citing something unrelated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.models import Answer, Citation, Passage, Sentence
from rag.sentences import sentence_spans

REFUSAL = "The corpus has insufficient information to answer this question."

# Calibrated on the seed corpus and the MultiHop-RAG dev questions (benchmarks/refusal.py):
# below both floors the best sentence is unrelated to the question.
MIN_SIMILARITY = 0.40
MIN_COVERAGE = 0.50
# A sentence this similar to one already chosen repeats it.
DUPLICATE_SIMILARITY = 0.86


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    """Stemmed content words and numbers (English stopwords removed)."""
    return set(
        bm25s.tokenize([text], stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)[0]
    )


def citation(passage: Passage, number: int, start: int, end: int, quote: str, score: float) -> Citation:
    """A citation of ``quote`` == article.text[start:end] within ``passage``."""
    return Citation(
        id=number,
        document_id=passage.document_id,
        title=passage.title,
        source=passage.source,
        author=passage.author,
        published_at=passage.published_at,
        url=passage.url,
        quote=quote,
        start=start,
        end=end,
        score=round(float(score), 4),
    )


def refusal(question: str, mode: str = "extractive", **extra: object) -> Answer:
    return Answer(
        answer=REFUSAL,
        refused=True,
        mode=mode,  # type: ignore[arg-type]
        sentences=[Sentence(text=REFUSAL, citations=[], supported=True)],
        question=question,
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Candidate:
    passage: Passage
    start: int  # offsets into the article
    end: int
    text: str
    similarity: float = 0.0
    coverage: float = 0.0
    score: float = 0.0


def candidates(passages: list[Passage], min_words: int = 5) -> list[Candidate]:
    """Every sentence of the passages, with article offsets; duplicates across overlaps once."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for p in passages:
        for a, b in sentence_spans(p.text, offset=p.start):
            text = p.text[a - p.start : b - p.start]
            if len(text.split()) < min_words or (p.document_id, a) in seen:
                continue
            seen.add((p.document_id, a))
            out.append(Candidate(p, a, b, text))
    return out


class ExtractiveAnswerer:
    def __init__(self, embed: OnnxEmbedding, settings: Settings) -> None:
        self.embed = embed
        self.settings = settings

    def score(self, question: str, passages: list[Passage]) -> tuple[list[Candidate], np.ndarray]:
        """Score each passage sentence against the question; returns candidates and vectors."""
        cands = candidates(passages)
        if not cands:
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = self.embed.embed_batch([question] + [c.text for c in cands])
        q, sents = vectors[0], vectors[1:]
        q_terms = content_terms(question)
        rank_of = {p.id: i for i, p in enumerate(passages)}
        for c, v in zip(cands, sents, strict=True):
            c.similarity = float(v @ q)
            c.coverage = len(q_terms & content_terms(c.text)) / len(q_terms) if q_terms else 0.0
            prior = 1.0 / (1 + rank_of[c.passage.id])  # the retriever's confidence in the passage
            c.score = 0.6 * c.similarity + 0.3 * c.coverage + 0.1 * prior
        return cands, sents

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        cands, vectors = self.score(question, passages)
        if not cands:
            return refusal(question)
        order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
        best = cands[order[0]]
        if max(c.similarity for c in cands) < MIN_SIMILARITY and best.coverage < MIN_COVERAGE:
            return refusal(question)
        chosen: list[int] = []
        for i in order:
            c = cands[i]
            if len(chosen) >= self.settings.max_answer_sentences:
                break
            if chosen and c.score < 0.65 * best.score:
                break
            if any(float(vectors[i] @ vectors[j]) > DUPLICATE_SIMILARITY for j in chosen):
                continue
            chosen.append(i)
        sentences, cites = [], []
        for number, i in enumerate(chosen, start=1):
            c = cands[i]
            cites.append(citation(c.passage, number, c.start, c.end, c.text, c.score))
            sentences.append(Sentence(text=c.text, citations=[number], supported=True))
        text = " ".join(f"{s.text} [{s.citations[0]}]" for s in sentences)
        return Answer(answer=text, sentences=sentences, citations=cites, question=question)
