"""Time to the first streamed token of an LLM answer, beyond the LLM's own first-token time.

    .venv/bin/python benchmarks/first_token.py [--data-dir data-eval] [--delay 0.2] [--questions 40]

The LLM is the tests' local stand-in speaking OpenAI's wire format (tests/servers/openai_server.py),
answering after a fixed ``--delay``; the engine streams `/v1/ask`'s path in process
(`Engine.ask_stream`). Printed: p50/p95 of (time to the first delta - delay), i.e. what retrieval,
the LLM's context and the prompt cost before the model is asked. Target (issue 37): <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.engine import Engine  # noqa: E402
from tests.servers.openai_server import OpenAIServer, Reply  # noqa: E402

QUERIES = ROOT.parent / "shared/datasets/multihop-rag/queries-dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data-eval")
    parser.add_argument("--delay", type=float, default=0.2, help="the LLM's own first-token time (s)")
    parser.add_argument("--questions", type=int, default=40)
    args = parser.parse_args()
    server = OpenAIServer()
    server.reply = Reply("China provides satellite imagery [1].", delay=args.delay)
    engine = Engine(Settings(data_dir=args.data_dir, llm_base_url=server.url, llm_timeout=30))
    questions = [q["query"] for q in json.loads(QUERIES.read_text())][: args.questions + 3]
    overhead = []
    try:
        for i, question in enumerate(questions):
            started = time.perf_counter()
            for event in engine.ask_stream(question):
                if event.type == "delta":
                    if i >= 3:  # the first few load models and indexes
                        overhead.append((time.perf_counter() - started - args.delay) * 1000)
                    break
    finally:
        engine.close()
        server.stop()
    overhead.sort()
    p95 = overhead[int(0.95 * (len(overhead) - 1))]
    own = args.delay * 1000
    print(f"time to the first token beyond the LLM's own ({own:.0f} ms), {len(overhead)} questions:")
    median, load = statistics.median(overhead), os.getloadavg()[0]
    print(f"  p50 {median:.1f} ms, p95 {p95:.1f} ms; load average {load:.1f}")


if __name__ == "__main__":
    main()
