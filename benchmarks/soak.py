"""Soak: mixed traffic for minutes against `rag serve --workers 2`, then a consistency check.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--concurrency 8] [--workers 2] [--data-dir data-eval]

Traffic, from a separate process over real HTTP, each worker picking at random: search, ask,
chat with a follow-up, verify (a text against the corpus), and upload-then-delete of a small
article. Prints per route the requests, 5xx count and p50/p99, the server's RSS (all worker
processes) after the first minute and at the end, then runs `rag doctor` on the data dir and
checks every uploaded document is either fully present (listed, with its text) or fully absent.
Targets (issue 36): no 5xx, RSS at the end within 10% of RSS after the first minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from api_load import QUERIES, RAG, ROOT, free_port, rss_bytes, start_server  # beside this script


class Soak:
    def __init__(self, base: str, questions: list[str]) -> None:
        self.base = base
        self.questions = questions
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.uploaded: list[str] = []  # titles of uploads whose delete was not confirmed
        self.failures: dict[str, list[str]] = defaultdict(list)  # what each 5xx or timeout said
        self.rss: list[int] = []  # the server's RSS at the end of each minute

    async def call(
        self, client: httpx.AsyncClient, route: str, method: str, url: str, **kw: object
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.failures[route].append(type(exc).__name__)  # no answer at all (a client timeout)
            return None
        self.latency[route].append(time.perf_counter() - started)
        if response.status_code >= 500:
            self.errors[route] += 1
            self.failures[route].append(f"{response.status_code} {response.text[:200]}")
        return response

    async def one(self, client: httpx.AsyncClient, n: int) -> None:
        q = random.choice(self.questions)
        kind = random.choices(["search", "ask", "chat", "verify", "upload"], weights=[4, 2, 1, 1, 1])[0]
        if kind == "search":
            await self.call(client, kind, "GET", "/v1/search", params={"q": q, "k": 10})
        elif kind == "ask":
            await self.call(client, kind, "POST", "/v1/ask", json={"question": q})
        elif kind == "chat":
            first = await self.call(client, kind, "POST", "/v1/chat", json={"message": q})
            if first is not None and first.status_code == 200:
                cid = first.json()["conversation_id"]
                await self.call(
                    client,
                    kind,
                    "POST",
                    "/v1/chat",
                    json={"message": "and when was that?", "conversation_id": cid},
                )
        elif kind == "verify":
            await self.call(client, kind, "POST", "/v1/verify", json={"text": q.split("?")[0] + "."})
        else:
            await self.upload(client, n)

    async def upload(self, client: httpx.AsyncClient, n: int) -> None:
        title = f"Soak note {n}"
        doc = {"title": title, "body": f"The council of town {n} approved a budget of {n} million on Monday."}
        self.uploaded.append(title)  # until its delete is confirmed: checked whole or absent at the end
        added = await self.call(client, "upload", "POST", "/v1/documents", json=doc)
        if added is not None and 400 <= added.status_code < 500:
            self.uploaded.remove(title)  # refused: nothing was stored
        if added is None or added.status_code != 200:
            return
        ids = added.json()["added"] + added.json()["updated"] + added.json()["unchanged"]
        for doc_id in ids:
            deleted = await self.call(client, "delete", "DELETE", f"/v1/documents/{doc_id}")
            if deleted is not None and deleted.status_code in (204, 404):
                self.uploaded.remove(title)

    async def run(self, concurrency: int, seconds: float, server_pid: int) -> tuple[int, int]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        first_minute = 0
        counter = iter(range(10**9))
        async with httpx.AsyncClient(base_url=self.base, timeout=120, limits=limits) as client:
            deadline = time.monotonic() + seconds
            minute = time.monotonic() + min(60, seconds / 2)

            async def worker() -> None:
                nonlocal first_minute
                while time.monotonic() < deadline:
                    await self.one(client, next(counter))
                    if not first_minute and time.monotonic() > minute:
                        first_minute = rss_bytes(server_pid)

            async def sample() -> None:
                while time.monotonic() < deadline:
                    await asyncio.sleep(min(60.0, max(0.0, deadline - time.monotonic())))
                    self.rss.append(rss_bytes(server_pid))

            await asyncio.gather(sample(), *(worker() for _ in range(concurrency)))
        return first_minute, rss_bytes(server_pid)


def report(soak: Soak) -> None:
    print(f"{'route':<8} {'reqs':>6} {'5xx':>5} {'no reply':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for route in sorted(soak.latency):
        lat = np.array(soak.latency[route]) * 1000
        p50, p99 = np.percentile(lat, [50, 99])
        lost = len(soak.failures[route]) - soak.errors[route]
        print(f"{route:<8} {len(lat):>6} {soak.errors[route]:>5} {lost:>8} {p50:>8.1f} {p99:>8.1f}")
    for route, said in sorted(soak.failures.items()):
        for text, count in Counter(said).most_common(3):
            print(f"  {route}: {count} x {text}")
    print("server RSS each minute (GiB): " + " ".join(f"{r / 2**30:.2f}" for r in soak.rss))


def consistent(data: Path, base: str, leftovers: list[str]) -> None:
    env = dict(os.environ, RAG_DATA_DIR=str(data), HF_HUB_OFFLINE="1")
    # The last writes' keyword-index rebuild may still be running: give it a minute to settle.
    started = time.monotonic()
    while True:
        doctor = subprocess.run([*RAG, "doctor", "--json"], capture_output=True, text=True, env=env)
        if doctor.returncode == 0 or time.monotonic() - started > 60:
            break
        time.sleep(2)
    waited = time.monotonic() - started
    print(
        f"rag doctor ({waited:.0f} s after the traffic stopped):",
        doctor.stdout.strip() or doctor.stderr.strip(),
    )
    listed = {d["title"]: d["id"] for d in httpx.get(f"{base}/v1/documents", timeout=60).json()}
    for title in leftovers:  # an upload whose delete failed: it must be whole
        doc = (
            httpx.get(f"{base}/v1/documents/{listed[title]}", timeout=60).json() if title in listed else None
        )
        print(f"  {title}: {'present, with its text' if doc and doc.get('text') else 'absent'}")
    still = sum(t.startswith("Soak note") for t in listed)
    print(f"soak notes still listed: {still} (uploads not deleted: {len(leftovers)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data-eval")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    questions = [q["query"] for q in json.loads(QUERIES.read_text())]
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(data, port, args.workers)
        try:
            soak = Soak(base, questions)
            first, last = asyncio.run(soak.run(args.concurrency, args.minutes * 60, server.pid))
            report(soak)
            growth = (last - first) / first if first else 0.0
            first_gib, last_gib = first / 2**30, last / 2**30
            print(f"server RSS after the first minute {first_gib:.2f} GiB, at the end {last_gib:.2f} GiB")
            print(f"RSS growth over the run: {growth:+.1%}")
            print(
                f"5xx in all: {sum(soak.errors.values())}, requests with no reply: "
                f"{sum(len(f) for f in soak.failures.values()) - sum(soak.errors.values())}; load average "
                + " ".join(f"{x:.1f}" for x in os.getloadavg())
            )
            consistent(data, base, soak.uploaded)
        finally:
            server.terminate()
            server.wait(timeout=60)
            logged = [
                line for line in (Path(tmp) / "server.log").read_text().splitlines() if '"level"' in line
            ]
            print(f"server log: {len(logged)} warnings or errors")
            for line in logged[-5:]:
                print("  " + line[:300])


if __name__ == "__main__":
    main()
