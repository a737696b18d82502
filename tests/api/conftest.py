"""API fixtures: the real app served by uvicorn on a free loopback port, over a real engine."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from api.app import create_app
from rag.config import Settings
from rag.embeddings import OnnxEmbedding
from rag.engine import Engine
from tests.conftest import SEED

QUESTION = "What is China providing Russia?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    url: str
    engine: Engine

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def serving(settings: Settings, embed: OnnxEmbedding) -> Iterator[Running]:
    """uvicorn in a thread over ``create_app``; stops (and closes the engine) on exit."""
    engine = Engine(settings, embed=embed)
    app = create_app(settings, engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Running(f"http://127.0.0.1:{port}", engine)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        engine.close()


Serve = Callable[..., AbstractContextManager[Running]]


@pytest.fixture
def serve(settings: Settings, embed: OnnxEmbedding) -> Serve:
    """``with serve(**setting_overrides) as running:`` over the test's data dir."""

    def start(**overrides: object) -> AbstractContextManager[Running]:
        return serving(settings.model_copy(update=overrides), embed)

    return start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embed: OnnxEmbedding) -> Iterator[Running]:
    """The API over the seed article, shared by a module's tests (they must not change its
    articles; conversations they add are their own)."""
    root = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith(("RAG_", "OPENAI_", "SLACK_")):
                env.delenv(key)
        settings = Settings(data_dir=root / "data")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    Engine(settings, embed=embed).ingest([corpus])
    with serving(settings, embed) as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def fresh(serve: Serve, seeded: Engine) -> Iterator[httpx.Client]:
    """A client of a server of its own over the seed article, for tests that change articles."""
    with serve() as running, running.client() as c:
        yield c
