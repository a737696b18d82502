"""``POST /v1/verify``: check any text (a draft, another system's answer) against the corpus or
against documents sent with it."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.deps import EngineDep
from rag.models import Filters, NonBlank
from rag.verify import MAX_DOCUMENTS, MAX_TEXT_CHARS, Verification, VerifyDocument

router = APIRouter(prefix="/v1", tags=["verify"])

_EXAMPLE: dict[str, Any] = {
    "text": "China is providing Russia with geospatial satellite imagery for military use. "
    "Three sources told Bloomberg about it.",
    "documents": [
        {
            "title": "China is providing satellite intelligence to Russia",
            "source": "Business Insider",
            "text": "China is providing Russia with geospatial satellite imagery for military use, "
            "according to five sources familiar with the matter.",
        }
    ],
}


class VerifyFilters(BaseModel):
    source: list[str] | str | None = Field(None, description="Outlet name(s), case-insensitive.")
    since: date | None = Field(None, description="Published on or after this date.")
    until: date | None = Field(None, description="Published on or before this date.")


class VerifyRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    text: NonBlank = Field(
        min_length=1, description=f"The text to check (at most {MAX_TEXT_CHARS:,} characters)."
    )
    documents: list[VerifyDocument] | None = Field(
        None,
        min_length=1,  # an empty list is not "no documents": omit it for the corpus
        description=f"Check against these only (at most {MAX_DOCUMENTS}); nothing is stored. "
        "Omit to check against the indexed corpus.",
    )
    filters: VerifyFilters | None = Field(
        None, description="Restrict the corpus evidence (without documents)."
    )
    top_k: int | None = Field(
        None, ge=1, le=20, description="Passages retrieved per sentence from the corpus."
    )


@router.post("/verify")
async def verify(body: VerifyRequest, engine: EngineDep) -> Verification:
    """A verdict per sentence (`supported`, `unsupported`, `contradicted`) with a calibrated score,
    the evidence quoted exactly (`start`/`end` of each sentence are offsets into `text`) and,
    for a contradiction, what conflicts. A text with nothing checkable is `empty`."""
    filters = Filters(**body.filters.model_dump()) if body.filters else None
    return await run_in_threadpool(engine.verify, body.text, body.documents, filters, body.top_k)
