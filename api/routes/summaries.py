"""``POST /v1/summaries``: a cited research summary of a topic, as JSON, Markdown or HTML."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep
from rag.models import Filters, NonBlank
from rag.summary import Summary, render

router = APIRouter(prefix="/v1", tags=["summaries"])

# Accept media type -> report format; JSON unless the client prefers a rendered report.
RENDERED = {"text/markdown": "md", "text/html": "html"}


class SummaryRequest(BaseModel):
    # An unknown field is refused: ignoring one (a misspelt filter) would summarize everything.
    model_config = ConfigDict(extra="forbid")

    topic: NonBlank = Field(min_length=1, max_length=500, examples=["the FTX trial of Sam Bankman-Fried"])
    filters: Filters | None = Field(
        None, description="As in /v1/ask: outlets, dates, category. The fields below narrow it further."
    )
    since: date | None = Field(None, description="Only articles published on/after this date.")
    until: date | None = Field(None, description="Only articles published on/before this date.")
    source: list[str] | None = Field(None, description="Only these outlets.")
    as_of: date | None = Field(
        None, description="Read relative time in the topic ('this week') as of this day."
    )


def _rendered_format(request: Request) -> str | None:
    """The report format the Accept header asks for first (q-values ignored), if any."""
    for part in request.headers.get("accept", "").split(","):
        fmt = RENDERED.get(part.split(";")[0].strip().lower())
        if fmt:
            return fmt
        if part.split(";")[0].strip().lower() == "application/json":
            return None
    return None


@router.post(
    "/summaries",
    response_model=Summary,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
)
def create_summary(body: SummaryRequest, request: Request, engine: EngineDep) -> Response | Summary:
    """Key points, timeline and sources on a topic, every claim citing an exact article span.

    JSON by default; send `Accept: text/markdown` or `Accept: text/html` for the rendered report.
    """
    given = body.filters or Filters()
    filters = Filters(  # validated again: the two sets of dates together may be backwards
        **given.model_dump()
        | {
            "source": body.source or given.source,
            "since": max(filter(None, (body.since, given.since)), default=None),
            "until": min(filter(None, (body.until, given.until)), default=None),
            "as_of": body.as_of or given.as_of,
        }
    )
    summary = engine.summarize(body.topic, filters)
    fmt = _rendered_format(request)
    if fmt == "html":
        return HTMLResponse(render(summary, "html"))
    if fmt == "md":
        return Response(render(summary, "md"), media_type="text/markdown; charset=utf-8")
    return summary
