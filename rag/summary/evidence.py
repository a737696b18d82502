"""Gathering a summary's evidence: a topic -> the relevant sentences of the corpus, each with its
embedding and relevance, most relevant first.

The topic is retrieved with a wide ``k`` (two passages per article at most), then searched again
with sub-aspects drawn from the most relevant, mutually different sentences found, so coverage
goes beyond the topic's top chunks. Every sentence is scored against the topic (embedding
similarity + share of the topic's content words); relevant ones are kept from articles whose
relevant sentences name most of the topic's words (one shared word is a coincidence).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from rag.answer import Candidate, candidates
from rag.citations import citation
from rag.embeddings import Embedder
from rag.models import Citation, Filters, Passage
from rag.retrieval import Retriever
from rag.retrieval.latest import leads
from rag.text import terms as content_terms

# Retrieval breadth: the topic query, then up to ASPECTS sub-aspect queries.
TOPIC_K = 30
ASPECTS = 4
ASPECT_K = 12
# Calibrated on the seed corpus and MultiHop-RAG topics (benchmarks/summarize.py): below these
# a sentence is about something else (site boilerplate, a neighbouring story).
MIN_SIMILARITY = 0.42
MIN_SIMILARITY_WITH_WORDS = 0.30  # enough when the sentence names most of the topic's words
MIN_COVERAGE = 0.5
MAX_WORDS = 70
LATEST_ARTICLES = 12  # stories a summary of a period ("this week") draws on
CORROBORATE_SIMILARITY = 0.75
# A claim ends like a sentence; questions, headlines and photo captions state nothing a point
# can rest on.
_STATEMENT = re.compile(r"[.!][\"'”’)]*$")
_CAPTION = re.compile(
    r"courtroom sketch|file photo|photo illustration|combination (?:photo|picture|showing)|"
    r"getty images|\((?:photo|image|pictured)\b|\bpictured\b",
    re.IGNORECASE,
)


@dataclass
class Evidence:
    """A relevant sentence with its embedding."""

    cand: Candidate
    vector: np.ndarray
    relevance: float

    @property
    def doc(self) -> str:
        return self.cand.passage.document_id

    @property
    def outlet(self) -> str | None:
        return self.cand.passage.source


class CitationNumbers:
    """Numbers citations 1..N in order of first use; the same span always gets one number."""

    def __init__(self) -> None:
        self.items: list[Citation] = []
        self._ids: dict[tuple[str, int, int], int] = {}

    def add(self, cited: Citation) -> int:
        key = (cited.document_id, cited.start, cited.end)
        if key not in self._ids:
            self._ids[key] = len(self.items) + 1
            self.items.append(cited.model_copy(update={"id": self._ids[key]}))
        return self._ids[key]

    def cite(self, ev: Evidence) -> int:
        c = ev.cand
        return self.add(citation(c.passage, 0, c.start, c.end, c.text, ev.relevance))


class Gatherer:
    """Finds the relevant sentences on a topic through one retriever."""

    def __init__(self, retriever: Retriever, embed: Embedder) -> None:
        self.retriever = retriever
        self.embed = embed

    def latest(self, filters: Filters) -> list[Evidence]:
        """For a topic naming only a period ("this week"): the period's newest stories, each by
        its lead sentence, newest most relevant (``rag.retrieval.latest``)."""
        passages = leads(self.retriever.store, filters, LATEST_ARTICLES)
        if not passages:
            return []
        cands = [Candidate(p, p.start, p.end, p.text, 1.0, 1.0, 1.0) for p in passages]
        vectors = self.embed.embed_batch([c.text for c in cands])
        newest_first = enumerate(zip(cands, vectors, strict=True))
        return [Evidence(c, v, 1.0 - i / (2 * len(cands))) for i, (c, v) in newest_first]

    # --- 1-2: gather and score ----------------------------------------------------------
    def _score(self, topic_vec: np.ndarray, topic_terms: set[str], cands: list[Candidate]) -> list[Evidence]:
        # Embedding dominates the cost, so only sentences naming at least one topic word are
        # embedded (on the calibration topics no relevant sentence named none). Run-on
        # "sentences" (lists, captions) make poor points and are skipped too; sorting by length
        # keeps batches short, since every text in a batch is padded to the longest.
        kept = []
        for c in cands:
            c.coverage = len(topic_terms & content_terms(c.text)) / len(topic_terms) if topic_terms else 1.0
            statement = _STATEMENT.search(c.text) and not _CAPTION.search(c.text)
            if c.coverage > 0 and len(c.text.split()) <= MAX_WORDS and statement:
                kept.append(c)
        kept.sort(key=lambda c: len(c.text))
        if not kept:
            return []
        vectors = self.embed.embed_batch([c.text for c in kept])
        out = []
        for c, v in zip(kept, vectors, strict=True):
            c.similarity = sim = float(v @ topic_vec)
            cov = c.coverage
            c.score = 0.7 * sim + 0.3 * cov
            out.append(Evidence(c, v, c.score))
        return out

    @staticmethod
    def _relevant(ev: Evidence) -> bool:
        c = ev.cand
        return c.similarity >= MIN_SIMILARITY or (
            c.similarity >= MIN_SIMILARITY_WITH_WORDS and c.coverage >= MIN_COVERAGE
        )

    def gather(self, topic: str, filters: Filters) -> list[Evidence]:
        """All relevant sentences found for the topic, most relevant first."""
        topic_vec = self.embed.embed_batch([topic])[0]
        terms = content_terms(topic)
        seen_passages: set[str] = set()
        seen_spans: set[tuple[str, int]] = set()

        def fresh(passages: list[Passage]) -> list[Candidate]:
            new = [p for p in passages if p.id not in seen_passages]
            seen_passages.update(p.id for p in new)
            out = []
            for c in candidates(new, min_words=6):
                key = (c.passage.document_id, c.start)
                if key not in seen_spans:
                    seen_spans.add(key)
                    out.append(c)
            return out

        first = self.retriever.search(topic, TOPIC_K, filters, max_per_article=2)
        # Sub-aspects come only from on-topic articles, so a coincidental match is not explored.
        evidence = _on_topic(
            [e for e in self._score(topic_vec, terms, fresh(first)) if self._relevant(e)], terms
        )
        evidence.sort(key=lambda e: -e.relevance)
        for aspect in _diverse(evidence, ASPECTS):
            more = self.retriever.search(aspect.cand.text, ASPECT_K, filters, max_per_article=1)
            evidence.extend(e for e in self._score(topic_vec, terms, fresh(more)) if self._relevant(e))
        evidence.sort(key=lambda e: -e.relevance)
        return _on_topic(evidence, terms)


def _on_topic(evidence: list[Evidence], terms: set[str]) -> list[Evidence]:
    """The evidence of articles whose relevant sentences, together, name most of the topic's
    words. One shared word is not a topic: "Mars said" (a person) is not about "the 2031 Mars
    landing", nor is "landing at No. 1" about "the Moon landing"."""
    named: dict[str, set[str]] = defaultdict(set)
    for ev in evidence:
        named[ev.doc] |= terms & content_terms(ev.cand.text)
    enough = len(terms) // 2 + 1
    return [ev for ev in evidence if len(named[ev.doc]) >= min(enough, len(terms))]


def _diverse(evidence: list[Evidence], n: int) -> list[Evidence]:
    """Up to ``n`` of the most relevant sentences that differ from each other."""
    out: list[Evidence] = []
    for ev in evidence:
        if len(out) >= n:
            break
        if all(float(ev.vector @ o.vector) < CORROBORATE_SIMILARITY for o in out):
            out.append(ev)
    return out
