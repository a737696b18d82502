"""Reading what points at articles: RSS / Atom feeds (feedparser) and sitemaps (XML).

``kind_of`` tells a feed, a sitemap and a page apart from the bytes fetched; ``parse_feed`` and
``parse_sitemap`` turn them into ``FeedItem``s whose links the caller fetches. A sitemap index
yields items of kind "sitemap": nested sitemaps, for the caller to fetch in turn (bounded).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urljoin
from xml.etree import ElementTree

import feedparser
from dateutil import parser as dateparser

from rag.sources.errors import FetchError
from rag.sources.urls import is_web_url, normalize_url

Kind = Literal["feed", "sitemap", "page"]
# The sitemap protocol allows 50,000 URLs per file; a news poller wants the newest few hundred.
MAX_SITEMAP_ITEMS = 1000
MAX_NESTED_SITEMAPS = 50
MAX_UNZIPPED_BYTES = 50_000_000  # the protocol's own cap on an uncompressed sitemap
_ROOT_TAG = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
_FEED_TYPES = ("rss", "atom", "rdf")
_EMAIL_AND_NAME = re.compile(r"^\s*\S+@\S+\s+\((.+)\)\s*$")


@dataclass(frozen=True)
class FeedItem:
    """One link from a feed or sitemap, with what the feed says about it."""

    link: str
    title: str | None = None
    published: datetime | None = None
    # When the feed says the item last changed (Atom <updated>, a sitemap's <lastmod>): a poller
    # re-fetches a known article only when this moved.
    updated: datetime | None = None
    author: str | None = None
    guid: str | None = None
    source: str | None = None  # the feed's title or the news sitemap's publication name
    kind: Literal["page", "sitemap"] = "page"


def parse_date(value: Any) -> datetime | None:
    """A date from a feed or page, or None. Offsets are dropped, as ``rag.documents`` does for
    the corpus: dates are compared as the outlet's local publication time."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        parsed = dateparser.parse(str(value))
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=None) if parsed else None


def kind_of(body: bytes, content_type: str = "") -> Kind:
    """What the bytes are: the XML root element decides, the Content-Type only breaks ties
    (servers label feeds text/xml, text/html or application/octet-stream alike)."""
    head = _unzip(body, limit=64 * 1024)[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    for match in _ROOT_TAG.finditer(head):
        root = match.group(1).lower().decode("ascii", errors="replace")
        if root in ("rss", "feed", "rdf"):
            return "feed"
        if root in ("urlset", "sitemapindex"):
            return "sitemap"
        if root in ("html", "head", "body"):
            return "page"
        break
    content_type = content_type.lower()
    return "feed" if any(t in content_type for t in _FEED_TYPES) else "page"


def parse_feed(body: bytes, base_url: str) -> list[FeedItem]:
    """The items of an RSS 0.9x/1.0/2.0 or Atom feed, relative links resolved against
    ``base_url``; items without an http(s) link are skipped."""
    # Bytes, never a string: feedparser.parse fetches a string that looks like a URL itself.
    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    source = parsed.feed.get("title") or None
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or (entry.get("id") if entry.get("guidislink") else None)
        if not link or not is_web_url(link := urljoin(base_url, link)):
            continue
        items.append(
            FeedItem(
                link=normalize_url(link),
                title=(entry.get("title") or "").strip() or None,
                published=parse_date(entry.get("published") or entry.get("updated")),
                updated=parse_date(entry.get("updated") or entry.get("published")),
                author=_author(entry.get("author") or ""),
                guid=entry.get("id") or None,
                source=source,
            )
        )
    # feedparser flags ("bozo") small faults too; only a feed that yields nothing is an error.
    if not items and parsed.get("bozo"):
        raise FetchError(f"not a readable feed ({parsed.get('bozo_exception')})", url=base_url)
    return _unique(items)


def _author(raw: str) -> str | None:
    """The name in an author field. RSS writes ``email (Name)``; feedparser's own split of it
    cuts addresses whose domain ends in more than four letters, so it is done here."""
    match = _EMAIL_AND_NAME.match(raw)
    if match:
        return match.group(1).strip() or None
    if "@" in raw and " " not in raw.strip():
        return None  # an address, no name
    return raw.strip() or None


def parse_sitemap(body: bytes, base_url: str, limit: int = MAX_SITEMAP_ITEMS) -> list[FeedItem]:
    """The pages of a sitemap (with Google News ``news:`` title, date and publication when
    present), newest first, at most ``limit``; or, for a sitemap index, its nested sitemaps
    (kind "sitemap", newest first, at most ``MAX_NESTED_SITEMAPS``)."""
    # ElementTree is safe on untrusted XML here: it never loads external entities, and the
    # expat it ships with (>= 2.4.1) stops entity-expansion bombs.
    try:
        root = ElementTree.fromstring(_unzip(body, limit=MAX_UNZIPPED_BYTES))
    except ElementTree.ParseError as exc:
        raise FetchError(f"not a readable sitemap ({exc})", url=base_url) from exc
    tag = _local(root.tag)
    if tag == "sitemapindex":
        nested = [_sitemap_entry(node, base_url) for node in root if _local(node.tag) == "sitemap"]
        return _newest([n for n in nested if n], MAX_NESTED_SITEMAPS)
    if tag != "urlset":
        raise FetchError(f"not a sitemap (its root element is <{tag}>)", url=base_url)
    items = [_url_entry(node, base_url) for node in root if _local(node.tag) == "url"]
    return _newest([i for i in items if i], limit)


def _url_entry(node: ElementTree.Element, base_url: str) -> FeedItem | None:
    fields = _children(node)
    link = urljoin(base_url, fields.get("loc", ""))
    if not fields.get("loc") or not is_web_url(link):
        return None
    news = _child(node, "news")
    meta = _children(news) if news is not None else {}
    publication = _child(news, "publication") if news is not None else None
    return FeedItem(
        link=normalize_url(link),
        title=meta.get("title") or None,
        published=parse_date(meta.get("publication_date") or fields.get("lastmod")),
        updated=parse_date(fields.get("lastmod") or meta.get("publication_date")),
        source=_children(publication).get("name") if publication is not None else None,
    )


def _sitemap_entry(node: ElementTree.Element, base_url: str) -> FeedItem | None:
    fields = _children(node)
    link = urljoin(base_url, fields.get("loc", ""))
    if not fields.get("loc") or not is_web_url(link):
        return None
    return FeedItem(link=link, published=parse_date(fields.get("lastmod")), kind="sitemap")


def _child(node: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((child for child in node if _local(child.tag) == name), None)


def _children(node: ElementTree.Element) -> dict[str, str]:
    """Child element texts by local name (namespaces ignored: sitemaps in the wild misspell them)."""
    return {_local(child.tag): (child.text or "").strip() for child in node}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _newest(items: list[FeedItem], limit: int) -> list[FeedItem]:
    # Undated entries keep their place after the dated ones (sorted() is stable).
    ordered = sorted(items, key=lambda i: i.published or datetime.min, reverse=True)
    return _unique(ordered)[:limit]


def _unique(items: Iterable[FeedItem]) -> list[FeedItem]:
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.link not in seen:
            seen.add(item.link)
            unique.append(item)
    return unique


def _unzip(body: bytes, limit: int) -> bytes:
    """``body`` itself, or its gunzipped content for a ``.xml.gz`` sitemap served as a file
    (httpx only undoes Content-Encoding), cut at ``limit`` bytes so a gzip bomb stays small."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(body, limit)
    except zlib.error as exc:
        raise FetchError(f"corrupt gzip data ({exc})") from exc
