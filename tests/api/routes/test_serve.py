"""``rag serve`` as a user runs it: a separate process serving the API and the web page."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from rag.engine import Engine
from tests.api.conftest import QUESTION, free_port
from tests.conftest import RAG

pytestmark = pytest.mark.slow


def test_rag_serve_answers_over_http(seeded: Engine, tmp_path: Path) -> None:
    port = free_port()
    data = str(seeded.store.data_dir)
    command = [*RAG, "--data-dir", data, "serve", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "rag serve did not become ready"
            time.sleep(0.2)
        answer = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert answer["citations"] and "[1]" in answer["answer"]
        page = httpx.get(base)
        assert page.headers["content-type"].startswith("text/html") and "/v1/chat" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # Quiet by default: no access log lines for the requests above.
    assert b"GET /readyz" not in (proc.stderr.read() if proc.stderr else b"")


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
