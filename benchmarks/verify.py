"""How long checking a text takes (issue 35's speed targets), on three shapes of call.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/verify.py [--runs 40] [--index data-eval]

- news: a 10-sentence text against 5 given news articles of ~600 words (MultiHop-RAG bodies cut
  at the sentence ending past 600 words), each call on 5 articles not seen before, through
  ``Engine.verify`` as ``POST /v1/verify`` runs it (text split, checked, citations built);
- index: the same texts against the 609-article index in ``--index`` (evidence retrieved per
  sentence), skipped when there is no index;
- answer: an LLM-style answer of 4 sentences against 5 passages of ~200 words, through the
  claim checker alone: what verifying an answer adds to ``/v1/ask``.
Claims are real sentences of the articles, some with a value swapped, and sentences of other
articles, so the alignment does its usual work. Prints p50 and p95 in ms, and the load average
(the targets hold on 2 cores "whatever else runs": a busy machine is part of the measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.embeddings import OnnxEmbedding  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.text import sentence_spans  # noqa: E402
from rag.verification import ClaimChecker, Evidence  # noqa: E402
from rag.verify import VerifyDocument  # noqa: E402

CORPUS = ROOT.parent / "shared" / "datasets" / "multihop-rag" / "corpus.json"
TARGETS_MS = {"news": 150.0, "index": 400.0, "answer": 50.0}


def cut(body: str, words: int) -> str:
    """``body`` up to the end of the sentence that passes ``words`` words."""
    end = len(body)
    for _, b in sentence_spans(body):
        end = b
        if len(body[:b].split()) >= words:
            break
    return body[:end]


def claims_from(texts: list[str], others: list[str], n: int, rng: random.Random) -> list[str]:
    """``n`` claims: sentences of ``texts`` (a number changed in some) and of ``others``."""
    pool = [t[a:b] for t in texts for a, b in sentence_spans(t) if len(t[a:b].split()) >= 8]
    foreign = [t[a:b] for t in others for a, b in sentence_spans(t) if len(t[a:b].split()) >= 8]
    out = []
    for i in range(n):
        sentence = rng.choice(foreign if i % 4 == 3 else pool)
        out.append(sentence.replace("1", "7", 1) if i % 4 == 2 else sentence)
    return out


def timed(checker: ClaimChecker, calls: list[tuple[list[str], list[Evidence]]]) -> np.ndarray:
    checker.check(*_args(calls[0]))  # loads the word vectors and warms the session
    out = []
    for call in calls[1:]:
        start = time.perf_counter()
        checker.check(*_args(call))
        out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def timed_engine(engine: Engine, calls: list[tuple[list[str], list[Evidence]]], given: bool) -> np.ndarray:
    """``Engine.verify`` of each call's claims as one text, against its articles or the index."""
    out = []
    for i, (claims, evidence) in enumerate(calls):
        documents = [VerifyDocument(text=e.text) for e in evidence] if given else None
        start = time.perf_counter()
        engine.verify(" ".join(claims), documents)
        if i:  # the first call loads the models
            out.append((time.perf_counter() - start) * 1000)
    return np.array(out)


def _args(call: tuple[list[str], list[Evidence]]) -> tuple[list[str], list[list[Evidence]]]:
    claims, evidence = call
    return claims, [evidence] * len(claims)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--index", type=Path, default=ROOT / "data-eval", help="the 609-article index")
    args = parser.parse_args()
    rng = random.Random(0)
    bodies = [a["body"] for a in json.loads(CORPUS.read_text(encoding="utf-8"))]
    rng.shuffle(bodies)
    news, answers = [], []
    for run in range(args.runs + 1):
        articles = [cut(b, 600) for b in bodies[run * 10 : run * 10 + 5]]
        others = bodies[run * 10 + 5 : run * 10 + 7]
        news.append((claims_from(articles, others, 10, rng), [Evidence(a) for a in articles]))
        passages = [cut(b[len(b) // 3 :].lstrip(), 200) for b in bodies[run * 10 : run * 10 + 5]]
        answers.append((claims_from(passages, others, 4, rng), [Evidence(p) for p in passages]))
    embed = OnnxEmbedding()
    checker = ClaimChecker(embed)
    print(f"model reads: {', '.join(sorted(checker.families)) or 'words only (no transformer)'}")
    with tempfile.TemporaryDirectory() as empty:
        engine = Engine(Settings(data_dir=Path(empty)), embed=embed)
        results = {"news": timed_engine(engine, news, given=True)}
        engine.close()
    if (args.index / "catalog.sqlite3").exists():
        engine = Engine(Settings(data_dir=args.index), embed=embed)
        results["index"] = timed_engine(engine, news, given=False)
        engine.close()
    results["answer"] = timed(checker, answers)
    for name, ms in results.items():
        p50, p95 = np.percentile(ms, [50, 95])
        print(
            f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(ms)} calls "
            f"(target p50 <= {TARGETS_MS[name]:.0f} ms)"
        )
    print(
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
