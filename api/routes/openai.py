"""OpenAI-compatible endpoints: ``POST /v1/chat/completions`` and ``GET /v1/models``.

A thin adapter so the official ``openai`` client, LibreChat, Open WebUI etc. work unchanged.
The request's last user message is the question; earlier user/assistant turns are history for
follow-up condensation (system messages are ignored: the answering policy is fixed). The reply's
``content`` is the verified answer with ``[n]`` markers followed by a numbered source list, and
the structured citations travel in an extra top-level ``citations`` field (in the final chunk
when streaming), so references survive clients that only keep the text.

Streaming sends the verified text, not the model's raw deltas: an OpenAI message cannot be
revised once sent, and the verifier renumbers citations and may drop sentences, so raw deltas
would leave markers that no longer match the citations.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep, MetricsDep
from api.errors import error_body, rag_error
from api.metrics import Metrics
from api.streaming import prime
from rag.chat import follow_up_focus
from rag.errors import BadInput, RagError
from rag.models import Answer, Citation, StreamEvent, explain

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "rag"
SOURCES_HEADING = "Sources:"
CHECKS_HEADING = "Not supported by its sources:"
_WORDS = re.compile(r"\S+\s*")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The OpenAI request; sampling options (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[Citation] = Field(description="The [n] markers' sources, structured.")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "rag-news"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def render_content(answer: Answer) -> str:
    """The answer text, a numbered source list matching its [n] markers, and the sentences the
    checker did not find supported, each with why (a client that keeps only the text still
    shows which claims to doubt)."""
    lines = [answer.answer]
    if answer.citations:
        lines += ["", SOURCES_HEADING]
        for c in answer.citations:
            when = c.published_at.date().isoformat() if c.published_at else "undated"
            head = f"[{c.id}] {c.title} — {c.source or 'unknown outlet'}, {when}"
            lines.append(f"{head}. {c.url}" if c.url else head)
            lines.append(f'    "{c.quote}"')
    doubts = [(s, why) for s in answer.sentences if (why := explain(s))]
    if doubts:
        lines += ["", CHECKS_HEADING]
        lines += [f"⚠ {s.text} — {why}" for s, why in doubts]
    return "\n".join(lines)


def _transcript(messages: list[ChatMessage]) -> tuple[list[tuple[str, str]], str]:
    """(earlier (user, assistant) pairs, the last user message)."""
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise BadInput("The last message must come from the user and hold the question.")
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m in turns[:-1]:
        if m.role == "user":
            pending = m.text()
        elif pending is not None:
            # Our own earlier replies carry a source list; only the answer is history.
            reply = m.text().split(f"\n\n{SOURCES_HEADING}\n")[0].split(f"\n\n{CHECKS_HEADING}\n")[0]
            pairs.append((pending, reply))
            pending = None
    return pairs, turns[-1].text()


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], **extra: Any) -> bytes:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}],
        **extra,
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _stream(
    events: Iterator[StreamEvent], cid: str, created: int, model: str, metrics: Metrics
) -> Iterator[bytes]:
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.type == "error":
                yield f"data: {json.dumps(error_body('stream_error', event.error or 'failed'))}\n\n".encode()
            if event.answer is None:
                continue
            metrics.observe_answer(event.answer)
            for piece in _WORDS.findall(render_content(event.answer)):
                yield _chunk(cid, created, model, {"content": piece})
            citations = [c.model_dump(mode="json") for c in event.answer.citations]
            yield _chunk(cid, created, model, {}, finish_reason="stop", citations=citations)
    except RagError as exc:
        yield f"data: {json.dumps(rag_error(exc)[1])}\n\n".encode()
    except Exception:
        log.exception("OpenAI-compatible stream failed")
        body = error_body("internal_error", "The answer stream failed; see the server log.")
        yield f"data: {json.dumps(body)}\n\n".encode()
    yield b"data: [DONE]\n\n"


@router.get("/models")
def models() -> ModelList:
    """The one model this server offers (`rag`)."""
    return ModelList(data=[ModelCard(id=MODEL_ID)])


@router.post("/chat/completions", response_model=ChatCompletion)
def chat_completions(
    body: ChatCompletionRequest, engine: EngineDep, metrics: MetricsDep
) -> Response | ChatCompletion:
    """OpenAI Chat Completions over the corpus: cited answer text plus a `citations` field."""
    pairs, message = _transcript(body.messages)
    question = engine.condense(pairs, message)
    focus = follow_up_focus(message, question)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        events = prime(engine.ask_stream(question, focus=focus))
        return StreamingResponse(
            _stream(events, cid, created, body.model, metrics),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = engine.ask(question, focus=focus)
    metrics.observe_answer(answer)
    return ChatCompletion(
        id=cid,
        created=created,
        model=body.model,
        choices=[Choice(message=AssistantMessage(content=render_content(answer)))],
        citations=answer.citations,
    )
