"""/healthz, /readyz and /metrics."""

from __future__ import annotations

import re

import httpx

from tests.api.conftest import QUESTION


def metric(client: httpx.Client, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", client.get("/metrics").text, re.M)
    return float(match.group(1)) if match else 0.0


def test_readyz_reports_store_model_and_llm(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["articles"] == 5 and ready["store"] == "embedded"
    assert ready["llm"] == {"configured": False, "model": None, "base_url": None, "down": None}


def test_metrics_count_requests_and_answers(client: httpx.Client) -> None:
    names = [
        'rag_answers_total{mode="extractive"}',
        "rag_refusals_total",
        "rag_degraded_answers_total",
        'rag_http_requests_total{method="POST",route="/v1/ask",status="200"}',
        'rag_http_requests_total{method="GET",route="unmatched",status="404"}',
    ]
    before = [metric(client, n) for n in names]
    client.post("/v1/ask", json={"question": QUESTION})
    client.post("/v1/ask", json={"question": "What is the recipe for a lemon tart?"})
    client.get("/no/such/page")
    after = [metric(client, n) for n in names]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 0, 2, 1]
    assert (
        'rag_http_request_seconds_bucket{le="0.005",method="POST",route="/v1/ask"}'
        in client.get("/metrics").text
    )
