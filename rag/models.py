"""Types that cross module and transport boundaries.

``Article`` (what loading produces), ``Passage`` (what retrieval returns), ``Citation`` /
``Sentence`` / ``Answer`` (what answering returns: the one JSON shape used by the CLI, HTTP,
SSE, the OpenAI-compatible endpoint and Slack), ``IngestReport`` and ``Filters``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from rag.errors import BadInput


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


MAX_QUESTION_CHARS = 2000  # a question (a follow-up once rewritten included) at most

# Text a request must hold something in: blank is refused as empty is (422), and kept as sent
# (offsets may point into it).
NonBlank = Annotated[str, AfterValidator(_not_blank)]


class ArticleMeta(BaseModel):
    """What is known about an article besides its text."""

    id: str
    title: str
    source: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    category: str | None = None
    origin: str = Field(description="File (and record/story) the article came from.")


class Carrier(BaseModel):
    """An outlet that carried a story: the stored article's own, or a syndicated copy folded into it."""

    outlet: str | None = None
    url: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = Field(None, description="When this copy was fetched.")


CARRIED_BY = (
    "Every outlet that carried this story, its own first, then the syndicated copies folded into "
    "it (stored once); empty for an article nobody else carried."
)


class Article(ArticleMeta):
    """One story with its metadata; ``text`` is exactly what offsets point into."""

    text: str
    content_hash: str = ""
    carried_by: list[Carrier] = Field(default_factory=list, description=CARRIED_BY)


class ArticleInfo(ArticleMeta):
    """An article's metadata without its text, for listings."""

    chars: int
    chunks: int
    carried_by: list[Carrier] = Field(default_factory=list, description=CARRIED_BY)


class Filters(BaseModel):
    """Restricts retrieval by outlet, publication date and category (all optional)."""

    source: list[str] | None = Field(None, description="Outlet name(s), case-insensitive.")
    since: date | None = Field(None, description="Published on or after this date.")
    until: date | None = Field(None, description="Published on or before this date.")
    category: str | None = None
    as_of: date | None = Field(
        None, description="The day relative time ('this week', 'recently') in a question is read against."
    )

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if isinstance(value, str):
            return [value] if value.strip() else None
        return value or None

    @model_validator(mode="after")
    def _ordered(self) -> Filters:
        if self.since and self.until and self.since > self.until:
            raise BadInput(f"'since' ({self.since}) is after 'until' ({self.until}).")
        return self

    def is_empty(self) -> bool:
        return not (self.source or self.since or self.until or self.category)

    def describe(self) -> str:
        """The filters in words ("from The Verge; since 2023-10-01"), empty when none."""
        parts = []
        if self.source:
            parts.append("from " + ", ".join(self.source))
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.category:
            parts.append(f"in {self.category}")
        return "; ".join(parts)


class Passage(BaseModel):
    """A retrieved chunk, returned as its passage span (``rag.passages``): ``text ==
    article.text[start:end]``; ``id`` is the chunk's."""

    id: str
    document_id: str
    text: str
    start: int
    end: int
    score: float
    title: str
    source: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    category: str | None = None


class Citation(BaseModel):
    id: int
    document_id: str
    title: str
    source: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    quote: str = Field(description="Exactly the article text [start:end].")
    start: int
    end: int
    score: float


Verdict = Literal["supported", "unsupported", "contradicted"]


class Conflict(BaseModel):
    """What the evidence states differently from a claim."""

    kind: Literal["number", "date", "name", "place", "negation"] = Field(
        description="What differs: a number, a date, a name, a place, or a negation."
    )
    claim_text: str = Field(description="The claim's conflicting part, e.g. '3 sources'.")
    claim_start: int = Field(description="Where that part starts in the sentence.")
    claim_end: int
    evidence_text: str = Field(description="What the evidence says instead, e.g. '5 sources'.")
    citation: int = Field(description="The citation quoting the evidence sentence that says it.")


class Sentence(BaseModel):
    """One sentence of an answer or summary, with its citations and what the checker found."""

    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = Field(description="True only when the verdict is 'supported'.")
    verdict: Verdict = "supported"
    score: float | None = Field(
        None, description="Calibrated probability that a careful reader calls it supported by its citations."
    )
    conflict: Conflict | None = None

    @model_validator(mode="before")
    @classmethod
    def _verdict(cls, data: object) -> object:
        # Given only ``supported`` (a quote, a refusal), the verdict follows from it.
        if isinstance(data, dict) and "verdict" not in data and "supported" in data:
            return data | {"verdict": "supported" if data["supported"] else "unsupported"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Sentence:
        self.supported = self.verdict == "supported"
        return self


def explain(sentence: Sentence) -> str | None:
    """Why a sentence is not supported, in words a reader of any transport gets (None when it is)."""
    if sentence.verdict == "supported":
        return None
    if sentence.verdict == "contradicted" and sentence.conflict is not None:
        c = sentence.conflict
        return f"contradicted: [{c.citation}] says “{c.evidence_text}”, not “{c.claim_text}”"
    if sentence.verdict == "contradicted":
        return "contradicted by what it cites"
    return "unsupported: " + ("its citations do not state it" if sentence.citations else "it cites nothing")


class Answer(BaseModel):
    """The one answer shape. Citation ids are 1..N in order of first use in ``answer``."""

    answer: str
    refused: bool = False
    mode: Literal["extractive", "llm"] = "extractive"
    degraded: bool = False
    degraded_reason: str | None = None
    sentences: list[Sentence] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    removed_citations: list[int] = Field(
        default_factory=list,
        description="Citation numbers the model used that pointed at no passage it was shown.",
    )
    question: str | None = None


class StreamEvent(BaseModel):
    """One event of an answer stream: text deltas, then the final verified answer."""

    type: Literal["delta", "answer", "error"]
    text: str | None = None
    # A delta that replaces the text streamed so far (the LLM failed mid-answer and the quoted
    # answer follows), rather than continuing it.
    replace: bool = False
    answer: Answer | None = None
    error: str | None = None


class SkippedFile(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "skipped": len(self.skipped),
        }
