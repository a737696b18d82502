"""A summary's timeline: per publication day, the most relevant new sentence, in date order."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict

import numpy as np

from rag.summary.evidence import CitationNumbers, Evidence
from rag.summary.models import TimelineEvent

DUPLICATE_SIMILARITY = 0.86
MAX_EVENTS = 12
TEMPORAL_BONUS = 0.05  # a sentence saying when something happened makes a better timeline entry
_TEMPORAL = re.compile(
    r"\b(today|yesterday|tonight|this (?:week|morning)|last (?:week|month)|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|jan\.|feb\.|aug\.|sept?\.|oct\.|nov\.|dec\.)",
    re.IGNORECASE,
)


def timeline(evidence: list[Evidence], cites: CitationNumbers) -> list[TimelineEvent]:
    # Text several articles repeat word for word is an outlet's boilerplate, not that day's news.
    repeats = Counter(ev.cand.text for ev in evidence)
    by_day: dict[dt.date, list[Evidence]] = defaultdict(list)
    for ev in evidence:
        published = ev.cand.passage.published_at
        if published is not None and repeats[ev.cand.text] == 1:
            by_day[published.date()].append(ev)

    def eventness(ev: Evidence) -> float:
        return ev.relevance + (TEMPORAL_BONUS if _TEMPORAL.search(ev.cand.text) else 0.0)

    picked: list[tuple[dt.date, Evidence]] = []
    vectors: list[np.ndarray] = []
    # Most relevant days first so a long story keeps its main events, then date order.
    for day in sorted(by_day, key=lambda d: -max(eventness(e) for e in by_day[d])):
        if len(picked) >= MAX_EVENTS:
            break
        for ev in sorted(by_day[day], key=eventness, reverse=True):
            if all(float(ev.vector @ v) <= DUPLICATE_SIMILARITY for v in vectors):
                picked.append((day, ev))
                vectors.append(ev.vector)
                break
    picked.sort(key=lambda item: (item[0], -item[1].relevance))
    return [TimelineEvent(date=day, text=ev.cand.text, citations=[cites.cite(ev)]) for day, ev in picked]
