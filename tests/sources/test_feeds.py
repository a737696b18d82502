"""Feeds and sitemaps: telling them apart, and the article links (with dates) they hold."""

from __future__ import annotations

import gzip
import time
from datetime import datetime

import pytest

from rag.sources import Fetcher, FetchError, kind_of, parse_feed, parse_sitemap
from tests.sources.news_site import ATOM, SITEMAP, SITEMAP_INDEX, NewsSite, rss

BASE = "https://news.example/feeds/main.xml"


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (rss(), "application/rss+xml", "feed"),
        (rss(), "text/html", "feed"),  # servers mislabel feeds; the root element decides
        (ATOM, "text/xml", "feed"),
        (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"></rdf:RDF>', "", "feed"),
        (SITEMAP, "application/xml", "sitemap"),
        (SITEMAP_INDEX, "text/xml", "sitemap"),
        (gzip.compress(SITEMAP), "application/x-gzip", "sitemap"),
        (b"<!doctype html>\n<!-- a comment --><html><body>news</body></html>", "text/html", "page"),
        (b"plain words", "application/atom+xml", "feed"),
        (b"plain words", "text/plain", "page"),
    ],
)
def test_kind_of(body: bytes, content_type: str, kind: str) -> None:
    assert kind_of(body, content_type) == kind


def test_rss_items_with_links_dates_and_authors() -> None:
    items = parse_feed(rss(), BASE)

    titles = ["Storm batters the northern coast", "Almen votes", "Storm claims", "Inside the storm"]
    assert [item.title for item in items] == titles
    first = items[0]
    # Relative links resolved against the feed; tracking parameters dropped.
    assert first.link == "https://news.example/news/plain"
    assert first.published == datetime(2024, 3, 5, 7, 30)
    assert first.author == "Lena Brandt" and first.source == "Kessling Courier"
    assert first.guid == "https://news.example/news/plain?utm_source=rss&utm_medium=feed"


def test_atom_entries() -> None:
    items = parse_feed(ATOM, BASE)

    assert [item.link for item in items] == [
        "https://news.example/feeds/news/og",
        "https://news.example/news/jsonld",
    ]
    assert items[0].published == datetime(2024, 3, 7, 9, 15)  # published, not updated
    assert items[0].author == "Wire staff" and items[0].source == "Coastal Times"
    assert items[1].published == datetime(2024, 3, 8, 12, 0)  # updated, when that is all there is


@pytest.mark.parametrize(
    ("author", "name"),
    [
        ("desk@news.example (Perry White)", "Perry White"),
        ("desk@news.example", None),
        ("Lois Lane", "Lois Lane"),
    ],
)
def test_rss_author_fields(author: str, name: str | None) -> None:
    feed = f"""<rss version="2.0"><channel><title>T</title><item><link>https://n.example/a</link>
    <author>{author}</author><pubDate>not a date</pubDate></item></channel></rss>""".encode()

    (item,) = parse_feed(feed, BASE)
    assert item.author == name and item.published is None


def test_items_without_a_web_link_are_skipped() -> None:
    feed = b"""<rss version="2.0"><channel><title>T</title>
    <item><title>no link</title></item>
    <item><title>mail</title><link>mailto:desk@n.example</link></item>
    <item><title>twice</title><link>https://n.example/a?utm_source=x</link></item>
    <item><title>twice</title><link>https://n.example/a</link></item></channel></rss>"""

    assert [item.link for item in parse_feed(feed, BASE)] == ["https://n.example/a"]


def test_an_unreadable_feed_is_an_error() -> None:
    with pytest.raises(FetchError, match=r"not a readable feed"):
        parse_feed(b"<rss><channel><item><title>broken", BASE)


def test_a_news_sitemap_newest_first_with_titles_and_publication() -> None:
    items = parse_sitemap(SITEMAP, "https://news.example/sitemap.xml")

    assert [item.link for item in items] == [
        "https://news.example/news/jsonld",
        "https://news.example/news/og",
        "https://news.example/news/plain",
    ]
    election = items[0]
    assert election.title == "Almen chooses a new council"
    assert election.published == datetime(2024, 3, 8, 18, 5)
    assert election.source == "Almen Gazette"
    assert items[2].published == datetime(2024, 3, 5)  # lastmod, lacking a news: date
    assert all(item.kind == "page" for item in items)


def test_a_sitemap_is_cut_at_the_limit() -> None:
    assert len(parse_sitemap(SITEMAP, "https://news.example/sitemap.xml", limit=2)) == 2


def test_a_sitemap_index_lists_the_sitemaps_to_fetch(site: NewsSite, fetcher: Fetcher) -> None:
    index = fetcher.fetch(site.url("/sitemap-index.xml"))
    nested = parse_sitemap(index.body, index.url)

    assert [(item.kind, item.link) for item in nested] == [
        ("sitemap", site.url("/sitemap.xml")),
        ("sitemap", site.url("/sitemap-2023.xml.gz")),
    ]
    # A gzipped sitemap served as a file is read as well.
    old = fetcher.fetch(nested[1].link)
    assert kind_of(old.body, old.content_type) == "sitemap"
    assert [item.link for item in parse_sitemap(old.body, old.url)] == [site.url("/news/2023/year-in-review")]


def test_not_a_sitemap() -> None:
    with pytest.raises(FetchError, match=r"not a sitemap \(its root element is <html>\)"):
        parse_sitemap(b"<html><body/></html>", BASE)
    with pytest.raises(FetchError, match=r"not a readable sitemap"):
        parse_sitemap(b"<urlset><url>", BASE)


def test_an_entity_bomb_is_refused_quickly() -> None:
    lol = b'<!ENTITY a0 "lollollollollollollollollollol">' + b"".join(
        b'<!ENTITY a%d "%s">' % (n, b"".join(b"&a%d;" % (n - 1) for _ in range(10))) for n in range(1, 10)
    )
    bomb = b'<?xml version="1.0"?><!DOCTYPE urlset [' + lol + b"]><urlset><url><loc>&a9;</loc></url></urlset>"

    started = time.monotonic()
    with pytest.raises(FetchError, match=r"not a readable sitemap"):
        parse_sitemap(bomb, BASE)
    assert time.monotonic() - started < 1
