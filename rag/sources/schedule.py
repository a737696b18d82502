"""When to poll each source: ``--every 30m`` parsed, and which sources are due now.

Times are UTC; pass aware datetimes (or naive ones throughout, never a mix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rag.errors import BadInput

DEFAULT_EVERY = timedelta(minutes=30)
# Polling a feed more often than this costs the site without bringing news any sooner.
MIN_EVERY = timedelta(minutes=1)
MAX_EVERY = timedelta(days=365)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?\s*[smhd]\s*)+")


def parse_every(text: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or a sum like ``"1h30m"`` -> a timedelta."""
    spec = text.strip().lower()
    if not _WHOLE.fullmatch(spec):
        raise BadInput(
            f"Cannot read the interval {text!r}: write a number and a unit, s, m, h or d "
            "(for example 90s, 30m, 2h, 1d or 1h30m)."
        )
    seconds = sum(float(value) * _UNITS[unit] for value, unit in _PART.findall(spec))
    if seconds > MAX_EVERY.total_seconds():
        raise BadInput(f"The interval {text!r} is too long: poll at least every {format_every(MAX_EVERY)}.")
    every = timedelta(seconds=seconds)
    if every < MIN_EVERY:
        raise BadInput(f"The interval {text!r} is too short: poll at most every {format_every(MIN_EVERY)}.")
    return every


def format_every(every: timedelta) -> str:
    """The shortest spelling ``parse_every`` reads back: 1800 s -> ``"30m"``, 5400 s -> ``"1h30m"``."""
    seconds = int(every.total_seconds())
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Source:
    """A feed, sitemap or page polled on a schedule, with what the last poll left behind."""

    url: str
    name: str | None = None
    every: timedelta = DEFAULT_EVERY
    last_polled: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None

    def next_poll(self) -> datetime | None:
        """When this source is next due (None: never polled, so due at once)."""
        return self.last_polled + self.every if self.last_polled else None

    def polled(self, at: datetime, etag: str | None = None, last_modified: str | None = None) -> Source:
        """This source after a poll at ``at`` that returned these validators."""
        return replace(self, last_polled=at, etag=etag, last_modified=last_modified)


def due(sources: list[Source], now: datetime) -> list[Source]:
    """The sources to poll at ``now``: never polled first, then the longest overdue."""
    ready = [s for s in sources if (s.next_poll() or now) <= now]
    return sorted(ready, key=lambda s: (s.last_polled is not None, s.next_poll() or now))


def next_due(sources: list[Source], now: datetime) -> datetime | None:
    """When the next source falls due (``now`` if one already is), for a loop to sleep until."""
    times = [s.next_poll() or now for s in sources]
    return max(now, min(times)) if times else None
