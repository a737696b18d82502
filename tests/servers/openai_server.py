"""A local stand-in for an OpenAI-compatible server, speaking the chat-completions wire format.

OpenAI's cloud cannot be reached from tests, so this serves, on a loopback port:
- ``POST /v1/chat/completions``: a ``chat.completion`` JSON body, or with ``"stream": true``
  ``text/event-stream`` ``data: {chat.completion.chunk}`` events ending in ``data: [DONE]``;
- ``GET /v1/models``: the one scripted model.

Each test scripts the reply (``server.reply = Reply(...)`` or a function of the request body,
so a "model" can read the prompt it was sent) and reads ``server.requests`` afterwards.
Failures are scripted too: an HTTP status with OpenAI's error body, a delay (for timeouts),
or raw bytes (garbage).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODEL = "scripted-model"


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    raw: bytes | None = None  # sent as the body instead of a well-formed response
    chunk_chars: int = 7  # characters per streamed delta
    cut_after: int | None = None  # streamed deltas sent before the stream breaks mid-answer


Script = Reply | Callable[[dict[str, Any]], Reply]


def prompt_of(request: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def passages_of(request: dict[str, Any]) -> dict[int, str]:
    """The numbered passages a request showed the model: {number: text}."""
    found = re.findall(r"^\[(\d+)\][^\n]*:\n<<<\n(.*?)\n>>>", prompt_of(request), re.S | re.M)
    return {int(n): text for n, text in found}


def number_of(request: dict[str, Any], phrase: str) -> int:
    """The number of the passage holding ``phrase``, as a model reading the prompt would cite."""
    return next(n for n, text in passages_of(request).items() if phrase.lower() in text.lower())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]}
            )
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        owner = self.server.owner
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(
                404, {"error": {"message": f"unknown path {self.path}", "type": "invalid_request_error"}}
            )
            return
        owner.requests.append(body)
        reply = owner.reply(body) if callable(owner.reply) else owner.reply
        if reply.delay and owner.stopping.wait(reply.delay):
            return
        try:
            if reply.raw is not None:
                kind = "text/event-stream" if body.get("stream") else "application/json"
                self._send(reply.status, kind, reply.raw)
            elif reply.status != 200:
                error = {"message": f"scripted failure {reply.status}", "type": "server_error", "code": None}
                self._json(reply.status, {"error": error})
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._json(200, _completion(body, reply.text))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout), as real clients do

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        pieces = [reply.text[i : i + reply.chunk_chars] for i in range(0, len(reply.text), reply.chunk_chars)]
        chunks = [_chunk(body, {"role": "assistant", "content": ""}, None)]
        chunks += [_chunk(body, {"content": piece}, None) for piece in pieces[: reply.cut_after]]
        if reply.cut_after is None:
            chunks.append(_chunk(body, {}, "stop"))
        for chunk in chunks:
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        if reply.cut_after is not None:  # the stream breaks mid-answer: a garbled event, no end
            self.wfile.write(b"data: {broken\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, kind: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        # No keep-alive: once stopped, the server must be gone for every client, as if killed.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", MODEL),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", MODEL),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAIServer


class OpenAIServer:
    """Runs on 127.0.0.1 on a free port until ``stop()``; ``url`` is the base URL to configure."""

    def __init__(self) -> None:
        self.reply: Script = Reply("The corpus has insufficient information to answer this question.")
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="openai_server")
def openai_server_fixture() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    yield server
    server.stop()
