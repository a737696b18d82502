"""``/v1/sources``: the feeds, sitemaps and pages this server follows (``rag watch`` and
``rag serve --watch`` poll them and ingest what is new): follow one, list them, stop one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.deps import EngineDep
from rag.feeds import Feeds, SourceInfo

router = APIRouter(prefix="/v1/sources", tags=["sources"])


class SourceCreate(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="An RSS/Atom feed, a sitemap or a page (http or https).",
        examples=["https://example.org/news/feed.xml"],
    )
    every: str | None = Field(
        None,
        max_length=40,
        description="Poll interval: 90s, 30m, 2h, 1d or 1h30m (default 30m).",
        examples=["30m"],
    )
    name: str | None = Field(None, max_length=200, description="A name to list it by.")


def get_feeds(engine: EngineDep) -> Iterator[Feeds]:
    with Feeds(engine) as feeds:
        yield feeds


FeedsDep = Annotated[Feeds, Depends(get_feeds)]


@router.post("", status_code=201)
def add_source(body: SourceCreate, feeds: FeedsDep) -> SourceInfo:
    """Follow a source (again: its interval and name are updated). A URL that is not http(s),
    or that resolves to a private address (unless `RAG_FETCH_ALLOW_PRIVATE`), is refused (400)."""
    return feeds.add_source(body.url, body.every, body.name)


@router.get("")
def list_sources(feeds: FeedsDep) -> list[SourceInfo]:
    """The sources followed, when each was last polled and what that poll did."""
    return feeds.sources()


@router.delete("/{source_id}", status_code=204)
def remove_source(source_id: str, feeds: FeedsDep) -> Response:
    """Stop following a source (its `id`); the articles it brought stay in the corpus."""
    feeds.remove_source(source_id)
    return Response(status_code=204)
