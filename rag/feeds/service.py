"""``Feeds``: following the news for one ``Engine``.

- ``ingest(targets)``: files, folders and URLs in one go; a URL may be an article, an RSS/Atom
  feed (each item's link is fetched) or a sitemap (news sitemaps and sitemap indexes too);
- ``add_source`` / ``sources`` / ``remove_source``: the feeds, sitemaps and pages to follow;
- ``poll()``: fetch the sources that are due, ingest what is new, send the digests owed to Slack
  subscriptions (``notify``); ``watch()`` polls in a loop, ``start()`` in a background thread.

A fetch failure is listed in the report (``skipped``, the URL and the reason) and the rest goes
on. What is fetched and how is ``rag.feeds.crawl``; how it is stored, once per story,
``rag.feeds.writer``; what is remembered between polls, ``rag.feeds.records``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import BadInput, RagError
from rag.feeds.crawl import Crawler, Visit
from rag.feeds.options import FeedOptions
from rag.feeds.records import Known, Records, SourceInfo, carried_by
from rag.feeds.reports import FeedReport, PolledSource
from rag.feeds.subscriptions import Digest, Subscriptions
from rag.feeds.writer import Writer
from rag.ingest import Progress
from rag.models import ArticleMeta, SkippedFile
from rag.sources import FeedItem, Fetcher, FetchError, Source, check_url, due, next_due, normalize_url
from rag.sources import parse_every as _parse_every

if TYPE_CHECKING:
    from rag.engine import Engine

log = logging.getLogger(__name__)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
MAX_SLEEP_S = 60.0  # the watch loop looks for sources added meanwhile at least this often
# A page that held no article is asked for again this long after, while its feed lists it: a
# paywall stays one (one request), an error page served in its place may have been temporary.
STUB_RETRY = timedelta(hours=6)

Notify = Callable[[Digest], None]


def is_url(target: str | Path) -> bool:
    """Whether an ``ingest`` target is a URL (anything with a scheme) rather than a path."""
    return isinstance(target, str) and bool(_SCHEME.match(target.strip()))


def parse_every(every: str | timedelta | None, default: timedelta) -> timedelta:
    if every is None or every == "":
        return default
    return every if isinstance(every, timedelta) else _parse_every(every)


class Feeds:
    """Following the news for one engine. ``notify`` receives the Slack digests polls owe;
    ``overrides`` replace options the settings give (``FeedOptions``)."""

    def __init__(self, engine: Engine, notify: Notify | None = None, **overrides: Any) -> None:
        self.engine = engine
        self.options = FeedOptions.from_settings(engine.settings, **overrides)
        self.records = Records(engine.database)
        self.subscriptions = Subscriptions(engine.database)
        self.writer = Writer(engine, self.records)
        self.notify = notify
        self._polling = threading.Lock()  # one poll at a time through this object

    @cached_property
    def fetcher(self) -> Fetcher:
        """One fetcher for this object's life: robots.txt and per-host turns are remembered."""
        return Fetcher(self.options.policy())

    @cached_property
    def crawler(self) -> Crawler:
        return Crawler(self.fetcher, self.options.max_items, self.options.workers)

    def close(self) -> None:
        if "fetcher" in self.__dict__:
            self.fetcher.close()

    def __enter__(self) -> Feeds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingesting ----------------------------------------------------------------------
    def ingest(
        self, targets: Sequence[str | Path], sync: bool = False, progress: Progress | None = None
    ) -> FeedReport:
        """Ingest files and folders (``sync`` applies to them) and URLs in one report."""
        started = time.perf_counter()
        urls = [str(t).strip() for t in targets if is_url(t)]
        paths = [Path(t) for t in targets if not is_url(t)]
        report = FeedReport()
        if paths or not urls:
            report.merge(self.engine.ingest(paths, sync=sync, progress=progress))
        for url in urls:
            self._ingest_url(url, report, progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _ingest_url(self, url: str, report: FeedReport, progress: Progress | None) -> None:
        """An article URL given again is asked for conditionally (304: unchanged), unless its
        article was deleted since; a feed or sitemap is read whole (known items skipped)."""
        now = _now()
        normal = normalize_url(url)
        known = self._stored(self.records.known([normal])).get(normal)
        try:
            visit = self.crawler.visit(url, *((known.etag, known.last_modified) if known else ()))
        except FetchError as error:
            report.skipped.append(SkippedFile(path=url, reason=str(error)))
            return
        if visit.not_modified and known is not None and known.article_id:
            report.unchanged.append(known.article_id)
            return
        self._read(visit, url, report, now, progress)

    def _stored(self, known: dict[str, Known]) -> dict[str, Known]:
        """``known`` without the URLs whose story is no longer stored."""
        ids = set(self.engine.store.article_hashes())
        return {url: k for url, k in known.items() if k.article_id in ids}

    def _read(
        self, visit: Visit, origin: str, report: FeedReport, now: datetime, progress: Progress | None
    ) -> bool:
        """Read the article ``visit`` holds, or the new and updated items it lists, and store
        them. False when some item could not be fetched (worth asking the list again)."""
        if visit.found is not None:
            self.writer.store([visit.found], origin, report, now, progress)
            return True
        known = self.records.known([item.link for item in visit.items])
        todo = [item for item in visit.items if self._wanted(item, known.get(item.link), now)]
        skipped = self._stored(known).keys() - {item.link for item in todo}
        report.unchanged.extend(str(known[i.link].article_id) for i in visit.items if i.link in skipped)
        reading = self.crawler.read(todo, known)
        for item in reading.unchanged:  # dated later by its feed, but the page answered 304
            report.unchanged.append(str(known[item.link].article_id))
            if item.updated:
                self.records.restamp(item.link, item.updated)
        for item, error in reading.empty + reading.failed:
            report.skipped.append(SkippedFile(path=item.link, reason=str(error)))
        # A page holding no article (a paywall) is remembered, so it is asked for again only
        # when its feed says it changed or STUB_RETRY later; an unreachable one at the next poll.
        stubs = [Known(item.link, None, stamp=item.updated) for item, _ in reading.empty]
        self.records.remember(stubs, now)
        self.writer.store(reading.found, origin, report, now, progress)
        report.unchanged[:] = list(dict.fromkeys(report.unchanged))
        return not reading.failed

    def _wanted(self, item: FeedItem, known: Known | None, now: datetime) -> bool:
        """Fetch a new item; a known one only when its feed dates it later than when fetched,
        or when it held no article (a paywall, or an error page in its place for a while) and
        was last asked for STUB_RETRY ago."""
        if known is None:
            return True
        if known.article_id is None and (known.fetched_at is None or now - known.fetched_at >= STUB_RETRY):
            return True
        if item.updated and known.stamp is None:
            self.records.restamp(known.url, item.updated)
        return bool(item.updated and known.stamp and item.updated > known.stamp)

    # --- sources ------------------------------------------------------------------------
    def add_source(
        self, url: str, every: str | timedelta | None = None, name: str | None = None
    ) -> SourceInfo:
        """Follow a feed, sitemap or page. Added again, the interval and name given replace the
        old ones; one not given is kept."""
        url = url.strip()
        try:
            check_url(url, self.options.allow_private)
        except FetchError as error:
            # A host that does not resolve now may later; polls report it. Anything else is final.
            if not error.reason.startswith("cannot resolve host"):
                raise BadInput(f"Cannot follow {url}: {error}") from None
        interval = parse_every(every, self.options.every) if every not in (None, "") else None
        name = (name or "").strip() or None
        return self.records.add_source(normalize_url(url), name, interval, _now(), self.options.every)

    def sources(self) -> list[SourceInfo]:
        return self.records.sources()

    def remove_source(self, key: str) -> SourceInfo:
        """Stop following a source (by id or URL); what it brought stays in the corpus."""
        return self.records.remove_source(key.strip())

    # --- polling ------------------------------------------------------------------------
    def poll(self, force: bool = False, progress: Progress | None = None) -> FeedReport:
        """Poll the sources that are due (every source with ``force``), ingest what is new, then
        send the digests this owes to Slack subscriptions."""
        started = time.perf_counter()
        report = FeedReport()
        with self._polling:
            now = _now()
            schedule = self.records.schedule()
            chosen = [s for _, s in schedule] if force else due([s for _, s in schedule], now)
            ids = {source.url: source_id for source_id, source in schedule}
            for source in chosen:
                self._poll_one(ids[source.url], source, report, progress)
            if self.notify is not None:
                self._send_digests(_now())
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _poll_one(
        self, source_id: str, source: Source, report: FeedReport, progress: Progress | None
    ) -> None:
        now = _now()
        before = (len(report.added), len(report.updated), len(report.folded), len(report.skipped))
        try:
            visit = self.crawler.visit(source.url, source.etag, source.last_modified)
        except FetchError as error:
            report.skipped.append(SkippedFile(path=source.url, reason=str(error)))
            report.sources.append(PolledSource(url=source.url, status="failed", detail=str(error)))
            self.records.polled(source_id, source.polled(now, source.etag, source.last_modified), str(error))
            return
        if visit.not_modified:
            detail, complete = "not modified (304)", True
            status = "not_modified"
        else:
            complete = self._read(visit, source.url, report, now, progress)
            added, updated, folded, skipped = (
                len(report.added) - before[0],
                len(report.updated) - before[1],
                len(report.folded) - before[2],
                len(report.skipped) - before[3],
            )
            listed = f"{len(visit.items)} items: " if visit.kind != "page" else ""
            detail = f"{listed}{added} new, {updated} updated, {folded} copies folded, {skipped} skipped"
            status = "read"
        report.sources.append(
            PolledSource(url=source.url, status=status, detail=detail, items=len(visit.items))
        )
        # Validators are kept only when every item was read: else the next poll reads the list again.
        etag, modified = (visit.etag, visit.last_modified) if complete else (None, None)
        self.records.polled(source_id, source.polled(now, etag, modified), detail)

    def _send_digests(self, now: datetime) -> None:
        assert self.notify is not None
        for digest in self.subscriptions.due(self.engine.store, self.records, now, self.options.digest_every):
            try:
                self.notify(digest)
            except Exception:  # Slack down: the digest is owed until a later poll sends it
                log.exception("sending a digest failed", extra={"channel": digest.channel})
                continue
            self.subscriptions.sent(digest)

    def watch(
        self, stop: threading.Event | None = None, on_report: Callable[[FeedReport], None] | None = None
    ) -> None:
        """Poll each source when it falls due, until ``stop`` is set (or forever)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                report = self.poll()
                if on_report is not None and report.sources:
                    on_report(report)
            except RagError as error:  # the corpus busy or unreachable: try again at the next turn
                log.warning("polling the sources failed: %s", error)
            except Exception:
                log.exception("polling the sources failed")
            stop.wait(self._sleep())

    def _sleep(self) -> float:
        now = _now()
        upcoming = next_due([source for _, source in self.records.schedule()], now)
        if upcoming is None:
            return MAX_SLEEP_S
        return min(MAX_SLEEP_S, max(1.0, (upcoming - now).total_seconds()))

    def start(self) -> Watcher:
        """``watch`` in a background thread (``rag serve --watch``); ``stop()`` ends it."""
        return Watcher(self)

    # --- what other parts read ----------------------------------------------------------
    def carried_by(self, articles: Sequence[ArticleMeta]) -> list[ArticleMeta]:
        return carried_by(self.engine.database, articles)


class Watcher:
    """A thread polling the sources of one ``Feeds`` until stopped."""

    def __init__(self, feeds: Feeds) -> None:
        self.feeds = feeds
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=feeds.watch, args=(self.stopping,), name="rag-watch", daemon=True
        )
        self.thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)
        self.feeds.close()


def _now() -> datetime:
    return datetime.now(UTC)
