"""Reading the web for ``Feeds``: a URL -> what it is (a feed, a sitemap or an article page) and
the articles behind it, each fetched at most once per poll and only when new or updated.

A known article URL (``Records.known``) is fetched again only when its feed or sitemap says it
changed since (a newer ``updated`` date), and then conditionally (its ETag / Last-Modified), so
an unchanged article costs nothing or one 304. Failures are collected with their reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from rag.feeds.records import Known
from rag.sources import (
    ExtractedPage,
    FeedItem,
    Fetched,
    Fetcher,
    FetchError,
    NoArticleText,
    kind_of,
    page_article,
    parse_feed,
    parse_sitemap,
)
from rag.sources.feeds import MAX_NESTED_SITEMAPS, Kind


@dataclass(frozen=True)
class Found:
    """An article read from the web, with how to ask for its URL again."""

    page: ExtractedPage
    item: FeedItem  # what linked to it (a bare item for a URL given directly)
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Visit:
    """What fetching one URL gave: nothing new (304), the items of a feed or sitemap, or the
    article the URL itself is."""

    url: str
    kind: Kind | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    items: list[FeedItem] = field(default_factory=list)
    found: Found | None = None


@dataclass
class Reading:
    """The articles read for a list of items: found, unchanged (304) and failed, by URL."""

    found: list[Found] = field(default_factory=list)
    unchanged: list[FeedItem] = field(default_factory=list)
    empty: list[tuple[FeedItem, FetchError]] = field(default_factory=list)  # fetched, no article
    failed: list[tuple[FeedItem, FetchError]] = field(default_factory=list)  # not fetched


class Crawler:
    """Fetches with one ``Fetcher`` (its robots.txt and per-host turns shared by all calls)."""

    def __init__(self, fetcher: Fetcher, max_items: int, workers: int) -> None:
        self.fetcher = fetcher
        self.max_items = max_items
        self.workers = workers

    def visit(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Visit:
        """Fetch ``url`` (conditionally with the validators given) and read what it is; raises
        ``FetchError``."""
        fetched = self.fetcher.fetch(url, etag, last_modified)
        visit = Visit(url, etag=fetched.etag, last_modified=fetched.last_modified)
        if fetched.not_modified:
            visit.not_modified = True
            return visit
        visit.kind = kind_of(fetched.body, fetched.content_type)
        if visit.kind == "feed":
            visit.items = parse_feed(fetched.body, fetched.url)[: self.max_items]
        elif visit.kind == "sitemap":
            visit.items = self._sitemap(fetched)
        else:
            visit.found = _found(FeedItem(link=url), fetched)
        return visit

    def _sitemap(self, fetched: Fetched) -> list[FeedItem]:
        """A sitemap's pages, or a sitemap index's (its nested sitemaps read, newest first, until
        ``max_items`` pages); a nested sitemap that fails is skipped, the others still read."""
        items = parse_sitemap(fetched.body, fetched.url, limit=self.max_items)
        pages = [i for i in items if i.kind == "page"]
        for nested in [i for i in items if i.kind == "sitemap"][:MAX_NESTED_SITEMAPS]:
            if len(pages) >= self.max_items:
                break
            try:
                inner = self.fetcher.fetch(nested.link)
                pages += [i for i in parse_sitemap(inner.body, inner.url) if i.kind == "page"]
            except FetchError:
                continue
        pages.sort(key=lambda i: i.published or datetime.min, reverse=True)
        return pages[: self.max_items]

    def read(self, items: Sequence[FeedItem], known: dict[str, Known]) -> Reading:
        """Fetch and read each item's article (conditionally for a known URL), several at once."""
        reading = Reading()
        if not items:
            return reading
        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="rag-fetch") as pool:
            results = list(pool.map(lambda item: self._read_one(item, known.get(item.link)), items))
        for item, result in zip(items, results, strict=True):
            if isinstance(result, Found):
                reading.found.append(result)
            elif result is None:
                reading.unchanged.append(item)
            elif isinstance(result, NoArticleText):
                reading.empty.append((item, result))
            else:
                reading.failed.append((item, result))
        return reading

    def _read_one(self, item: FeedItem, known: Known | None) -> Found | FetchError | None:
        try:
            validators = (known.etag, known.last_modified) if known and known.article_id else ()
            fetched = self.fetcher.fetch(item.link, *validators)
            return None if fetched.not_modified else _found(item, fetched)
        except FetchError as error:
            return error


def _found(item: FeedItem, fetched: Fetched) -> Found:
    page = page_article(fetched.url, fetched.body, fallback=item)
    return Found(page, item, fetched.etag, fetched.last_modified)
