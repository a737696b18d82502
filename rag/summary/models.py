"""The research summary's shape: key points, timeline, sources, coverage and gaps, each point and
event citing exact article spans (the same ``Citation`` objects as answers). Markdown and HTML
are rendered from it (``rag.summary.report``).
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from rag.errors import BadInput
from rag.models import Citation, Filters, Sentence


class PointSupport(BaseModel):
    articles: int = Field(description="Distinct articles whose sentences back the point.")
    outlets: int = Field(description="Distinct outlets among them.")
    copies: int = Field(
        0, description="Further outlets that only ran copies of those articles (syndicated, stored once)."
    )


class KeyPoint(BaseModel):
    text: str = Field(description="1-3 sentences, each ending in its [n] citation markers.")
    sentences: list[Sentence]
    citations: list[int]
    support: PointSupport
    outlets: list[str]


class TimelineEvent(BaseModel):
    date: dt.date = Field(description="Publication date of the cited article.")
    text: str
    citations: list[int]


class SourceRef(BaseModel):
    document_id: str
    title: str
    source: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    points: int = Field(description="How many key points cite this article.")
    citations: list[int]
    carried_by: list[str] = Field(
        default_factory=list, description="Other outlets that ran a copy of this story (syndicated)."
    )


class Coverage(BaseModel):
    articles: int = Field(description="Articles with at least one sentence on the topic.")
    by_outlet: dict[str, int]
    by_month: dict[str, int] = Field(description="YYYY-MM -> articles published that month.")
    copies: dict[str, int] = Field(
        default_factory=dict,
        description="Outlet -> copies of these articles it ran (syndicated; not in `by_outlet`).",
    )


class Summary(BaseModel):
    """The one summary shape; Markdown and HTML are rendered from it (``rag.summary.report``)."""

    topic: str
    generated_at: datetime
    filters: Filters
    mode: Literal["extractive", "llm"] = "extractive"
    degraded: bool = Field(False, description="The LLM failed, so points are quoted sentences.")
    degraded_reason: str | None = None
    key_points: list[KeyPoint] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    sources: list[SourceRef] = Field(default_factory=list)
    coverage: Coverage
    gaps: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    seconds: float = 0.0


def clean_topic(topic: str | None) -> str:
    text = (topic or "").strip()
    if not text:
        raise BadInput("The topic is empty; name one, e.g. 'the FTX trial of Sam Bankman-Fried'.")
    if len(text) > 500:
        raise BadInput("The topic is longer than 500 characters; name it in a few words.")
    return text
