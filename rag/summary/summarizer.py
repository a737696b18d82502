"""Research summaries: a topic (+ filters) -> a ``Summary`` with cited key points, a timeline,
sources, coverage counts and the gaps the corpus leaves (nothing found, thin or one-outlet
coverage, topic words no evidence mentions, no dated articles) instead of padding. Relative
time in the topic ("this week") narrows it to that period (``rag.retrieval.relative``); outlets
that only ran copies of a source are named and counted apart (``syndication``).

Every quote is ``article.text[start:end]`` by construction (sentences are cut from retrieved
passages at article offsets), so each citation is checkable.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rag.citations import CitationChecker
from rag.config import Settings
from rag.embeddings import Embedder
from rag.judge import Verifier
from rag.llm import LLMClient
from rag.models import Citation, Filters
from rag.retrieval import Retriever
from rag.retrieval.latest import names_only_a_period
from rag.retrieval.relative import relative_filters, without_named_period
from rag.summary.evidence import CitationNumbers, Evidence, Gatherer
from rag.summary.models import Coverage, KeyPoint, SourceRef, Summary, clean_topic
from rag.summary.points import PointWriter
from rag.summary.syndication import add_copies, one_outlet_gap
from rag.summary.timeline import timeline
from rag.text import terms as content_terms

if TYPE_CHECKING:
    from rag.store.database import Database

_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


def _month(value: datetime) -> str:
    return value.strftime("%Y-%m")


def _describe(filters: Filters) -> str:
    described = filters.describe()
    return f" ({described})" if described else ""


class Summarizer:
    """Builds summaries; with an ``llm`` the key points are written by it, then verified."""

    def __init__(
        self,
        retriever: Retriever,
        embed: Embedder,
        settings: Settings,
        verifier: Verifier,
        llm: LLMClient | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.database = database  # where the outlets that carried each story are recorded
        self.gatherer = Gatherer(retriever, embed)
        self.writer = PointWriter(settings, CitationChecker(verifier), llm)

    def summarize(self, topic: str, filters: Filters | None = None) -> Summary:
        started = time.perf_counter()
        topic = clean_topic(topic)
        lexical = self.gatherer.retriever.store.lexical(wait=False)
        narrowed = relative_filters(topic, filters, lexical)
        period_only = narrowed is not filters and narrowed is not None and names_only_a_period(topic)
        # "the road closure reported in May 2020": the period is the filter, the rest the topic.
        searched = without_named_period(topic) if narrowed is not filters else topic
        filters = narrowed or Filters()
        evidence = self.gatherer.latest(filters) if period_only else self.gatherer.gather(searched, filters)
        cites = CitationNumbers()
        points = self.writer.key_points(topic, evidence, cites) if evidence else []
        events = timeline(evidence, cites) if evidence else []
        articles = {e.doc: e.cand.passage for e in evidence}
        dated = [p.published_at for p in articles.values() if p.published_at]
        summary = Summary(
            topic=topic,
            generated_at=datetime.now(UTC),
            filters=filters,
            key_points=points,
            timeline=events,
            sources=_sources(cites.items, points),
            coverage=Coverage(
                articles=len(articles),
                by_outlet=dict(Counter(p.source or "unknown" for p in articles.values()).most_common()),
                by_month=dict(sorted(Counter(_month(when) for when in dated).items())),
            ),
            citations=cites.items,
            mode="llm" if self.writer.written else "extractive",
            degraded=self.writer.degraded_reason is not None,
            degraded_reason=self.writer.degraded_reason,
        )
        add_copies(summary, self._carriers([r.document_id for r in summary.sources]))
        summary.gaps = self.gaps(topic, filters, evidence, summary)
        summary.seconds = round(time.perf_counter() - started, 3)
        return summary

    def gaps(self, topic: str, filters: Filters, evidence: list[Evidence], summary: Summary) -> list[str]:
        if not evidence:
            return [
                f"The corpus holds nothing on “{topic}”{_describe(filters)}: no article discusses it, "
                "so this summary has no key points, timeline or sources."
            ]
        gaps = []
        n, outlets = summary.coverage.articles, [o for o in summary.coverage.by_outlet if o != "unknown"]
        if n < self.settings.summary_min_articles:
            gaps.append(
                f"Only {n} article{'s' if n != 1 else ''} in the corpus cover{'s' if n == 1 else ''} this "
                f"topic{_describe(filters)}; the points rest on {'it' if n == 1 else 'them'} alone."
            )
        if len(outlets) == 1:
            gaps.append(one_outlet_gap(outlets[0], summary))
        # "this week": no topic; "reported in May 2020": the period is a filter, not a word to find
        missing = [] if names_only_a_period(topic) else _missing_words(without_named_period(topic), evidence)
        if missing:
            gaps.append("No evidence found about: " + ", ".join(missing) + ".")
        if not summary.timeline:
            gaps.append("None of the articles found is dated, so there is no timeline.")
        return gaps

    def _carriers(self, document_ids: list[str]) -> dict[str, list[str]]:
        """Every outlet recorded as carrying each article (none without a database)."""
        if self.database is None or not document_ids:
            return {}
        from rag.feeds.records import Records  # the web-reading stack only where copies are looked up

        rows = Records(self.database).carriers(document_ids)
        return {doc: [c.outlet for c in carriers if c.outlet] for doc, carriers in rows.items()}


def _missing_words(topic: str, evidence: list[Evidence]) -> list[str]:
    """Topic words (as the user wrote them) that no relevant sentence mentions."""
    found: set[str] = set()
    for ev in evidence:
        found |= content_terms(ev.cand.text)
    missing = []
    for word in _WORD.findall(topic):
        word = re.sub(r"['’]s$", "", word)
        stems = content_terms(word)
        if stems and not stems & found and word not in missing:
            missing.append(word)
    return missing


def _sources(cites: list[Citation], points: list[KeyPoint]) -> list[SourceRef]:
    by_doc: dict[str, SourceRef] = {}
    for c in cites:
        ref = by_doc.setdefault(
            c.document_id,
            SourceRef(
                document_id=c.document_id,
                title=c.title,
                source=c.source,
                published_at=c.published_at,
                url=c.url,
                points=0,
                citations=[],
            ),
        )
        ref.citations.append(c.id)
    doc_of = {c.id: c.document_id for c in cites}
    for point in points:
        for doc in {doc_of[n] for n in point.citations}:
            by_doc[doc].points += 1
    return sorted(
        by_doc.values(),
        key=lambda r: (-r.points, r.published_at.isoformat() if r.published_at else "~", r.title),
    )
