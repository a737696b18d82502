"""Processes killed with SIGKILL mid-write, and two writers at once: the next run completes the
work, and the store equals a clean ingest of the same files."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from rag.documents import load_bytes
from tests.api.conftest import free_port
from tests.faults.conftest import articles_committed, committed, doctor_findings, news_corpus, popen_rag, rag

pytestmark = pytest.mark.slow


def wait_for(condition: object, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_an_ingest_killed_midway_is_completed_by_the_next_run(tmp_path: Path) -> None:
    corpus = news_corpus(tmp_path / "corpus")
    data, clean = tmp_path / "data", tmp_path / "clean"
    running = popen_rag("ingest", str(corpus), data=data)
    wait_for(lambda: articles_committed(data) >= 1 or running.poll() is not None)
    running.send_signal(signal.SIGKILL)
    running.wait()
    assert articles_committed(data) < 24, "the ingest finished before it could be killed"
    again = rag("ingest", str(corpus), data=data)
    assert again.returncode == 0, again.stderr
    assert rag("ingest", str(corpus), data=clean).returncode == 0
    assert committed(data) == committed(clean)
    assert doctor_findings(data) == []  # no orphan vectors, nothing pending


def test_two_ingests_at_once_are_serialised(tmp_path: Path) -> None:
    first, second = news_corpus(tmp_path / "a", 8), tmp_path / "b"
    second.mkdir()
    for path in sorted(first.iterdir())[:4]:  # the same articles under other names: other ids
        (second / f"copy-{path.name}").write_text(path.read_text())
    data = tmp_path / "data"
    runs = [popen_rag("ingest", str(folder), data=data) for folder in (first, second)]
    results = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in runs]
    for code, err in results:
        assert code == 0 or "Another ingest" in err, err
    assert doctor_findings(data) == []
    if all(code == 0 for code, _ in results):
        assert articles_committed(data) == 12


def test_a_server_killed_during_an_upload_completes_it_when_it_starts_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    records = news_corpus(tmp_path / "corpus", 12)
    upload = b"[" + b",".join(p.read_bytes() for p in sorted(records.iterdir())) + b"]"
    server, url = start_server(data)
    try:
        sent = threading.Thread(target=post_upload, args=(url, upload), daemon=True)
        sent.start()
        saved = data / "uploads" / "news.json"
        wait_for(lambda: saved.exists())
        time.sleep(0.5)  # inside the ingest that follows the save
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert articles_committed(data) < 12, "the upload finished before the server could be killed"
    server, url = start_server(data)  # recovers the saved upload before it serves
    try:
        listed = httpx.get(f"{url}/v1/documents", timeout=30).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = {a.id for a in load_bytes(saved.resolve(), saved.read_bytes())}
    assert {d["id"] for d in listed} == expected
    assert doctor_findings(data) == []


def start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    server = popen_rag("serve", "--port", str(port), data=data)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url) or server.poll() is not None, 300)
    assert server.poll() is None, server.stderr.read() if server.stderr else ""
    return server, url


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def post_upload(url: str, body: bytes) -> None:
    with suppress(httpx.TransportError):  # the server was killed under it
        httpx.post(f"{url}/v1/documents", files={"files": ("news.json", body)}, timeout=600)
