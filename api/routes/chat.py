"""``POST /v1/chat`` (multi-turn, JSON or SSE) and ``/v1/conversations/{id}``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.deps import EngineDep, MetricsDep
from api.streaming import SSE_RESPONSES, event_stream, prime, sse, wants_stream
from rag.conversations import ChatReply, Conversation
from rag.models import NonBlank

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    message: NonBlank = Field(min_length=1, max_length=2000, examples=["And what about Starlink?"])
    conversation_id: str | None = Field(
        None, max_length=64, description="Continue this conversation; omit to start one."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")


@router.post("/chat", response_model=ChatReply, responses=SSE_RESPONSES)
def chat(body: ChatRequest, request: Request, engine: EngineDep, metrics: MetricsDep) -> Response | ChatReply:
    """One conversation turn. Follow-ups ("when was that?") are rewritten into a standalone
    question from the history before retrieval; `answer.question` shows the rewrite.
    Streaming opens with a `conversation` event {conversation_id}."""
    if wants_stream(request, body.stream):
        conversation_id, events = engine.chat_stream(body.message, body.conversation_id)
        opening = [sse("conversation", {"conversation_id": conversation_id})]
        return event_stream(prime(events), metrics, opening)
    reply = engine.chat(body.message, body.conversation_id)
    metrics.observe_answer(reply.answer)
    return reply


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: str, engine: EngineDep) -> Conversation:
    """Every turn of a conversation: the message, its standalone question and the answer."""
    return engine.conversations.get(conversation_id)


@router.delete("/conversations/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: str, engine: EngineDep) -> Response:
    engine.conversations.delete(conversation_id)
    return Response(status_code=204)
