"""The pieces together, as ``rag watch`` uses them: poll a feed, read its articles, report what
failed, fold a syndicated copy, and find the feed unchanged on the next poll."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rag.models import Article
from rag.sources import (
    DuplicateIndex,
    Fetcher,
    FetchError,
    Source,
    kind_of,
    page_article,
    parse_feed,
    to_article,
)
from tests.sources.news_site import NewsSite


@dataclass
class Poll:
    articles: list[Article] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # URL -> reason
    unchanged: bool = False


def poll(fetcher: Fetcher, source: Source) -> tuple[Poll, Source]:
    result = Poll()
    fetched = fetcher.fetch(source.url, source.etag, source.last_modified)
    source = source.polled(datetime.now(UTC), fetched.etag, fetched.last_modified)
    if fetched.not_modified:
        result.unchanged = True
        return result, source
    assert kind_of(fetched.body, fetched.content_type) == "feed"
    for item in parse_feed(fetched.body, fetched.url):
        try:
            page = fetcher.fetch(item.link)
            result.articles.append(to_article(page_article(page.url, page.body, item), origin=source.url))
        except FetchError as error:
            result.failed[item.link] = str(error)
    return result, source


def test_a_feed_poll_reads_its_articles_and_reports_failures(site: NewsSite, fetcher: Fetcher) -> None:
    first, source = poll(fetcher, Source(site.url("/feed.rss"), name="Courier"))

    assert sorted(a.url or "" for a in first.articles) == sorted(
        site.url(path) for path in ("/news/plain", "/news/jsonld", "/news/og")
    )
    assert first.failed == {site.url("/news/paywall"): "no article text: paywalled (10 words readable)"}
    assert all(a.text and a.title and a.published_at for a in first.articles)

    again, _ = poll(fetcher, source)

    assert again.unchanged and again.articles == []
    assert site.statuses("/feed.rss") == [200, 304]
    assert site.hits("/news/plain") == 1  # nothing behind an unchanged feed is fetched again


def test_a_syndicated_copy_is_recognised(site: NewsSite, fetcher: Fetcher) -> None:
    first, _ = poll(fetcher, Source(site.url("/feed.rss")))
    duplicates = DuplicateIndex()
    for article in first.articles:
        duplicates.add(article.id, article.text)

    copy = fetcher.fetch(site.url("/partner/storm"))
    page = page_article(copy.url, copy.body)
    original = next(a for a in first.articles if a.url == site.url("/news/plain"))

    assert page.source == "Harbour Herald" and page.title != original.title
    assert duplicates.find(page.text) == original.id
