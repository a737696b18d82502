"""A fetched news page -> its article: main text by trafilatura, metadata from what the page
declares, gaps filled from the feed item that linked to it.

Each field takes the first value found, most trustworthy first: the page's JSON-LD
``NewsArticle``, then its ``<meta>`` tags (og:, article:) and ``<time>``, then the feed item,
then trafilatura's own metadata (its title from ``<title>``/``<h1>``, the site name it guesses
from the host, a byline it finds in the text).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import trafilatura
from trafilatura.utils import decode_file

from rag.documents import DATES_FROM_MARKUP
from rag.models import Article
from rag.sources.errors import NoArticleText
from rag.sources.feeds import FeedItem, parse_date
from rag.sources.pagemeta import PageMeta, names, read_page_meta, text_value
from rag.sources.urls import is_web_url, normalize_url, same_site
from rag.text import words

# Fewer words than this is a stub (paywall, cookie wall, video page, error page), not a story.
MIN_WORDS = 40
_AUTHOR_META = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "parsely-pub-date",
    "sailthru.date",
    "pubdate",
    "publish-date",
    "dc.date",
)


@dataclass(frozen=True)
class ExtractedPage:
    url: str  # canonical: the page's rel=canonical when on the same site, else the fetched URL
    fetched_url: str
    title: str
    text: str
    source: str | None = None  # the outlet
    author: str | None = None
    published_at: datetime | None = None
    lang: str | None = None
    category: str | None = None


def page_article(
    url: str, html_bytes: bytes, fallback: FeedItem | None = None, min_words: int = MIN_WORDS
) -> ExtractedPage:
    """The article on the page fetched from ``url``; raises ``NoArticleText`` for a page
    without one. ``fallback``: the feed item that linked here, for what the page lacks."""
    html = decode_file(html_bytes)
    page = read_page_meta(html)
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        date_extraction_params=DATES_FROM_MARKUP,
    )
    ld, meta = page.ld, page.meta
    feed = fallback or FeedItem(link=url)
    source = _first(
        *names(ld.get("publisher")), meta.get("og:site_name"), feed.source, _attr(doc, "sitename")
    )
    source = source or _host(url)
    declared = [text_value(ld.get("headline")), meta.get("og:title"), _attr(doc, "title"), feed.title]
    titles = [_strip_outlet(t, source) for t in declared if t and t.strip()]
    title = titles[0] if titles else None
    text = _drop_headline((_attr(doc, "text") or "").strip(), titles)
    _check_text(url, text, ld, min_words)
    return ExtractedPage(
        url=_canonical(url, page),
        fetched_url=url,
        title=title or _first_line(text),
        text=text,
        source=source,
        author=_author(page) or feed.author or _attr(doc, "author"),
        published_at=_published(page) or feed.published or parse_date(_attr(doc, "date")),
        lang=_lang(page, doc),
        category=_first(
            text_value(ld.get("articleSection")),
            meta.get("article:section"),
            *(getattr(doc, "categories", None) or []),
        ),
    )


def article_id(canonical_url: str) -> str:
    """The stored id of the article at ``canonical_url``: stable across fetches and updates."""
    return hashlib.sha1(f"url:{canonical_url}".encode()).hexdigest()[:16]


def to_article(page: ExtractedPage, origin: str) -> Article:
    """The ``Article`` the engine stores; ``origin`` says where it came from (feed or URL)."""
    article = Article(
        id=article_id(page.url),
        title=page.title,
        text=page.text,
        source=page.source,
        author=page.author,
        published_at=page.published_at,
        url=page.url,
        category=page.category,
        origin=origin,
    )
    # The formula of rag.documents.content_hash (not imported: this package may only use
    # rag.models, rag.errors and rag.text), so both loaders give one article one hash; the
    # outlets that carried a story are not its content.
    payload = article.model_dump(exclude={"content_hash", "origin", "carried_by"}, mode="json")
    article.content_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return article


def _check_text(url: str, text: str, ld: dict, min_words: int) -> None:
    count = len(words(text))
    if count >= min_words:
        return
    if ld.get("isAccessibleForFree") in (False, "false", "False"):
        raise NoArticleText(f"no article text: paywalled ({count} words readable)", url=url)
    raise NoArticleText(f"no article text ({count} words; a paywall, a video or an error page?)", url=url)


def _canonical(url: str, page: PageMeta) -> str:
    """The page's declared canonical URL when it is on the fetched site. One on another site is
    ignored: any page could claim a rival's URL and so overwrite that stored article."""
    declared = page.canonical or page.meta.get("og:url")
    if declared:
        absolute = urljoin(url, declared)
        if is_web_url(absolute) and same_site(absolute, url):
            return normalize_url(absolute)
    return normalize_url(url)


def _author(page: PageMeta) -> str | None:
    declared = names(page.ld.get("author"))
    if declared:
        return ", ".join(dict.fromkeys(declared))
    for key in _AUTHOR_META:
        value = page.meta.get(key, "")
        # article:author is often the author's profile URL, not a name.
        if value and not value.startswith(("http://", "https://")):
            return value
    return None


def _published(page: PageMeta) -> datetime | None:
    candidates = [text_value(page.ld.get("datePublished"))]
    candidates += [page.meta.get(key) for key in _DATE_META] + [page.time]
    return next((d for value in candidates if (d := parse_date(value))), None)


def _lang(page: PageMeta, doc: object) -> str | None:
    lang = _first(page.lang, text_value(page.ld.get("inLanguage")), page.meta.get("og:locale"))
    lang = lang or _attr(doc, "language")
    return lang.replace("_", "-") if lang else None


def _drop_headline(text: str, titles: list[str]) -> str:
    """The text without a first line repeating the headline: the title is stored apart, and a
    re-headlined copy of a story should not differ from it in its text."""
    first, _, rest = text.partition("\n")
    first_words = " ".join(words(first))
    wanted = {" ".join(words(t)) for t in titles}
    return rest.strip() if rest and first_words and first_words in wanted else text


def _strip_outlet(title: str, source: str | None) -> str:
    """The title without a trailing "| Outlet" or "- Outlet" (og:title often carries one)."""
    for separator in (" | ", " - ", " – ", " — "):
        head, sep, tail = title.rpartition(separator)
        if sep and head and source and tail.strip().lower() == source.lower():
            return head.strip()
    return title.strip()


def _first_line(text: str, limit: int = 120) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + "…"


def _first(*values: str | None) -> str | None:
    return next((v.strip() for v in values if isinstance(v, str) and v.strip()), None)


def _attr(doc: object, name: str) -> str | None:
    """A text field of trafilatura's result (None when extraction found nothing)."""
    value = getattr(doc, name, None)
    return value if isinstance(value, str) else None


def _host(url: str) -> str | None:
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None
