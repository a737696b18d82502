"""Following the news: ingesting articles, RSS/Atom feeds and sitemaps by URL, keeping a list of
sources polled on a schedule, storing each story once (syndicated copies folded into it, every
outlet that carried it recorded) and Slack digests of new articles on subscribed topics.

``Feeds(engine)`` is the service every transport calls (``rag ingest URL``, ``rag sources``,
``rag watch``, ``/v1/sources``, ``rag serve --watch``, the Slack bot). Internals: ``crawl``
(fetching and reading, over ``rag.sources``), ``writer`` (storing through the ingest path,
folding copies), ``records`` (the database tables), ``subscriptions`` (topics and digests).
"""

from rag.feeds.options import FeedOptions
from rag.feeds.records import Carrier, SourceInfo, carried_by
from rag.feeds.reports import FeedReport, Folded, PolledSource
from rag.feeds.service import Feeds, Watcher, is_url
from rag.feeds.subscriptions import Digest, DigestItem, Subscription, Subscriptions, clean_topic

__all__ = [
    "Carrier",
    "Digest",
    "DigestItem",
    "FeedOptions",
    "FeedReport",
    "Feeds",
    "Folded",
    "PolledSource",
    "SourceInfo",
    "Subscription",
    "Subscriptions",
    "Watcher",
    "carried_by",
    "clean_topic",
    "is_url",
]
