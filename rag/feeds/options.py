"""How following the news behaves: fetch politeness and safety, poll intervals, digest pace.

Read from ``Settings`` (``RAG_FETCH_*``, ``RAG_WATCH_*``, ``RAG_SLACK_DIGEST_MINUTES``), any of
them overridable when building ``Feeds(engine, **overrides)`` (tests point it at a local site).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any

from rag.config import Settings
from rag.errors import BadInput
from rag.sources import USER_AGENT, FetchPolicy
from rag.sources.schedule import DEFAULT_EVERY

# Settings field -> option, with how a value is converted.
_FROM_SETTINGS: dict[str, tuple[str, Any]] = {
    "fetch_allow_private": ("allow_private", bool),
    "fetch_timeout": ("timeout_s", float),
    "fetch_retries": ("retries", int),
    "fetch_delay": ("per_host_delay_s", float),
    "fetch_max_bytes": ("max_bytes", int),
    "fetch_user_agent": ("user_agent", str),
    "watch_every_minutes": ("every", lambda minutes: timedelta(minutes=float(minutes))),
    "watch_max_items": ("max_items", int),
    "slack_digest_minutes": ("digest_every", lambda minutes: timedelta(minutes=float(minutes))),
}


@dataclass(frozen=True)
class FeedOptions:
    allow_private: bool = False  # fetch loopback / private / link-local addresses
    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 1.0
    per_host_delay_s: float = 1.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    every: timedelta = DEFAULT_EVERY  # a new source's poll interval unless given
    max_items: int = 200  # newest items of a feed or sitemap read per poll
    digest_every: timedelta = timedelta(minutes=60)  # at most one Slack digest per subscription
    workers: int = 4  # articles fetched and read at once (one host's still wait their turn)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> FeedOptions:
        """The options ``settings`` give (a field it lacks keeps its default), then ``overrides``."""
        values: dict[str, Any] = {}
        for name, (option, convert) in _FROM_SETTINGS.items():
            value = getattr(settings, name, None)
            if value is not None:
                values[option] = convert(value)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise BadInput(f"Unknown feed option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(cls(**values), **overrides)

    def policy(self) -> FetchPolicy:
        return FetchPolicy(
            user_agent=self.user_agent,
            timeout_s=self.timeout_s,
            retries=self.retries,
            backoff_s=self.backoff_s,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            per_host_delay_s=self.per_host_delay_s,
            allow_private=self.allow_private,
        )
