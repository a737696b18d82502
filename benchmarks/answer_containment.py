"""How often the extractive answer holds the gold answer (MultiHop-RAG dev, non-yes/no questions).

A containment test like the paper's accuracy: the gold answer string, lower-cased, appears in
the answer text; "first" counts answers whose first sentence holds it. Refusals hold nothing.

    .venv/bin/python benchmarks/answer_containment.py [--data-dir data-eval] [--limit 240]

The index is the `rag eval multihop` one (built by its first run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from rag.config import Settings
from rag.engine import Engine

QUERIES = Path(__file__).resolve().parents[2] / "shared/datasets/multihop-rag/queries-dev.json"
YES_NO = {"yes", "no"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data-eval"))
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--limit", type=int, default=240)
    args = parser.parse_args()
    queries = [
        q
        for q in json.loads(args.queries.read_text())
        if q["question_type"] != "null_query" and q["answer"].strip().lower() not in YES_NO
    ][: args.limit]
    engine = Engine(Settings(data_dir=args.data_dir, answerer="extractive"))
    held: dict[str, list[bool]] = defaultdict(list)
    first: list[bool] = []
    times = []
    for q in queries:
        started = time.perf_counter()
        answer = engine.ask(q["query"])
        times.append(time.perf_counter() - started)
        gold = q["answer"].strip().lower()
        held[q["question_type"]].append(not answer.refused and gold in answer.answer.lower())
        lead = answer.sentences[0].text.lower() if answer.sentences and not answer.refused else ""
        first.append(gold in lead)
    engine.close()
    every = [x for xs in held.values() for x in xs]
    print(f"questions: {len(every)} (non-yes/no, first {args.limit}); load average {os.getloadavg()[0]:.1f}")
    print(f"answer holds the gold answer: {sum(every) / len(every):.3f}")
    print(f"its first sentence holds it:  {sum(first) / len(first):.3f}")
    for kind, xs in sorted(held.items()):
        print(f"  {kind:<16} {sum(xs) / len(xs):.3f} ({len(xs)})")
    print(f"answer time p50 {statistics.median(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
