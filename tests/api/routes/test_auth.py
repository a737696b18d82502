"""API keys: every /v1 route needs one when RAG_API_KEYS is set; health routes stay open."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

from rag.engine import Engine
from tests.api.conftest import QUESTION, Serve

KEYS = ["k-alpha-123", "k-beta-456"]


def test_keys_guard_every_v1_route(serve: Serve, seeded: Engine) -> None:
    with serve(api_keys=KEYS) as running, running.client() as anonymous:
        for method, path in [
            ("POST", "/v1/ask"),
            ("GET", "/v1/search?q=x"),
            ("POST", "/v1/chat"),
            ("GET", "/v1/documents"),
            ("GET", "/v1/conversations/x"),
            ("GET", "/v1/models"),
            ("POST", "/v1/chat/completions"),
        ]:
            r = anonymous.request(method, path, json={"question": QUESTION})
            assert r.status_code == 401, (method, path)
            assert r.json()["error"]["type"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/").status_code == 200  # the page asks for the key itself

        with running.client("wrong-key") as wrong:
            assert wrong.post("/v1/ask", json={"question": QUESTION}).status_code == 401
        for key in KEYS:
            with running.client(key) as c:
                assert c.post("/v1/ask", json={"question": QUESTION}).status_code == 200

        client = OpenAI(base_url=f"{running.url}/v1", api_key=KEYS[1], max_retries=0)
        assert [m.id for m in client.models.list()] == ["rag"]
        with pytest.raises(openai.AuthenticationError):
            OpenAI(base_url=f"{running.url}/v1", api_key="nope", max_retries=0).models.list()


def test_without_keys_the_api_is_open(client: httpx.Client) -> None:
    assert client.post("/v1/ask", json={"question": QUESTION}).status_code == 200


def test_cors_allows_configured_origins_only(serve: Serve, seeded: Engine) -> None:
    with serve(cors_origins=["http://app.example"]) as running, running.client() as c:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = c.options("/v1/ask", headers={"Origin": "http://app.example", **preflight})
        assert ok.headers.get("access-control-allow-origin") == "http://app.example"
        other = c.options("/v1/ask", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
