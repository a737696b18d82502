"""Articles read out of fetched pages: the story's text, and who published it when."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from rag.models import Article
from rag.sources import (
    FeedItem,
    Fetcher,
    FetchError,
    NoArticleText,
    article_id,
    page_article,
    parse_feed,
    to_article,
)
from tests.sources.news_site import NewsSite, article_html
from tests.sources.stories import ELECTION, STORM


def fetch_page(site: NewsSite, fetcher: Fetcher, path: str, fallback: FeedItem | None = None):  # noqa: ANN201
    fetched = fetcher.fetch(site.url(path))
    return page_article(fetched.url, fetched.body, fallback=fallback)


def test_json_ld_news_article_gives_the_metadata(site: NewsSite, fetcher: Fetcher) -> None:
    page = fetch_page(site, fetcher, "/news/jsonld")

    assert page.title == "Almen chooses a new council after the bridge dispute"
    assert page.source == "Almen Gazette"
    assert page.author == "Mara Holt, Jon Ek"
    assert page.published_at == datetime(2024, 3, 8, 18, 5)  # the outlet's local time
    assert page.category == "Politics" and page.lang == "en-GB"
    assert page.text.startswith("Voters in the riverside district")
    # rel=canonical, with its tracking parameter and fragment dropped.
    assert page.url == site.url("/news/jsonld")


def test_og_tags_and_time_element_are_enough(site: NewsSite, fetcher: Fetcher) -> None:
    page = fetch_page(site, fetcher, "/news/og")

    assert page.title == "Storm claims to run into millions"  # "| Coastal Times" dropped
    assert page.source == "Coastal Times"
    assert page.published_at == datetime(2024, 3, 7, 9, 15)
    # The headline is the title, not the text's first line.
    assert page.text.startswith("Insurers in the northern region")


def test_a_canonical_url_on_another_site_is_not_trusted(site: NewsSite, fetcher: Fetcher) -> None:
    page = fetch_page(site, fetcher, "/news/og")  # declares https://wire.example/storm-claims

    assert page.url == page.fetched_url == site.url("/news/og")


def test_navigation_and_breadcrumbs_are_left_out(site: NewsSite, fetcher: Fetcher) -> None:
    page = fetch_page(site, fetcher, "/news/plain")

    assert page.title == "Storm batters the northern coast"
    assert page.text.splitlines()[0] == STORM[0]
    for crumb in ("Home", "World", "Sport", "Privacy", "©"):
        assert crumb not in page.text
    assert page.author is None and page.published_at is None  # the page does not say


def test_feed_items_fill_what_the_page_lacks(site: NewsSite, fetcher: Fetcher) -> None:
    feed = fetcher.fetch(site.url("/feed.rss"))
    items = {item.title: item for item in parse_feed(feed.body, feed.url)}

    plain = fetch_page(site, fetcher, "/news/plain", fallback=items["Storm batters the northern coast"])
    assert plain.author == "Lena Brandt"
    assert plain.published_at == datetime(2024, 3, 5, 7, 30)
    assert plain.source == "Kessling Courier"  # the feed's title, for a page that names no outlet

    # What the page itself declares wins over the feed.
    election = fetch_page(site, fetcher, "/news/jsonld", fallback=items["Almen votes"])
    assert election.author == "Mara Holt, Jon Ek"
    assert election.published_at == datetime(2024, 3, 8, 18, 5)
    assert election.title.startswith("Almen chooses")


def test_a_paywall_stub_is_no_article(site: NewsSite, fetcher: Fetcher) -> None:
    with pytest.raises(NoArticleText, match=r"no article text: paywalled"):
        fetch_page(site, fetcher, "/news/paywall")


def test_an_error_page_is_no_article() -> None:
    html = b"<html><body><h1>Oops</h1><p>Something went wrong. Try again later.</p></body></html>"

    reason = r"no article text \(\d+ words; a paywall, a video or an error page\?\)"
    with pytest.raises(FetchError, match=reason):
        page_article("https://news.example/oops", html)


def test_undeclared_metadata_falls_back_to_the_host() -> None:
    page = page_article("https://www.news.example/a", article_html(ELECTION))

    assert page.source == "news.example"
    # No title anywhere: the start of the first line stands in.
    assert page.title.startswith("Voters in the riverside district") and page.title.endswith("…")
    assert len(page.title) <= 121


def test_to_article_has_a_stable_id_and_the_content_hash() -> None:
    html = article_html(STORM, headline="Storm")
    page = page_article("https://news.example/storm?utm_source=rss", html)
    article = to_article(page, origin="https://news.example/feed.rss")

    assert isinstance(article, Article)
    assert article.url == "https://news.example/storm"
    assert article.id == hashlib.sha1(b"url:https://news.example/storm").hexdigest()[:16]
    assert article.id == article_id(article.url)
    assert article.origin == "https://news.example/feed.rss"
    assert len(article.content_hash) == 64

    # Fetched again through another tracking link: the same article, the same hash.
    again = to_article(page_article("https://news.example/storm#top", html), origin="elsewhere")
    assert (again.id, again.content_hash) == (article.id, article.content_hash)

    # An updated story keeps its id and changes its hash, so the engine replaces its chunks.
    updated = page_article("https://news.example/storm", article_html([*STORM, "Update: power is back."]))
    assert to_article(updated, "x").id == article.id
    assert to_article(updated, "x").content_hash != article.content_hash
