"""Answering: a question + retrieved passages -> a stream of ``StreamEvent`` ending in a cited ``Answer``.

The extractive answerer (the offline default) picks the sentences of the retrieved passages
that best answer the question (embedding similarity + overlap of content words), drops
near-duplicates, keeps 2-5 of them and cites each one with its exact article span. When the
best evidence is too weak it refuses instead of citing something unrelated.

The LLM answerer shows the model short windows around the best sentences (numbered, with
outlet, date and title), streams its text as deltas, then verifies every sentence against what
it cites (``rag.citations``). ``Answerer`` picks between them per ``RAG_ANSWERER`` and falls
back to the extractive answer, marked ``degraded``, whenever the LLM fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.answer_order import lead_index
from rag.answer_reason import asks_why, reason_beside
from rag.citations import REFUSAL, CitationChecker, citation, quoted_answer, refusal
from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import LLMUnavailable
from rag.judge import Verifier
from rag.llm import LLMClient, addresses_model, build_messages
from rag.models import Answer, Passage, StreamEvent
from rag.retrieval.query import clauses
from rag.text import name_tokens, name_words, sentence_spans
from rag.text import terms as content_terms

# Below both floors the best sentence is unrelated to the question, and the answer refuses
# (calibrated on MultiHop-RAG questions: docs/retrieval-log.md, "Refusals").
MIN_SIMILARITY = 0.45
MIN_COVERAGE = 0.50
# ... unless the ranker is this sure that a passage holds what is asked: a short question
# ("Who won the snooker match?") is far in meaning from every sentence, the right one included.
CONFIDENT_PASSAGE = 0.95
# A sentence this similar to one already chosen repeats it.
DUPLICATE_SIMILARITY = 0.86
# Credit for naming what sentences of the other articles found name too, beyond the question's
# own words: a multi-article question's answer is often the name its articles share (the
# bridge), which the question does not say (docs/retrieval-log.md, "Extractive answers").
BRIDGE_WEIGHT = 0.3
__all__ = [
    "REFUSAL",
    "Answerer",
    "Candidate",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "asked_as",
    "candidates",
    "citation",
    "refusal",
]

# A window shown to the LLM grows to the next sentence only while it stays this short.
WINDOW_WORDS = 70
WINDOWS_PER_ARTICLE = 3
WINDOW_FLOOR = 0.5  # relative to the best sentence's score


@dataclass
class Candidate:
    passage: Passage
    start: int  # offsets into the article
    end: int
    text: str
    similarity: float = 0.0
    coverage: float = 0.0
    score: float = 0.0


def candidates(
    passages: list[Passage], min_words: int = 5, stored: dict[str, list[tuple[int, int]]] | None = None
) -> list[Candidate]:
    """Every sentence of the passages, with article offsets; duplicates across overlaps once.
    ``stored``: each article's sentence spans as ingest kept them (else the text is split here)."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for p in passages:
        for a, b in within(p, stored):
            text = p.text[a - p.start : b - p.start]
            if len(text.split()) < min_words or (p.document_id, a) in seen:
                continue
            seen.add((p.document_id, a))
            out.append(Candidate(p, a, b, text))
    return out


def within(p: Passage, stored: dict[str, list[tuple[int, int]]] | None) -> list[tuple[int, int]]:
    """The sentences wholly inside passage ``p``: from the stored spans of its article when there
    are any, else split from its text."""
    spans = stored.get(p.document_id) if stored else None
    if spans is None:
        return sentence_spans(p.text, offset=p.start)
    return [(a, b) for a, b in spans if p.start <= a and b <= p.end]


def _bridges(question: str, cands: list[Candidate]) -> list[float]:
    """Per candidate, how many names beyond the question's it shares with sentences of the other
    articles, over the candidates' most (0 to 1)."""
    asked = name_tokens(question)
    names = [name_words(c.text) - asked for c in cands]
    by_article: dict[str, set[str]] = {}
    for c, found in zip(cands, names, strict=True):
        by_article.setdefault(c.passage.document_id, set()).update(found)
    shared = []
    for c, found in zip(cands, names, strict=True):
        others = set().union(*(v for doc, v in by_article.items() if doc != c.passage.document_id))
        shared.append(len(found & others))
    top = max(shared, default=0) or 1
    return [n / top for n in shared]


class SentenceSource(Protocol):
    """What the index kept about sentences at ingest (``rag.store.Store``)."""

    def article_sentences(self, document_ids: Sequence[str]) -> dict[str, list[tuple[int, int]]]: ...

    def stored_sentence_vectors(
        self, passages: Sequence[Passage]
    ) -> dict[tuple[str, int, int], np.ndarray]: ...


def _window(c: Candidate, score: float, start: int | None = None, end: int | None = None) -> Passage:
    """The part ``[start, end)`` (default: the candidate sentence) of a candidate's passage."""
    p, a, b = c.passage, start if start is not None else c.start, end if end is not None else c.end
    return p.model_copy(
        update={"text": p.text[a - p.start : b - p.start], "start": a, "end": b, "score": score}
    )


class ExtractiveAnswerer:
    def __init__(
        self,
        embed: Embedder,
        settings: Settings,
        verifier: Verifier,
        sentences: SentenceSource | None = None,
    ) -> None:
        self.embed = embed
        self.settings = settings
        self.checker = CitationChecker(verifier)
        self.sentences = sentences

    def score(
        self, question: str, passages: list[Passage], focus: str | None = None
    ) -> tuple[list[Candidate], np.ndarray]:
        """Score each passage sentence against the question; returns candidates and vectors.

        ``focus``: what the user wrote, when ``question`` is a follow-up condensed with an earlier
        topic ("and what about Starlink?" for "and what about Starlink? (China Russia)"). The
        sentences are then ranked by their similarity to it, so the answer leads with the
        follow-up's own subject rather than with the topic carried over for retrieval; the
        question still decides coverage and the refusal floor.
        """
        stored = (
            self.sentences.article_sentences([p.document_id for p in passages]) if self.sentences else None
        )
        cands = candidates(passages, stored=stored)
        if not cands:
            return [], np.zeros((0, 0), dtype=np.float32)
        asked = [question] + ([focus] if focus else [])
        q, own, sents = self._vectors(asked, cands, passages)
        q_terms = content_terms(question)
        rank_of = {p.id: i for i, p in enumerate(passages)}
        # The bridge is what a question joining several parts asks for; a one-part question
        # ("What did Klopp say about Gerrard?") led with whatever named most of the others' names.
        bridges = _bridges(question, cands) if len(clauses(question)) > 1 else [0.0] * len(cands)
        for c, v, bridge in zip(cands, sents, bridges, strict=True):
            c.similarity = float(v @ q)  # the refusal floor was calibrated on this
            c.coverage = len(q_terms & content_terms(c.text)) / len(q_terms) if q_terms else 0.0
            prior = 1.0 / (1 + rank_of[c.passage.id])  # the retriever's confidence in the passage
            c.score = 0.6 * float(v @ own) + 0.3 * c.coverage + 0.1 * prior + BRIDGE_WEIGHT * bridge
        return cands, sents

    def _vectors(
        self, asked: list[str], cands: list[Candidate], passages: list[Passage]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The question's (and focus's) vectors and each candidate sentence's: the ones ingest
        stored are read, not embedded again (most of an answer's time before)."""
        known = self.sentences.stored_sentence_vectors(passages) if self.sentences else {}
        keys = [(c.passage.document_id, c.start, c.end) for c in cands]
        missing = [i for i, key in enumerate(keys) if key not in known]
        # The question through the question encoder, as retrieval embeds it (int8: half the
        # float32 run, which was most of an answer's time; docs/performance-log.md).
        questions = self.embed.embed_queries(asked)
        fresh = (
            dict(zip(missing, self.embed.embed_batch([cands[i].text for i in missing]), strict=True))
            if missing
            else {}
        )
        sents = np.vstack([fresh[i] if i in fresh else known[key] for i, key in enumerate(keys)])
        return questions[0], questions[1] if len(asked) > 1 else questions[0], sents

    def choose(self, question: str, passages: list[Passage], focus: str | None = None) -> list[Candidate]:
        """The sentences to answer with, best first; empty when the evidence is too weak."""
        cands, vectors = self.score(question, passages, focus)
        if not cands:
            return []
        order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
        best = cands[order[0]]
        sure = max((p.score for p in passages), default=0.0) >= CONFIDENT_PASSAGE
        if max(c.similarity for c in cands) < MIN_SIMILARITY and best.coverage < MIN_COVERAGE and not sure:
            return []
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
        asked = focus or question
        spots = [(c.passage.document_id, c.start, c.text) for c in cands] if asks_why(asked) else []
        reason = reason_beside(asked, spots, chosen) if spots else None
        if reason is not None:
            chosen.insert(1, reason)
            del chosen[self.settings.max_answer_sentences :]
        return [cands[i] for i in chosen]

    def answer(self, question: str, passages: list[Passage], focus: str | None = None) -> Answer:
        chosen = self.choose(question, passages, focus)
        if not chosen:
            return refusal(question)
        first = lead_index(focus or question, [c.text for c in chosen])
        chosen.insert(0, chosen.pop(first))
        # Each chosen sentence cites itself: a quote supported by what it is, so nothing is parsed
        # or checked again.
        return quoted_answer([_window(c, c.score) for c in chosen], question)


class LLMAnswerer:
    """Prompts the LLM with short windows of the best passages and verifies what it writes."""

    def __init__(self, llm: LLMClient, extractive: ExtractiveAnswerer, settings: Settings) -> None:
        self.llm = llm
        self.extractive = extractive
        self.settings = settings

    def known_down(self) -> str | None:
        """Why the LLM is presumed down for now (a recent failure), if it is."""
        return self.llm.known_down()

    def context(self, question: str, passages: list[Passage], focus: str | None = None) -> list[Passage]:
        """Windows of at most two sentences around the best-scoring sentences, best first.

        A local model reads ~40 tokens/s, so a few focused windows instead of whole chunks keep
        an answer to seconds. Windows far weaker than the best one are left out rather than
        padding the prompt; a cap per article leaves room for multi-hop evidence. Sentences that
        address the model (``addresses_model``) are never shown.
        """
        cands, _ = self.extractive.score(question, passages, focus)
        cands = [c for c in cands if not addresses_model(c.text)]
        by_passage: dict[str, list[Candidate]] = {}
        for c in cands:
            by_passage.setdefault(c.passage.id, []).append(c)
        windows: list[Passage] = []
        per_article: dict[str, int] = {}
        taken: set[tuple[str, int]] = set()
        ranked = sorted(cands, key=lambda c: -c.score)
        for c in ranked:
            if len(windows) >= self.settings.llm_passages or c.score < WINDOW_FLOOR * ranked[0].score:
                break
            doc = c.passage.document_id
            if per_article.get(doc, 0) >= WINDOWS_PER_ARTICLE or (doc, c.start) in taken:
                continue
            siblings = by_passage[c.passage.id]
            at = siblings.index(c)
            end = c.end
            after = siblings[at + 1] if at + 1 < len(siblings) else None
            if (
                after is not None
                and (doc, after.start) not in taken
                and len((c.text + after.text).split()) <= WINDOW_WORDS
                # what lies between the two (a short or withheld sentence) is shown too
                and not addresses_model(_window(c, c.score, c.start, after.end).text)
            ):
                end = after.end
                taken.add((doc, after.start))
            taken.add((doc, c.start))
            per_article[doc] = per_article.get(doc, 0) + 1
            windows.append(_window(c, c.score, c.start, end))
        return windows

    def events(
        self,
        question: str,
        passages: list[Passage],
        stream: bool = True,
        focus: str | None = None,
        digest: bool = False,
    ) -> Iterator[StreamEvent]:
        """Deltas while the model writes, then the verified answer; raises ``LLMUnavailable``.
        ``digest``: the passages are shown as they are (``Answerer.events``)."""
        shown = passages if digest else self.context(question, passages, focus)
        if not shown:
            yield StreamEvent(type="answer", answer=refusal(question, mode="llm"))
            return
        messages = build_messages(question, shown, self.settings.max_answer_sentences, REFUSAL)
        parts: list[str] = []
        for delta in self.llm.generate(messages, stream=stream):
            parts.append(delta)
            yield StreamEvent(type="delta", text=delta)
        text = "".join(parts).strip()
        if not text:
            raise LLMUnavailable("the LLM returned an empty answer")
        answer = self.extractive.checker.verify(
            text, shown, question=question, mode="llm", drop_unsupported=self.settings.drop_unsupported
        )
        yield StreamEvent(type="answer", answer=answer)


class Answerer:
    """Chooses the answerer per ``RAG_ANSWERER`` and degrades to the extractive one on failure.

    ``auto`` uses the LLM when one is configured and not known to be down; ``llm`` always tries
    it; either way a failure yields the extractive answer with ``degraded: true`` and the reason.
    """

    def __init__(
        self,
        embed: Embedder,
        settings: Settings,
        verifier: Verifier,
        llm: LLMClient | None = None,
        sentences: SentenceSource | None = None,
    ) -> None:
        self.settings = settings
        self.extractive = ExtractiveAnswerer(embed, settings, verifier, sentences)
        self.llm = LLMAnswerer(llm, self.extractive, settings) if llm is not None else None

    def events(
        self,
        question: str,
        passages: list[Passage],
        stream: bool = True,
        focus: str | None = None,
        digest: bool = False,
    ) -> Iterator[StreamEvent]:
        """The answer's events; ``focus``: see ``ExtractiveAnswerer.score``. ``digest``: the
        passages are the answer's material as they are (the newest articles' leads for "what
        happened this week?"), not candidates to pick from by likeness to the question."""
        if self.llm is None or self.settings.answerer == "extractive":
            yield from self._extractive(question, passages, focus, digest=digest)
            return
        down = self.llm.known_down() if self.settings.answerer == "auto" else None
        if down:
            yield from self._extractive(question, passages, focus, degraded=down, digest=digest)
            return
        streamed = False
        try:
            for event in self.llm.events(question, passages, stream=stream, focus=focus, digest=digest):
                streamed = streamed or event.type == "delta"
                yield event
        except LLMUnavailable as exc:
            fallback = self._extractive(question, passages, focus, degraded=str(exc), digest=digest)
            for event in fallback:
                yield event.model_copy(update={"replace": streamed}) if event.type == "delta" else event

    def _extractive(
        self,
        question: str,
        passages: list[Passage],
        focus: str | None,
        degraded: str | None = None,
        digest: bool = False,
    ) -> Iterator[StreamEvent]:
        if digest:
            answer = quoted_answer(passages, question)
        else:
            answer = self.extractive.answer(question, passages, focus)
        if degraded:
            answer = answer.model_copy(update={"degraded": True, "degraded_reason": degraded})
        yield StreamEvent(type="delta", text=answer.answer)
        yield StreamEvent(type="answer", answer=answer)


def asked_as(question: str, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    """``events`` whose answer names ``question``, what the user asked, where the answer was
    found for a shorter form of it (a named period taken out as a date filter)."""
    for event in events:
        if event.answer is not None:
            event.answer.question = question
        yield event
