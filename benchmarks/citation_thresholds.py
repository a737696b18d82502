"""Calibrate the citation checker's thresholds on MultiHop-RAG evidence (prints figures).

Claims are the dev split's evidence facts (real sentences of real articles). Each is checked
against windows like the ones an answer cites (a sentence + the next one):
- supported: the fact's own window, with the fact verbatim and with 30% of its words dropped
  (models compress what they cite);
- not supported (hard negatives): the best BM25-matching window of a *different* article on
  the same topic, and the fact's own window with its number changed.
The grid search picks the loosest MIN_SUPPORT / MIN_CLAIM_COVERAGE that pass at most 5% of the
negatives (tolerant of paraphrase, strict on wrong sources); paste them into rag/citations.py.

    .venv/bin/python benchmarks/citation_thresholds.py [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from rag import citations
from rag.citations import CitationChecker, Support
from rag.embeddings import OnnxEmbedding
from rag.models import Passage
from rag.text import sentence_spans

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag"


def window(doc: int, body: str, spans: list[tuple[int, int]], at: int, title: str) -> Passage:
    start, end = spans[at][0], spans[min(at + 1, len(spans) - 1)][1]
    return Passage(
        id=f"{doc}:{at}",
        document_id=str(doc),
        text=body[start:end],
        start=start,
        end=end,
        score=1.0,
        title=title,
    )


def drop_words(text: str, rng: random.Random, share: float = 0.3) -> str:
    words = text.split()
    keep = [w for w in words if rng.random() >= share]
    return " ".join(keep or words)


def change_number(text: str) -> str | None:
    match = re.search(r"\d+", text)
    if match is None:
        return None
    return text[: match.start()] + str(int(match.group()) * 3 + 7) + text[match.end() :]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    corpus = json.loads((DATA / "corpus.json").read_text())
    queries = json.loads((DATA / "queries-dev.json").read_text())[: args.queries]
    by_url = {a["url"]: i for i, a in enumerate(corpus)}
    started = time.perf_counter()
    sentences: list[tuple[int, int]] = []  # (doc, sentence index)
    spans = [sentence_spans(a["body"]) for a in corpus]
    texts = []
    for doc, doc_spans in enumerate(spans):
        for at, (a, b) in enumerate(doc_spans):
            sentences.append((doc, at))
            texts.append(corpus[doc]["body"][a:b])
    stemmer = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    index.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
    )
    checker = CitationChecker(OnnxEmbedding())
    rng = random.Random(7)
    positives: list[Support] = []
    negatives: list[Support] = []
    for q in queries:
        for ev in q["evidence_list"]:
            doc = by_url.get(ev["url"])
            fact = ev["fact"].strip()
            if doc is None or len(fact.split()) < 5:
                continue
            tokens = bm25s.tokenize([fact], stopwords="en", stemmer=stemmer, show_progress=False)
            hits, _ = index.retrieve(tokens, k=30, show_progress=False)
            own = next((sentences[h] for h in hits[0] if sentences[h][0] == doc), None)
            other = next(
                (sentences[h] for h in hits[0] if corpus[sentences[h][0]]["title"] != corpus[doc]["title"]),
                None,
            )
            if own is None or other is None:
                continue
            body = corpus[doc]["body"]
            mine = window(doc, body, spans[doc], own[1], corpus[doc]["title"])
            positives.append(checker.measure(fact, [mine]))
            positives.append(checker.measure(drop_words(fact, rng), [mine]))
            odoc = other[0]
            theirs = window(odoc, corpus[odoc]["body"], spans[odoc], other[1], corpus[odoc]["title"])
            negatives.append(checker.measure(fact, [theirs]))
            changed = change_number(fact)
            if changed:
                negatives.append(checker.measure(changed, [mine]))

    def rates(min_support: float, min_cov: float) -> tuple[float, float]:
        def ok(s: Support) -> bool:
            return s.numbers_ok and s.coverage >= min_cov and s.score >= min_support

        return np.mean([ok(s) for s in positives]).item(), np.mean([ok(s) for s in negatives]).item()

    # These positives are easier than a model's paraphrases (all their words are in the window),
    # so the rule is: the loosest thresholds that let at most 5% of the negatives through.
    grid = [(ms, mc) for ms in np.arange(0.40, 0.91, 0.02) for mc in np.arange(0.2, 0.81, 0.05)]
    best = min((t for t in grid if rates(*t)[1] <= 0.05), key=lambda t: (t[0] + t[1], -rates(*t)[0]))
    print(
        f"claims: {len(positives)} supported, {len(negatives)} not supported "
        f"({time.perf_counter() - started:.0f}s)"
    )
    for name, group in (("supported", positives), ("not supported", negatives)):
        score = np.percentile([s.score for s in group], [5, 25, 50, 75, 95]).round(3)
        cov = np.percentile([s.coverage for s in group], [5, 25, 50, 75, 95]).round(3)
        print(f"  {name:14s} score p5/25/50/75/95 {score}  coverage {cov}")
    tpr, fpr = rates(citations.MIN_SUPPORT, citations.MIN_CLAIM_COVERAGE)
    print(
        f"current  MIN_SUPPORT={citations.MIN_SUPPORT} MIN_CLAIM_COVERAGE={citations.MIN_CLAIM_COVERAGE}: "
        f"supported kept {tpr:.3f}, unsupported passed {fpr:.3f}"
    )
    tpr, fpr = rates(*best)
    print(
        f"chosen   MIN_SUPPORT={best[0]:.2f} MIN_CLAIM_COVERAGE={best[1]:.2f}: "
        f"supported kept {tpr:.3f}, unsupported passed {fpr:.3f}"
    )


if __name__ == "__main__":
    main()
