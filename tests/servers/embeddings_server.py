"""A local OpenAI-compatible embeddings server, serving the packaged MiniLM's vectors.

It stands in for vLLM / TEI / OpenAI in tests and benchmarks, speaking their wire format on a
loopback port over real HTTP (uvicorn):
- ``POST /v1/embeddings`` with ``{"model", "input": str | list[str], "encoding_format"?}``
  answers ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model",
  "usage"}``; with ``"encoding_format": "base64"`` (what the openai SDK asks for by default) each
  embedding is its little-endian float32 bytes, base64-encoded; an unknown model is a 404 with
  OpenAI's error body;
- ``GET /v1/models``: the one model it serves.

Failures are scripted: ``fail(n, status)`` answers the next n requests with that status and
OpenAI's error body, ``drop(n)`` starts the next n answers and closes the connection midway (a
server dying). ``requests`` and ``texts`` count what it received and embedded; ``reverse``
lists the vectors last to first (each keeping its ``index``), which the format allows.

Run on its own (the backfill benchmark does, in another process):
``python -m tests.servers.embeddings_server [--port P] [--batch-size B]`` prints its base URL and
serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.embeddings import DEFAULT_MODEL, OnnxEmbedding


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _inputs(body: dict[str, Any]) -> list[str] | None:
    """The texts of a request, or None when ``input`` is not a string or a list of strings."""
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None  # token-id arrays are valid OpenAI input, but this server holds no tokenizer API


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


class EmbeddingsServer:
    """Serves ``embed``'s vectors under ``model`` on 127.0.0.1 until ``stop()``; ``url`` ends in /v1."""

    def __init__(self, embed: OnnxEmbedding, model: str = DEFAULT_MODEL, port: int = 0) -> None:
        self.embed = embed
        self.model = model
        self.requests = 0  # POSTs to /v1/embeddings, failed ones included
        self.texts = 0  # texts embedded in answers sent
        self.batches: list[int] = []  # texts per request received
        self.reverse = False  # list the vectors last to first (each keeps its index), as a server may
        self._lock = threading.Lock()
        self._failures: list[int] = []  # statuses for the next requests; 0 = close the connection
        self.app = _Dropping(self._make_app(), self)
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))  # bound here, so the port is known before serving
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(self.app, log_level="warning", timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def fail(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` requests with ``status`` (and OpenAI's error body)."""
        with self._lock:
            self._failures += [status] * n

    def drop(self, n: int = 1) -> None:
        """Close the connection in the middle of the next ``n`` answers."""
        with self._lock:
            self._failures += [0] * n

    def _next_failure(self) -> int | None:
        with self._lock:
            self.requests += 1
            return self._failures.pop(0) if self._failures else None

    def _make_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "test"}]}

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            failure = request.scope.get("scripted_failure")
            if failure:
                return _error(failure, f"scripted failure {failure}", "server_error")
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "The body is not JSON.", "invalid_request_error")
            return await _answer(self, body)

        return app

    def start(self) -> EmbeddingsServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embeddings server did not start")
            time.sleep(0.02)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread (the process's main thread) until interrupted."""
        self._server.run(sockets=[self._sock])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._sock.close()


async def _answer(server: EmbeddingsServer, body: dict[str, Any]) -> JSONResponse:
    model = body.get("model")
    if model != server.model:
        return _error(404, f"The model `{model}` does not exist.", "invalid_request_error", "model_not_found")
    texts = _inputs(body)
    if texts is None:
        return _error(
            400, "'input' must be a string or a non-empty list of strings.", "invalid_request_error"
        )
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        return _error(400, f"Unknown encoding_format {encoding!r}.", "invalid_request_error")
    with server._lock:  # noqa: SLF001 - the server's own counters
        server.batches.append(len(texts))
    # The model runs in a worker thread, so the event loop keeps accepting requests meanwhile.
    vectors = await anyio.to_thread.run_sync(server.embed.embed_batch, texts)
    with server._lock:  # noqa: SLF001
        server.texts += len(texts)
    tokens = sum(len(t.split()) for t in texts)  # words, as a stand-in for the model's token count
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(v, encoding)} for i, v in enumerate(vectors)
    ]
    if server.reverse:
        data.reverse()
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": server.model, "usage": usage})


class _Dropping:
    """ASGI middleware that takes the scripted failure of each embeddings request: a status is
    handed to the route, a drop starts an answer and returns unfinished, so uvicorn closes the
    connection the way a crashing server does."""

    def __init__(self, app: ASGIApp, owner: EmbeddingsServer) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v1/embeddings":
            failure = self.owner._next_failure()  # noqa: SLF001
            if failure == 0:
                headers = [(b"content-type", b"application/json"), (b"content-length", b"100000")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send(
                    {"type": "http.response.body", "body": b'{"object": "list", "da', "more_body": True}
                )
                return
            scope = {**scope, "scripted_failure": failure}
        await self.app(scope, receive, send)


@pytest.fixture(name="embeddings_server")
def embeddings_server_fixture(embed: OnnxEmbedding) -> Iterator[EmbeddingsServer]:
    """A server of the test's own (fresh counters and failures), over the run's shared model."""
    server = EmbeddingsServer(embed).start()
    yield server
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="An OpenAI-compatible embeddings server (MiniLM).")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--batch-size", type=int, default=64, help="Texts per model run.")
    args = parser.parse_args()
    server = EmbeddingsServer(OnnxEmbedding(embed_batch_size=args.batch_size), port=args.port)
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
