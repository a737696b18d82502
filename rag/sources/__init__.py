"""Following the news: fetching pages and feeds politely and safely, reading articles out of
them, recognising syndicated copies, and deciding which sources are due for a poll.

The pieces, in the order a poll uses them::

    check_url(url, allow_private)                        # before following it: FetchError
    fetcher = Fetcher(FetchPolicy(allow_private=settings.fetch_allow_private))
    fetched = fetcher.fetch(source.url, source.etag, source.last_modified)   # FetchError
    if fetched.not_modified: ...                                              # one 304, done
    kind_of(fetched.body, fetched.content_type)          # "feed" | "sitemap" | "page"
    parse_feed(body, url) / parse_sitemap(body, url)     # -> [FeedItem]
    page = page_article(item.link, fetcher.fetch(item.link).body, fallback=item)
    article = to_article(page, origin=source.url)
    duplicates.find(article.text)                        # DuplicateIndex: id of the same story

Modules other than this one are internal: import from ``rag.sources``.
"""

from rag.sources.dedup import DuplicateIndex, Match, Signature, signature
from rag.sources.errors import FetchError, NoArticleText
from rag.sources.extract import ExtractedPage, article_id, page_article, to_article
from rag.sources.feeds import FeedItem, kind_of, parse_feed, parse_sitemap
from rag.sources.fetch import USER_AGENT, Fetched, Fetcher, FetchPolicy
from rag.sources.guard import check_url
from rag.sources.schedule import Source, due, format_every, next_due, parse_every
from rag.sources.urls import normalize_url

__all__ = [
    "USER_AGENT",
    "DuplicateIndex",
    "ExtractedPage",
    "FeedItem",
    "FetchError",
    "FetchPolicy",
    "Fetched",
    "Fetcher",
    "Match",
    "NoArticleText",
    "Signature",
    "Source",
    "article_id",
    "check_url",
    "due",
    "format_every",
    "kind_of",
    "next_due",
    "normalize_url",
    "page_article",
    "parse_every",
    "parse_feed",
    "parse_sitemap",
    "signature",
    "to_article",
]
