"""Summary benchmark: time to generate a research summary, and what it holds, on the seed corpus
and on the 609-article MultiHop-RAG index.

    .venv/bin/python benchmarks/summarize.py [--index DIR] [--runs N]

The seed corpus is ingested into a temporary directory. ``--index`` (default ``data-eval``, the
full MultiHop-RAG index the evaluation builds) is copied to a temporary directory first, so the
original is never written to; without it only the seed corpus is measured. For each topic it
prints the first (cold) and median generation time, the counts of key points, timeline
entries, sources and outlets, the timeline's date range, the gaps, and whether every citation
quote is exactly the article text at its offsets.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.embeddings import embedding
from rag.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
SEED_TOPICS = ["China's support for Russia's war", "the 2031 Mars landing"]
MULTIHOP_TOPICS = [
    "the FTX trial of Sam Bankman-Fried",
    "OpenAI's leadership crisis and Sam Altman",
    "the 2031 Mars landing",
]


def measure(engine: Engine, topic: str, runs: int) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        summary = engine.summarize(topic)
        times.append(time.perf_counter() - started)
    exact = all(engine.document(c.document_id).text[c.start : c.end] == c.quote for c in summary.citations)
    days = [e.date for e in summary.timeline]
    span = f"{days[0]}..{days[-1]}" if days else "-"
    print(
        f"  {topic!r}: first {times[0]:.2f}s, median {statistics.median(times):.2f}s | "
        f"{len(summary.key_points)} points, {len(summary.timeline)} timeline ({span}), "
        f"{len(summary.sources)} sources from {len({s.source for s in summary.sources})} outlets, "
        f"{summary.coverage.articles} articles on topic, {len(summary.citations)} citations, "
        f"quotes exact: {exact}"
    )
    for gap in summary.gaps:
        print(f"    gap: {gap}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=ROOT / "data-eval", help="Full MultiHop-RAG index.")
    ap.add_argument("--runs", type=int, default=3, help="Summaries per topic.")
    args = ap.parse_args()

    embed = embedding(Settings())
    with tempfile.TemporaryDirectory() as tmp:
        seed = Engine(Settings(data_dir=Path(tmp) / "seed"), embed=embed)
        seed.ingest([ROOT / "corpus"])
        print(f"seed corpus ({len(seed.documents())} articles):")
        for topic in SEED_TOPICS:
            measure(seed, topic, args.runs)
        seed.close()

        if not (args.index / "catalog.sqlite3").exists():
            print(
                f"no MultiHop-RAG index at {args.index}; build one with "
                f"`rag --data-dir {args.index} ingest ../shared/datasets/multihop-rag/corpus.json`"
            )
            return
        copy = Path(tmp) / "multihop"
        shutil.copytree(args.index, copy)
        full = Engine(Settings(data_dir=copy), embed=embed)
        print(f"MultiHop-RAG index ({len(full.documents())} articles):")
        for topic in MULTIHOP_TOPICS:
            measure(full, topic, args.runs)
        full.close()


if __name__ == "__main__":
    main()
