"""Slack benchmark: how fast signed events are acknowledged, and answered, under a burst.

Slack retries (and eventually disables) an Events API endpoint that does not answer within
3 seconds, so the acknowledgement must stay fast while answers are being computed. This starts
the real service (``uvicorn --factory api.app:create_app``) in a subprocess, points it at the
local Slack stand-in from ``tests/servers/slack_server.py``, sends bursts of signed ``app_mention``
events at several concurrencies and reports, per concurrency: acknowledgement latency
(p50/p95/max), time until the threaded answer was posted (p50/p95/max), errors and duplicates.

    .venv/bin/python benchmarks/slack_ack.py [--data-dir DIR] [--events 16] [--concurrency 1 4 16]

Without ``--data-dir`` the seed corpus (corpus/) is ingested into a temporary index; with it, a
copy of that index is used (the original is never written).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from tests.servers.slack_server import BOT_USER_ID, TEAM_ID, SlackServer, running_slack  # noqa: E402

SECRET, TOKEN = "bench-signing-secret", "xoxb-bench"
QUESTIONS = [
    "What is China providing Russia?",
    "What did the US warn its allies about?",
    "What did the Royal United Services Institute report?",
    "Which technologies is China sharing with Russia?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def burst(url: str, slack: SlackServer, first: int, count: int, conc: int) -> str:
    """Send ``count`` signed mentions ``conc`` at a time; a row of figures once all are answered."""
    sent: dict[str, float] = {}

    def mention(i: int) -> tuple[float, int]:
        ts = f"1800000000.{first + i:06d}"
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": TEAM_ID,
                "event_id": f"EvB{first + i}",
                "event": {
                    "type": "app_mention",
                    "user": "U1",
                    "channel": "C1",
                    "ts": ts,
                    "text": f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}",
                },
            }
        )
        started = time.monotonic()
        sent[ts] = started
        status = httpx.post(url, content=body, headers=signed(body), timeout=30).status_code
        return (time.monotonic() - started) * 1000, status

    before = len(slack.of("chat.postMessage"))
    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(mention, range(count)))
    acks = [ms for ms, _ in results]
    errors = sum(status != 200 for _, status in results)
    posts = slack.wait_for("chat.postMessage", before + count, timeout=600)[before:]
    time.sleep(1.0)  # a duplicate answer would arrive about when the first did
    dupes = len(slack.of("chat.postMessage")) - before - count
    answered = [p.at - sent[p.args["thread_ts"]] for p in posts if p.args.get("thread_ts") in sent]
    return (
        f"{conc:>4} {count:>6} | {pct(acks, 50):>8.1f} {pct(acks, 95):>7.1f} {max(acks):>7.1f}    | "
        f"{pct(answered, 50):>10.2f} {pct(answered, 95):>6.2f} {max(answered):>6.2f}   | "
        f"{errors:>6} {dupes:>5}"
    )


def prepare_index(data: Path, source: Path | None, env: dict[str, str]) -> None:
    """A copy of ``source`` at ``data``, or the seed corpus ingested there."""
    if source:
        shutil.copytree(source, data)
        return
    subprocess.run(
        [str(ROOT / ".venv/bin/rag"), "ingest", str(ROOT / "corpus"), "--json"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The service under uvicorn, once it answers ``/healthz``."""
    command = [str(ROOT / ".venv/bin/uvicorn"), "--factory", "api.app:create_app"]
    server = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT)
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz")
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, help="An existing index to copy (default: ingest corpus/).")
    ap.add_argument("--events", type=int, default=16, help="Events per concurrency level.")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_slack(TOKEN) as slack:
        data = Path(tmp) / "data"
        env = {
            **os.environ,
            "RAG_DATA_DIR": str(data),
            "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
        prepare_index(data, args.data_dir, env)
        env |= {
            "RAG_SLACK_BOT_TOKEN": TOKEN,
            "RAG_SLACK_SIGNING_SECRET": SECRET,
            "RAG_SLACK_API_URL": slack.api_url,
        }
        port = free_port()
        server = start_server(port, env)
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            burst(url, slack, 0, 2, 1)  # warm-up: auth.test, first queries
            print(
                f"{'conc':>4} {'events':>6} | {'ack p50':>8} {'p95':>7} {'max':>7} ms | "
                f"{'answer p50':>10} {'p95':>6} {'max':>6} s | errors dupes"
            )
            first = 2
            for conc in args.concurrency:
                print(burst(url, slack, first, args.events, conc), flush=True)
                first += args.events
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
