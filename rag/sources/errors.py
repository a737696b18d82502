"""The errors of following the news: ``rag.errors.FetchFailed``s, so every transport already
translates them.

    RagError
    └── FetchFailed           (rag.errors)
        └── FetchError        a URL could not be fetched or read (its reason goes in the report)
            └── NoArticleText the page came back but holds no article (paywall, error page)
"""

from __future__ import annotations

from rag.errors import FetchFailed


class FetchError(FetchFailed):
    """``str(err)`` is the reason, fit for an ingest report ("HTTP 404 Not Found", "robots.txt
    disallows ..."); ``url`` is the URL it concerns and ``status`` the HTTP status, if any."""

    kind = "fetch_failed"

    def __init__(self, reason: str, url: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status


class NoArticleText(FetchError):
    """The page was fetched but holds no article to index."""

    kind = "no_article_text"
