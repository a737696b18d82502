"""URL identity: one spelling per article URL, and whether two URLs belong to one site.

courlan (trafilatura's URL library) lower-cases the host, drops default ports, sorts the query
and removes tracking parameters (utm_*, fbclid, ref=rss...); its "strict" mode is not used as
it also drops parameters that name the story (``?story=123``). Fragments are dropped here:
they never select a different article.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

import courlan


def normalize_url(url: str) -> str:
    """The form under which an article URL is stored and compared."""
    try:
        normal = courlan.normalize_url(url.strip())
    except ValueError:
        normal = url.strip()
    return urldefrag(normal).url


def same_site(url: str, other: str) -> bool:
    """True when both URLs are on one registrable domain (``news.bbc.co.uk`` and
    ``www.bbc.co.uk``) or, for addresses and single-label hosts, on one host."""
    host, other_host = urlsplit(url).hostname, urlsplit(other).hostname
    if not host or not other_host:
        return False
    if host == other_host:
        return True
    domain = courlan.extract_domain(url)
    return domain is not None and domain == courlan.extract_domain(other)


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
