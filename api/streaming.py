"""Server-Sent Events for answer streams (``/v1/ask`` and ``/v1/chat`` with ``stream``).

Wire format: ``delta`` events (``{"text"}``; ``{"text", "replace": true}`` when the text so far is
to be replaced, as when the LLM fails mid-answer) while the answer is written, one ``answer`` event
carrying the final verified ``Answer``, then ``done``. A failure after the stream has started
arrives as an ``error`` event (the one error shape) followed by ``done``, never a cut connection.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from api.errors import error_body, rag_error
from api.metrics import Metrics
from rag.errors import RagError
from rag.models import StreamEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The JSON body, or with `stream` / `Accept: text/event-stream` an event "
        "stream: `delta` {text}..., `answer` {Answer}, `done` (or `error` {error})",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def wants_stream(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


def prime(events: Iterator[T]) -> Iterator[T]:
    """Run a stream up to its first item now, so errors before any output are plain HTTP errors."""
    first = next(events, None)
    return iter(()) if first is None else itertools.chain([first], events)


def sse(event: str, data: Any) -> bytes:
    payload = data.model_dump_json() if hasattr(data, "model_dump_json") else json.dumps(data)
    return format_sse_event(event=event, data_str=payload)


def _encode(events: Iterable[StreamEvent], metrics: Metrics, opening: Iterable[bytes]) -> Iterator[bytes]:
    yield from opening
    try:
        for event in events:
            if event.type == "delta" and event.text:
                replaced = {"replace": True} if event.replace else {}
                yield sse("delta", {"text": event.text, **replaced})
            elif event.type == "answer" and event.answer is not None:
                metrics.observe_answer(event.answer)
                yield sse("answer", event.answer)
            elif event.type == "error":
                yield sse("error", error_body("stream_error", event.error or "The answer failed."))
    except RagError as exc:
        yield sse("error", rag_error(exc)[1])
    except Exception:
        log.exception("answer stream failed")
        yield sse("error", error_body("internal_error", "The answer stream failed; see the server log."))
    yield sse("done", {})


def event_stream(
    events: Iterator[StreamEvent], metrics: Metrics, opening: Iterable[bytes] = ()
) -> StreamingResponse:
    # The sync generator runs in Starlette's thread pool, off the event loop.
    return StreamingResponse(
        _encode(events, metrics, opening),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
