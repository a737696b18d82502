"""What an ingest of URLs or a poll of the followed sources reports: the ingest report every
ingest gives (added, updated, unchanged, skipped with reasons), plus the syndicated copies
folded into stories already stored and what each source's poll did."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rag.models import IngestReport


class Folded(BaseModel):
    """A page not stored because it is a copy of a stored story; recorded as carrying it."""

    url: str
    story_id: str = Field(description="The stored article it is a copy of.")
    outlet: str | None = None


class PolledSource(BaseModel):
    url: str
    status: Literal["read", "not_modified", "failed"]
    detail: str = Field(description="What the poll found, or why it failed.")
    items: int = Field(0, description="Items the feed or sitemap listed (read ones, newest first).")


class FeedReport(IngestReport):
    folded: list[Folded] = Field(default_factory=list)
    sources: list[PolledSource] = Field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        """Add a file ingest's report to this one."""
        for name in ("added", "updated", "unchanged", "removed", "skipped"):
            getattr(self, name).extend(getattr(other, name))
        self.chunks_embedded += other.chunks_embedded
