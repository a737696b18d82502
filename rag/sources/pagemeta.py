"""What a news page declares about itself: ``<meta>`` tags (og:, article:, name=author...),
JSON-LD ``NewsArticle``, ``<link rel=canonical>``, the first ``<time datetime>``, ``<html lang>``.

Written on the stdlib ``html.parser`` because extruct (the library for this) is not available
here, and trafilatura's metadata, used as the fallback, keeps only the date of a timestamp and
prefers its own guesses to what JSON-LD states.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "liveblogposting",
    "blogposting",
    "report",
}


@dataclass
class PageMeta:
    meta: dict[str, str] = field(default_factory=dict)  # og:title, article:published_time, author...
    canonical: str | None = None
    time: str | None = None  # the first <time datetime="...">
    lang: str | None = None
    ld: dict[str, Any] = field(default_factory=dict)  # the page's JSON-LD article object


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = PageMeta()
        self.scripts: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name.lower(): (value or "").strip() for name, value in attrs}
        page = self.page
        if tag == "meta":
            key = (attr.get("property") or attr.get("name") or attr.get("itemprop") or "").lower()
            if key and attr.get("content"):
                page.meta.setdefault(key, attr["content"])
        elif tag == "link" and "canonical" in attr.get("rel", "").lower().split() and attr.get("href"):
            page.canonical = page.canonical or attr["href"]
        elif tag == "time" and attr.get("datetime"):
            page.time = page.time or attr["datetime"]
        elif tag == "html" and attr.get("lang"):
            page.lang = attr["lang"]
        elif tag == "script" and attr.get("type", "").lower() == "application/ld+json":
            self._in_ld = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_ld = False

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.scripts[-1] += data


def read_page_meta(html: str) -> PageMeta:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    page = collector.page
    for script in collector.scripts:
        found = _article_object(_loads(script))
        if found:
            page.ld = found
            break
    return page


def _loads(text: str) -> Any:
    try:
        # strict=False: pages put raw newlines and tabs inside JSON-LD strings.
        return json.loads(text, strict=False)
    except ValueError:
        return None


def _article_object(data: Any) -> dict[str, Any] | None:
    """The first object typed as an article, looking into lists and ``@graph``."""
    if isinstance(data, list):
        return next((found for item in data if (found := _article_object(item))), None)
    if not isinstance(data, dict):
        return None
    types = data.get("@type")
    names = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    if any(isinstance(n, str) and n.lower() in ARTICLE_TYPES for n in names):
        return data
    return _article_object(data.get("@graph"))


def names(value: Any) -> list[str]:
    """Names from a JSON-LD person / organisation value: a string, an object or a list of them."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        return names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in names(item)]
    return []


def text_value(value: Any) -> str | None:
    """A JSON-LD value that should be text (some sites give a list: take the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if not isinstance(value, str):
        return None
    return value.strip() or None
