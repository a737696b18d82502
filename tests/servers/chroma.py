"""A real Chroma server (``chroma run``, shipped with chromadb) on a free loopback port, for the
tests of the server mode, replicas and outages; it can be stopped and started again on the same
port and path."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.api.conftest import free_port


@dataclass
class ChromaServer:
    url: str
    process: subprocess.Popen[bytes]
    path: Path
    port: int

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)

    def start(self) -> None:
        """Start it again (same port and data), waiting until it answers."""
        self.process = _launch(self.path, self.port)
        _wait(self.url, self.process)


def _launch(path: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = Path(sys.executable).parent / "chroma"
    return subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("chroma run did not start")
        time.sleep(0.2)


@contextmanager
def chroma_server(path: Path) -> Iterator[ChromaServer]:
    port = free_port()
    server = ChromaServer(f"http://127.0.0.1:{port}", _launch(path, port), path, port)
    try:
        _wait(server.url, server.process)
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()
