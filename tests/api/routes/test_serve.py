"""``rag serve`` as a user runs it: a separate process serving the API and the web page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rag.engine import Engine
from tests.api.conftest import QUESTION, free_port
from tests.conftest import RAG

pytestmark = pytest.mark.slow


def start_serving(data: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    """``rag serve`` in a process of its own, returned once it answers ``/readyz``."""
    command = [*RAG, "--data-dir", str(data), "serve", "--port", str(port), *options]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "rag serve did not become ready"
        time.sleep(0.2)


def test_rag_serve_answers_over_http(seeded: Engine, tmp_path: Path) -> None:
    port = free_port()
    proc = start_serving(seeded.store.data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        answer = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert answer["citations"] and "[1]" in answer["answer"]
        page = httpx.get(base)
        assert page.headers["content-type"].startswith("text/html") and "/v1/chat" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # Quiet by default: no access log lines for the requests above.
    assert b"GET /readyz" not in (proc.stderr.read() if proc.stderr else b"")


def test_a_server_stopped_while_warming_up_exits_cleanly(seeded: Engine) -> None:
    """Stopped with Ctrl-C as soon as it answers /healthz, before its models are loaded: it waits
    for the warm-up instead of aborting the process under ONNX Runtime ("terminate called...")."""
    port = free_port()
    command = [*RAG, "--data-dir", str(seeded.store.data_dir), "serve", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None and time.monotonic() < deadline
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = proc.communicate(timeout=120)
    # uvicorn shuts down, then re-raises the signal it caught: the process ends as Ctrl-C ends
    # a Python program (no traceback), not with SIGABRT.
    assert proc.returncode in (0, 1, -signal.SIGINT), (proc.returncode, stderr.decode()[-2000:])
    assert b"terminate called" not in stderr and b"Traceback" not in stderr


def test_rag_serve_reports_a_bad_setting_without_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run(
        [*RAG, "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env={
            "RAG_CHUNK_SIZE": "64",
            "RAG_CHUNK_OVERLAP": "64",
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        },
        timeout=60,
    )
    assert run.returncode == 2
    assert "RAG_CHUNK_OVERLAP" in run.stderr and "Traceback" not in run.stderr


def sockets_per_process(port: int, state: str) -> dict[str, set[str]]:
    """The TCP sockets on local ``port`` in ``state`` ("01" established, "0A" listening), by the
    process holding each (read from /proc, as ``ss -tnp`` does)."""
    wanted = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                wanted.add(f"socket:[{fields[9]}]")
    held: dict[str, set[str]] = {}
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            targets = {os.readlink(fd) for fd in (process / "fd").iterdir()}
        except OSError:  # gone, or not ours to read
            continue
        if targets & wanted:
            held[process.name] = targets & wanted
    return held


def ready(client: httpx.Client) -> bool:
    """Whether the worker holding ``client``'s connection says ready within a minute (each one
    answers "warming up" until its own models are loaded)."""
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_workers_share_clients_that_connect_together(seeded: Engine) -> None:
    """16 keep-alive clients connecting at once are spread over both workers by the kernel: each
    worker listens on a socket of its own. With uvicorn's one shared socket, the worker that
    woke first could accept them all while the other idled."""
    port = free_port()
    proc = start_serving(seeded.store.data_dir, port, "--workers", "2")
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) for _ in range(16)]
    try:
        listening = sockets_per_process(port, "0A")
        assert len(listening) == 2 and str(proc.pid) not in listening, (proc.pid, listening)  # workers only
        first, second = listening.values()
        assert not first & second  # a socket each
        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(ready, clients)) == {True}
        connected = sockets_per_process(port, "01")
        assert sum(len(held) for held in connected.values()) == 16, connected
        assert connected.keys() == listening.keys(), connected  # both workers hold some of the 16
        document = {"title": "Pier", "body": "The harbour opened a new pier on Monday.", "source": "Local"}
        assert clients[0].post("/v1/documents", json=document).json()["added"]
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=30)
    # Stopped after an upload, quietly: no "leaked semaphore" warning (tqdm's lock), no traceback.
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_is_reported_before_serving(seeded: Engine, workers: int) -> None:
    """Even when held by a server that lets others share its port (as the workers' own sockets
    do): joining it would split the traffic between two servers. Said before the models load,
    and without claiming to serve."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [
            *RAG,
            "--data-dir",
            str(seeded.store.data_dir),
            "serve",
            "--workers",
            str(workers),
            "--port",
            str(port),
        ]
        run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in run.stderr and "Traceback" not in run.stderr
    assert "Serving on" not in run.stdout
