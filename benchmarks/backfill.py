"""Backfill benchmark: ingest the first N MultiHop-RAG articles twice into fresh data dirs, once
embedding with the in-process model and once through an OpenAI-compatible embeddings server
(``RemoteEmbedding``), and print articles/s and chunks/s for each.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/backfill.py [--limit 100] [--batch-size 64] \\
        [--server-batch-size 32] [--no-rank-embeddings] [--url http://host:port/v1]

Without ``--url`` the server is ``tests/servers/embeddings_server.py`` (the same packaged MiniLM)
started in another process, so the model and the ingest do not share a GIL; on this 2-core
machine they still share the cores, so this measures the HTTP path's overhead, not a GPU's
gain. The time spent waiting for embeddings is printed too: it bounds what a faster server
can save. Both runs embed chunks and, by default, each chunk's sentences (what the ranker
reads, so what a real backfill does); ``--no-rank-embeddings`` halves the embedding work.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from rag.config import Settings
from rag.embed_remote import RemoteEmbedding
from rag.embeddings import DEFAULT_MODEL, OnnxEmbedding
from rag.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared/datasets/multihop-rag/corpus.json"


class Timed:
    """Counts the seconds spent in ``embed_batch`` of the embedder it is mixed into."""

    seconds: float = 0.0

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return super().embed_batch(texts)  # type: ignore[misc]
        finally:
            self.seconds += time.perf_counter() - started


class TimedLocal(Timed, OnnxEmbedding):
    """In process: tokenize + ONNX run + pooling."""


class TimedRemote(Timed, RemoteEmbedding):
    """From the server: requests, model, transfer."""


def start_server(batch_size: int) -> tuple[subprocess.Popen[str], str]:
    """The test embeddings server in its own process; returns it and its base URL once it answers."""
    command = [sys.executable, "-m", "tests.servers.embeddings_server", "--batch-size", str(batch_size)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the embeddings server did not start (url {url!r})")
        time.sleep(0.1)


def run(name: str, corpus: Path, data_dir: Path, embed: TimedLocal | TimedRemote, rank: bool) -> dict:
    embed.embed_batch(["warm-up"])  # the first call pays for session and connection set-up
    embed.seconds = 0.0
    engine = Engine(Settings(data_dir=data_dir, rank_embeddings=rank), embed=embed)  # type: ignore[arg-type]
    started = time.perf_counter()
    report = engine.ingest([corpus])
    seconds = time.perf_counter() - started
    vectors = engine.store.chunk_vectors(sorted(engine.store.vector_ids())[:200])
    engine.close()
    return {
        "run": name,
        "articles": len(report.added),
        "chunks": report.chunks_embedded,
        "seconds": round(seconds, 1),
        "articles_per_s": round(len(report.added) / seconds, 2),
        "chunks_per_s": round(report.chunks_embedded / seconds, 1),
        "embedding_s": round(embed.seconds, 1),
        "_vectors": vectors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--limit", type=int, default=100, help="The first N articles (0 = all 609).")
    ap.add_argument("--batch-size", type=int, default=64, help="Texts per request to the server.")
    ap.add_argument("--server-batch-size", type=int, default=32, help="Texts per model run, in both runs.")
    ap.add_argument("--url", help="An embeddings server already running (else one is started here).")
    ap.add_argument("--no-rank-embeddings", dest="rank", action="store_false", help="No sentence vectors.")
    args = ap.parse_args()
    # The openai SDK logs every request at INFO on this logger; one line per batch drowns the figures.
    logging.getLogger("httpx2").setLevel(logging.WARNING)

    records = json.loads(args.corpus.read_text())
    records = records[: args.limit] if args.limit else records
    process, url = (None, args.url) if args.url else start_server(args.server_batch_size)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus.json"
            corpus.write_text(json.dumps(records))
            local = TimedLocal(embed_batch_size=args.server_batch_size)
            # One article first, untimed: what ingest loads at first use is in neither run's time.
            warm = Path(tmp) / "warm.json"
            warm.write_text(json.dumps(records[:1]))
            run("warm-up", warm, Path(tmp) / "warm", local, args.rank)
            results = [run("in-process model", corpus, Path(tmp) / "local", local, args.rank)]
            remote = TimedRemote(url, DEFAULT_MODEL, embed_batch_size=args.batch_size)
            results.append(run(f"server {url}", corpus, Path(tmp) / "remote", remote, args.rank))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
    a, b = (r.pop("_vectors") for r in results)
    shared = sorted(set(a) & set(b))
    agreement = min(float(np.dot(a[k], b[k]) / np.linalg.norm(a[k]) / np.linalg.norm(b[k])) for k in shared)
    for result in results:
        print(json.dumps(result))
    print(json.dumps({"same_chunks": len(shared), "min_cosine_between_runs": round(agreement, 5)}))


if __name__ == "__main__":
    main()
