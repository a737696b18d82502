"""What following the news keeps in the database (tables in ``rag.store.schema``): the sources
polled and their validators, every article URL fetched, the outlets that carried each story and
the stories' near-duplicate signatures.

Times are aware UTC datetimes, stored as ISO 8601 text (which sorts); publication dates stay
the outlet's local time, as in the catalog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, Field

from rag.errors import NotFound
from rag.models import ArticleMeta, Carrier
from rag.sources import Source, format_every, normalize_url
from rag.store.database import Database, upsert
from rag.store.schema import feed_sources, fetched_urls, story_carriers, story_signatures

_BATCH = 500  # keys per IN (...), under SQLite's bound-parameter limit


class SourceInfo(BaseModel):
    """A followed feed, sitemap or page, as listings show it."""

    id: str = Field(description="What `DELETE /v1/sources/{id}` names (the URL works too).")
    url: str
    name: str | None = None
    every: str = Field(description="Poll interval, e.g. `30m`.")
    added_at: datetime
    last_polled: datetime | None = None
    next_poll: datetime | None = Field(None, description="Due at once when empty.")
    last_result: str | None = Field(None, description="What the last poll did, or why it failed.")


@dataclass(frozen=True)
class Known:
    """A URL fetched before: the story it holds (None: the page held no article) and how to ask
    for it again conditionally."""

    url: str
    article_id: str | None
    etag: str | None = None
    last_modified: str | None = None
    stamp: datetime | None = None  # the feed's "updated" date for it when it was fetched
    fetched_at: datetime | None = None


def source_id(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:12]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _chunks(keys: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(keys), _BATCH):
        yield list(keys[i : i + _BATCH])


class Records:
    """Reads and writes the tables of following the news in one ``Database``."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # --- sources ------------------------------------------------------------------------
    def add_source(
        self, url: str, name: str | None, every: timedelta | None, now: datetime, default: timedelta
    ) -> SourceInfo:
        """Follow ``url``. Again: the name and interval given are updated (None keeps the old
        one), its validators kept. ``default``: the interval of a new source given none."""
        key = {"id": source_id(url)}
        with self.db.write() as c:
            exists = c.execute(sa.select(feed_sources.c.id).where(feed_sources.c.id == key["id"])).first()
            values: dict[str, Any] = {"url": url}
            if name is not None or not exists:
                values["name"] = name
            if every is not None or not exists:
                values["every_s"] = int((every or default).total_seconds())
            if not exists:
                values["added_at"] = _iso(now)
            upsert(c, feed_sources, key, values)
        return self.source(key["id"])

    def sources(self) -> list[SourceInfo]:
        with self.db.read() as c:
            rows = c.execute(sa.select(feed_sources).order_by(feed_sources.c.added_at)).fetchall()
        return [_info(row) for row in rows]

    def source(self, key: str) -> SourceInfo:
        """The source with this id or URL; ``NotFound`` otherwise."""
        table = feed_sources.c
        where = sa.or_(table.id == key, table.url == key, table.url == normalize_url(key))
        with self.db.read() as c:
            row = c.execute(sa.select(feed_sources).where(where)).first()
        if row is None:
            raise NotFound(f"No source {key!r} is followed; `rag sources list` shows them.")
        return _info(row)

    def schedule(self) -> list[tuple[str, Source]]:
        """Every source with what its polling needs (its validators), by id."""
        with self.db.read() as c:
            rows = c.execute(sa.select(feed_sources)).fetchall()
        return [(row.id, _source(row)) for row in rows]

    def remove_source(self, key: str) -> SourceInfo:
        info = self.source(key)
        with self.db.write() as c:
            c.execute(feed_sources.delete().where(feed_sources.c.id == info.id))
        return info

    def polled(self, source: str, source_now: Source, result: str) -> None:
        """Record a poll: when, the validators the answer carried and what it did."""
        values = {
            "last_polled": _iso(source_now.last_polled),
            "etag": source_now.etag,
            "last_modified": source_now.last_modified,
            "last_result": result[:2000],
        }
        with self.db.write() as c:
            c.execute(feed_sources.update().where(feed_sources.c.id == source).values(**values))

    # --- fetched article URLs -------------------------------------------------------------
    def known(self, urls: Sequence[str]) -> dict[str, Known]:
        out: dict[str, Known] = {}
        with self.db.read() as c:
            for part in _chunks(list(dict.fromkeys(urls))):
                query = sa.select(fetched_urls).where(fetched_urls.c.url.in_(part))
                for r in c.execute(query):
                    out[r.url] = Known(
                        r.url, r.article_id, r.etag, r.last_modified, _when(r.stamp), _when(r.fetched_at)
                    )
        return out

    def remember(self, rows: Sequence[Known], at: datetime) -> None:
        with self.db.write() as c:
            for row in rows:
                values = {
                    "article_id": row.article_id,
                    "etag": row.etag,
                    "last_modified": row.last_modified,
                    "stamp": _iso(row.stamp),
                    "fetched_at": _iso(at),
                }
                upsert(c, fetched_urls, {"url": row.url}, values)

    def restamp(self, url: str, stamp: datetime) -> None:
        with self.db.write() as c:
            c.execute(fetched_urls.update().where(fetched_urls.c.url == url).values(stamp=_iso(stamp)))

    # --- carriers -----------------------------------------------------------------------
    def carry(self, story_id: str, article: ArticleMeta, url: str, at: datetime) -> None:
        """Record that ``article`` (at ``url``) carried the story ``story_id``."""
        values = {
            "outlet": article.source,
            "title": article.title,
            "published_at": _iso(article.published_at),
            "fetched_at": _iso(at),
        }
        with self.db.write() as c:
            upsert(c, story_carriers, {"story_id": story_id, "url": url}, values)

    def carriers(self, story_ids: Sequence[str]) -> dict[str, list[Carrier]]:
        """Each story's carrier rows, first fetched first."""
        out: dict[str, list[Carrier]] = {}
        table = story_carriers.c
        with self.db.read() as c:
            for part in _chunks(list(dict.fromkeys(story_ids))):
                query = sa.select(story_carriers).where(table.story_id.in_(part)).order_by(table.fetched_at)
                for r in c.execute(query):
                    out.setdefault(r.story_id, []).append(
                        Carrier(
                            outlet=r.outlet,
                            url=r.url,
                            title=r.title,
                            published_at=_when(r.published_at),
                            fetched_at=_when(r.fetched_at),
                        )
                    )
        return out

    def stories_since(self, after: datetime, until: datetime) -> list[str]:
        """Stories first fetched in (``after``, ``until``], oldest first: what a digest reports."""
        first = sa.func.min(story_carriers.c.fetched_at)
        query = (
            sa.select(story_carriers.c.story_id, first.label("first"))
            .group_by(story_carriers.c.story_id)
            .having(sa.and_(first > _iso(after), first <= _iso(until)))
            .order_by(first)
        )
        with self.db.read() as c:
            return [row.story_id for row in c.execute(query)]

    # --- signatures ---------------------------------------------------------------------
    def signatures(self) -> list[tuple[str, str, bytes]]:
        """(article id, text hash, signature bytes) of every article that has one."""
        table = story_signatures.c
        with self.db.read() as c:
            rows = c.execute(sa.select(table.article_id, table.text_hash, table.signature))
            return [(r.article_id, r.text_hash, bytes(r.signature)) for r in rows]

    def save_signatures(self, rows: Sequence[tuple[str, str, bytes]]) -> None:
        with self.db.write() as c:
            for article_id, text_hash, blob in rows:
                values = {"text_hash": text_hash, "signature": blob}
                upsert(c, story_signatures, {"article_id": article_id}, values)

    def drop_signatures(self, article_ids: Sequence[str]) -> None:
        with self.db.write() as c:
            for part in _chunks(list(article_ids)):
                c.execute(story_signatures.delete().where(story_signatures.c.article_id.in_(part)))


M = TypeVar("M", bound=ArticleMeta)


def carried_by(database: Database, articles: Sequence[M]) -> list[M]:
    """``articles`` with ``carried_by`` filled in: every outlet that carried each story, its own
    first; empty for a story only ever seen in one file (nothing was folded into it)."""
    if not articles or "carried_by" not in type(articles[0]).model_fields:
        return list(articles)  # rag.models does not declare the field yet
    rows = Records(database).carriers([a.id for a in articles])
    out = []
    for article in articles:
        carriers = rows.get(article.id, [])
        if carriers and not any(c.url and c.url == article.url for c in carriers):
            own = Carrier(
                outlet=article.source, url=article.url, title=article.title, published_at=article.published_at
            )
            carriers = [own, *carriers]
        out.append(article.model_copy(update={"carried_by": carriers}))
    return out


def _source(row: Any) -> Source:
    return Source(
        url=row.url,
        name=row.name,
        every=timedelta(seconds=row.every_s),
        last_polled=_when(row.last_polled),
        etag=row.etag,
        last_modified=row.last_modified,
    )


def _info(row: Any) -> SourceInfo:
    source = _source(row)
    return SourceInfo(
        id=row.id,
        url=row.url,
        name=row.name,
        every=format_every(source.every),
        added_at=_when(row.added_at) or datetime.min,
        last_polled=source.last_polled,
        next_poll=source.next_poll(),
        last_result=row.last_result,
    )
