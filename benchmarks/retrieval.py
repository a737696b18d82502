"""Retrieval benchmark: MultiHop-RAG dev split with the paper's protocol (prints figures).

Runs exactly what ``rag eval multihop`` runs (the product's retrieval and answers over an index
built by the product's ingestion, chunks <= 256 tokens) and prints the table, the JSON, the
machine's load average (latencies are per query on this machine, shared with other work) and
how many null queries the question analysis alone flags as unanswerable (``QueryPlan``).

    .venv/bin/python benchmarks/retrieval.py [--limit N] [--data-dir data-eval] [--skip-answers]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from api.cli.output import print_eval
from rag.config import Settings
from rag.engine import Engine
from rag.evaluate import Evaluator, load_queries, prepare_index, protocol_settings, report

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "multihop-rag"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.json")
    parser.add_argument("--queries", type=Path, default=DATA / "queries-dev.json")
    parser.add_argument("--data-dir", type=Path, default=Path("data-eval"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip-answers", action="store_true")
    args = parser.parse_args()

    queries = load_queries(args.queries, args.limit)
    engine = Engine(protocol_settings(Settings(), args.data_dir))
    started = time.perf_counter()
    try:
        prepare_index(engine, args.corpus)
        load_before = os.getloadavg()[0]
        results = Evaluator(engine, answers=not args.skip_answers).run(queries)
        flagged = [engine.retriever.plan(q.query).unanswerable() is not None for q in queries]
    finally:
        engine.close()
    scores = report(results).dump()
    print_eval(scores)
    print(json.dumps(scores, indent=2))
    nulls = [f for f, q in zip(flagged, queries, strict=True) if q.is_null]
    others = [f for f, q in zip(flagged, queries, strict=True) if not q.is_null]
    if nulls:
        print(f"question analysis flags {sum(nulls)}/{len(nulls)} null queries as unanswerable")
    if others:
        print(f"question analysis flags {sum(others)}/{len(others)} answerable queries (false refusals)")
    print(
        f"{len(queries)} queries in {time.perf_counter() - started:.0f} s; load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
