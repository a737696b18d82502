"""Prometheus metrics: request counts and latency per route, answers by mode, refusals, degraded.

One ``CollectorRegistry`` per app (not the process-global one) so several apps can live in
one process, as they do in tests.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.models import Answer


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests", "HTTP requests.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "rag_http_request_seconds",
            "Time to the end of the response.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.answers = Counter("rag_answers", "Answers produced.", ["mode"], registry=self.registry)
        self.refusals = Counter("rag_refusals", "Answers that refused.", registry=self.registry)
        self.degraded = Counter(
            "rag_degraded_answers", "Answers produced in a degraded mode.", registry=self.registry
        )

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels(answer.mode).inc()
        if answer.refused:
            self.refusals.inc()
        if answer.degraded:
            self.degraded.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
