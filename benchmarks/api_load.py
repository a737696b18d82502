"""API load benchmark: concurrent /v1/search and /v1/ask over real HTTP on loopback.

    .venv/bin/python benchmarks/api_load.py [--data-dir DIR] [--concurrency 1 4 16]
        [--requests 400] [--ask-requests 60] [--seconds 30] [--workers 1]
        [--endpoints healthz search ask]

The server (``rag serve``) runs in its own process over a copy of an index (default: the
609-article MultiHop-RAG index at ./data-eval, built by ``rag --data-dir data-eval ingest
<corpus.json>``; the copy keeps the original untouched); this process is the client: at each
concurrency level it sends MultiHop-RAG dev questions, stopping at the request count or the
time bound, whichever comes first. It prints requests/s, p50/p95/p99 latency and errors per
endpoint and level (``/healthz``: the HTTP stack alone, its ceiling), the server's peak RSS
(VmHWM of every server process) and the machine's load average.

Targets (issue 37): /v1/search >= 200 req/s at concurrency 16 with p99 <= 150 ms and no errors
with --workers 2 (>= 120 req/s with 1 worker); /v1/ask p50 <= 150 ms at concurrency 1 and
>= 40 req/s at concurrency 16 with 2 workers; RSS <= 1 GiB per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RAG = [str(Path(sys.executable).with_name("rag"))]  # the console script, as users run it
QUERIES = ROOT.parent / "shared/datasets/multihop-rag/queries-dev.json"


@dataclass
class Result:
    endpoint: str
    concurrency: int
    latencies: list[float]
    errors: int
    seconds: float

    def row(self) -> str:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        return (
            f"{self.endpoint:<8} {self.concurrency:>4} {len(self.latencies) + self.errors:>6} "
            f"{self.errors:>6} {rate:>8.1f} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of ``pid`` and its children (uvicorn workers), from /proc: now
    (``VmRSS``) or at its peak (``VmHWM``)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                total += int(line.split()[1]) * 1024
    return total


def peak_rss_bytes(pid: int) -> int:
    return rss_bytes(pid, "VmHWM")


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``rag serve`` over ``data_dir``, its log in ``data_dir/../server.log`` (a file, not a pipe
    nobody reads: a full pipe would stall the server)."""
    env = dict(os.environ, RAG_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    command = [*RAG, "serve", "--port", str(port), "--workers", str(workers)]
    log = (data_dir.parent / "server.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(data_dir.parent / 'server.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not become ready in 120 s")


async def run_level(
    base: str, endpoint: str, questions: list[str], concurrency: int, total: int, seconds: float
) -> Result:
    source = itertools.cycle(questions)
    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors, sent
            while sent < total and time.perf_counter() < deadline:
                sent += 1
                question = next(source)
                t0 = time.perf_counter()
                try:
                    if endpoint == "search":
                        r = await client.get("/v1/search", params={"q": question, "k": 10})
                    elif endpoint == "healthz":
                        r = await client.get("/healthz")
                    else:
                        r = await client.post("/v1/ask", json={"question": question})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(endpoint, concurrency, latencies, errors, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data-eval", help="Index to serve (copied).")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=400, help="Max /v1/search requests per level.")
    parser.add_argument("--ask-requests", type=int, default=60, help="Max /v1/ask requests per level.")
    parser.add_argument("--seconds", type=float, default=30, help="Time bound per level.")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes.")
    parser.add_argument(
        "--endpoints", nargs="+", default=["healthz", "search", "ask"], choices=["healthz", "search", "ask"]
    )
    args = parser.parse_args()
    if not (args.data_dir / "catalog.sqlite3").exists():
        raise SystemExit(
            f"No index at {args.data_dir}; build one with: rag --data-dir {args.data_dir} ingest "
            f"{QUERIES.parent / 'corpus.json'}"
        )
    questions = [q["query"] for q in json.loads(QUERIES.read_text())]

    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(data, port, args.workers)
        try:
            ready = httpx.get(f"{base}/readyz").json()
            print(f"server: {ready['articles']} articles, {args.workers} worker(s), pid {server.pid}")
            # Warm-up: every worker loads its indexes and models before anything is timed.
            asyncio.run(run_level(base, "search", questions[:32], 4, 32 * args.workers, 60))
            asyncio.run(run_level(base, "ask", questions[:8], 4, 8 * args.workers, 60))
            print(
                f"{'endpoint':<8} {'conc':>4} {'reqs':>6} {'errors':>6} {'req/s':>8} "
                f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
            )
            # /healthz measures the HTTP stack alone (no engine work): the transport's ceiling.
            totals = {"healthz": args.requests, "search": args.requests, "ask": args.ask_requests}
            for endpoint in args.endpoints:
                total = totals[endpoint]
                for level in args.concurrency:
                    result = asyncio.run(run_level(base, endpoint, questions, level, total, args.seconds))
                    print(result.row(), flush=True)
            print(f"server peak RSS: {peak_rss_bytes(server.pid) / 2**30:.2f} GiB")
            # Other work on the machine inflates every latency above; say how much there was.
            print("load average (1/5/15 min) at the end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
