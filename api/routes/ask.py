"""``POST /v1/ask`` (JSON or SSE) and ``GET /v1/search``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import EngineDep, MetricsDep
from api.streaming import SSE_RESPONSES, event_stream, prime, wants_stream
from rag.models import Answer, Filters, NonBlank, Passage

router = APIRouter(prefix="/v1", tags=["questions"])


class AskRequest(BaseModel):
    question: NonBlank = Field(min_length=1, max_length=2000, examples=["What is China providing Russia?"])
    filters: Filters | None = None
    top_k: int | None = Field(None, ge=1, le=100, description="Passages to retrieve.")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    as_of: date | None = Field(
        None, description="Read relative time in the question ('this week', 'recently') as of this day."
    )


class SearchResponse(BaseModel):
    query: str
    passages: list[Passage]


@router.post("/ask", response_model=Answer, responses=SSE_RESPONSES)
def ask(body: AskRequest, request: Request, engine: EngineDep, metrics: MetricsDep) -> Response | Answer:
    """Answer a question from the corpus; every sentence cites an exact article span."""
    filters = body.filters
    if body.as_of:
        filters = (filters or Filters()).model_copy(update={"as_of": body.as_of})
    if wants_stream(request, body.stream):
        return event_stream(prime(engine.ask_stream(body.question, filters, body.top_k)), metrics)
    answer = engine.ask(body.question, filters, body.top_k)
    metrics.observe_answer(answer)
    return answer


@router.get("/search")
def search(
    engine: EngineDep,
    q: Annotated[NonBlank, Query(min_length=1, max_length=2000, description="The query.")],
    k: Annotated[int | None, Query(ge=1, le=100, description="How many passages.")] = None,
    source: Annotated[list[str] | None, Query(description="Outlet(s).")] = None,
    since: Annotated[date | None, Query(description="Published on/after.")] = None,
    until: Annotated[date | None, Query(description="Published on/before.")] = None,
    category: Annotated[str | None, Query()] = None,
    as_of: Annotated[
        date | None, Query(description="Read relative time ('this week') as of this day.")
    ] = None,
) -> SearchResponse:
    """Ranked passages with scores and article metadata: the passages an answer would be written
    from (keyword candidates ranked by the learned ranker; see docs/architecture.md)."""
    filters = Filters(source=source, since=since, until=until, category=category, as_of=as_of)
    return SearchResponse(query=q, passages=engine.search(q, k, filters))
