"""A local stand-in for Slack's Web API, speaking its wire format and recording every call.

Slack's cloud cannot be reached from tests, so this serves, on a loopback port:
- ``POST /api/<method>`` for ``auth.test``, ``chat.postMessage``, ``chat.update`` and
  ``chat.postEphemeral`` (JSON or form bodies, ``Authorization: Bearer <token>`` checked,
  ``{"ok": true, ...}`` / ``{"ok": false, "error": ...}`` answers as Slack gives them);
- ``POST /response/<id>``: a slash command's / button's ``response_url`` (answers ``ok``);
- Socket Mode: ``apps.connections.open`` (app token) hands out a ``ws://`` URL on which
  ``send_envelope`` pushes events the way Slack does, after its ``hello``; the client's
  acknowledgements are recorded as ``socket_ack`` calls.

Point ``RAG_SLACK_API_URL`` at ``server.api_url`` and read ``server.calls``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


@dataclass
class Call:
    method: str  # "chat.postMessage", ... or "response_url"
    args: dict[str, Any]
    path: str
    reply: dict[str, Any] = field(default_factory=dict)  # what the stand-in answered
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class SlackServer:
    token: str
    app_token: str = "xapp-1-test"
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    socket_port: int = 0
    sockets: list[ServerConnection] = field(default_factory=list)
    _ts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push one Socket Mode envelope (``events_api``, ``slash_commands``, ...) to the bot."""
        envelope_id = f"env-{self.next_ts()}"
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
        }
        self.sockets[-1].send(json.dumps(message))
        return envelope_id

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        """Wait until ``count`` calls of ``method`` arrived (the bot answers after its ack)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.of(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} {method} call(s), got {self.of(method)}")
                self._changed.wait(left)
        return self.of(method)

    def next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "ragbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.update"):
            if not args.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not (args.get("text") or args.get("blocks")):
                return {"ok": False, "error": "no_text"}
            ts = args.get("ts") or self.next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
            message.update({k: args[k] for k in ("text", "blocks", "thread_ts") if k in args})
            return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.socket_port}/link/?ticket=t"}
        if method == "chat.postEphemeral":
            if not args.get("channel") or not args.get("user"):
                return {"ok": False, "error": "user_not_in_channel"}
            return {"ok": True, "message_ts": self.next_ts()}
        return {"ok": False, "error": "unknown_method"}


def _handler(server: SlackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _read(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if not raw:
                return {}
            if self.headers.get("Content-Type", "").startswith("application/json"):
                return json.loads(raw)
            args: dict[str, Any] = dict(parse_qsl(raw))
            for key in ("blocks", "attachments"):  # form bodies carry these as JSON strings
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            return args

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            args = self._read()
            if self.path.startswith("/response/"):
                server.record(Call("response_url", args, self.path))
                self._send(200, b"ok", "text/plain")
                return
            if not self.path.startswith("/api/"):
                self._send(404, b"not found", "text/plain")
                return
            method = self.path.removeprefix("/api/").split("?")[0]
            # Socket Mode needs the app-level token, every other method the bot token.
            token = server.app_token if method == "apps.connections.open" else server.token
            if self.headers.get("Authorization") != f"Bearer {token}":
                reply: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
            else:
                reply = server.answer(method, args)
            server.record(Call(method, args, self.path, reply))
            self._send(200, json.dumps(reply).encode(), "application/json; charset=utf-8")

    return Handler


def _socket_server(server: SlackServer) -> Server:
    def session(ws: ServerConnection) -> None:
        ws.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0000001"}})
        )
        server.sockets.append(ws)
        try:
            for message in ws:
                server.record(Call("socket_ack", json.loads(message), "ws"))
        except ConnectionClosed:
            pass

    return serve(session, "127.0.0.1", 0)


@contextmanager
def running_slack(token: str) -> Iterator[SlackServer]:
    state = SlackServer(token=token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    ws = _socket_server(state)
    state.socket_port = ws.socket.getsockname()[1]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (httpd, ws)]
    for thread in threads:
        thread.start()
    try:
        yield state
    finally:
        ws.shutdown()
        httpd.shutdown()
        httpd.server_close()
