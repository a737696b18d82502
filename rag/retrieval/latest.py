"""What's new: a question that names a period and no topic ("What happened this week?", "What is
the latest news?") is answered by the period's newest articles, each by its lead sentence.

Such a question shares no words with any article, so a search ranks the period's passages by
nothing and the answerer's relevance floor refuses them all. The newest articles within the
period (and the question's other filters) are what a reader asking it expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.models import Article, ArticleInfo, Filters, Passage
from rag.retrieval.relative import GENERIC, relative_time
from rag.store.vectors import day_bounds, source_key, timestamp
from rag.text import sentence_spans, terms

LEAD_MIN_WORDS = 6  # a shorter first sentence is a dateline or a byline: the next one leads


def names_only_a_period(question: str) -> bool:
    """Whether ``question`` names a period ("this week", "recently") and nothing else to ask about."""
    match = relative_time(question)
    if match is None:
        return False
    rest = question[: match.start()] + " " + question[match.end() :]
    return terms(rest) <= GENERIC


def newest(articles: Sequence[ArticleInfo], filters: Filters, limit: int) -> list[ArticleInfo]:
    """The ``limit`` newest ``articles`` that ``filters`` keep (dated ones only), compared as the
    keyword index's masks compare them, so the period ``relative_filters`` found articles in
    yields them here."""
    sources = {source_key(s) for s in filters.source or []}
    category = (filters.category or "").strip().lower()
    lo, hi = day_bounds(filters)
    kept = []
    for a in articles:
        when = timestamp(a.published_at)
        if when < 0 or (lo is not None and when < lo) or (hi is not None and when > hi):
            continue
        if sources and source_key(a.source) not in sources:
            continue
        if category and (a.category or "").strip().lower() != category:
            continue
        kept.append(a)
    kept.sort(key=lambda a: a.published_at, reverse=True)  # type: ignore[arg-type, return-value]
    return kept[:limit]


def lead(article: Article) -> Passage | None:
    """The article's first sentence of some length, as a passage of it (None for an empty text)."""
    spans = sentence_spans(article.text)
    if not spans:
        return None
    long_enough = (s for s in spans if len(article.text[s[0] : s[1]].split()) >= LEAD_MIN_WORDS)
    start, end = next(long_enough, spans[0])
    return Passage(
        id=f"{article.id}:lead",
        document_id=article.id,
        text=article.text[start:end],
        start=start,
        end=end,
        score=1.0,
        title=article.title,
        source=article.source,
        author=article.author,
        published_at=article.published_at,
        url=article.url,
        category=article.category,
    )


class Articles(Protocol):
    """Where the articles are read from: ``rag.store.Store``."""

    def list_articles(self) -> list[ArticleInfo]: ...

    def get_article(self, document_id: str) -> Article: ...


def leads(store: Articles, filters: Filters, limit: int) -> list[Passage]:
    """The lead sentences of the ``limit`` newest articles ``filters`` keep, newest first."""
    found = (lead(store.get_article(info.id)) for info in newest(store.list_articles(), filters, limit))
    return [p for p in found if p is not None]
