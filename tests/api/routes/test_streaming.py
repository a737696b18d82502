"""Answer streams never end in a cut connection: failures become events."""

from __future__ import annotations

import json
from collections.abc import Iterator

from httpx_sse import connect_sse

from api.metrics import Metrics
from api.streaming import _encode
from rag.engine import Engine
from rag.errors import StoreUnavailable
from rag.models import StreamEvent
from tests.api.conftest import QUESTION, Serve
from tests.servers.openai_server import OpenAIServer, Reply


def test_an_error_after_the_first_event_is_an_error_event_then_done() -> None:
    def events() -> Iterator[StreamEvent]:
        yield StreamEvent(type="delta", text="Half an ans")
        raise StoreUnavailable("Vector search failed: connection refused")

    frames = [f.decode() for f in _encode(events(), Metrics(), [])]
    kinds = [f.split("\n")[0] for f in frames]
    assert kinds == ["event: delta", "event: error", "event: done"]
    error = json.loads(frames[1].split("data: ", 1)[1])
    assert error == {"error": {"type": "unavailable", "message": "Vector search failed: connection refused"}}


def test_an_llm_breaking_mid_stream_still_ends_with_a_verified_answer(serve: Serve, seeded: Engine) -> None:
    llm = OpenAIServer()
    first = b'data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
    first += b'"choices":[{"index":0,"delta":{"content":"China gives"},"finish_reason":null}]}\n\n'
    llm.reply = Reply(raw=first + b"data: {not json\n\n")
    try:
        with serve(llm_base_url=llm.url) as running, running.client() as c:
            body = {"question": QUESTION, "stream": True}
            with connect_sse(c, "POST", "/v1/ask", json=body) as source:
                events = [(e.event, e.json()) for e in source.iter_sse()]
    finally:
        llm.stop()
    kinds = [k for k, _ in events]
    assert kinds[-2:] == ["answer", "done"] and "error" not in kinds
    answer = events[-2][1]
    assert answer["degraded"] and answer["citations"] and answer["degraded_reason"]
