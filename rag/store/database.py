"""The one database layer: a SQLAlchemy engine for ``RAG_DATABASE_URL`` (default: SQLite in the
data dir), migrated to the current schema at start-up, plus the cross-process writer lock.

SQLite connections get WAL (readers never wait for the writer) and a busy timeout; Postgres
connections come from a pool. Migrations are Alembic's (``rag/store/migrations``), run under a
lock so two processes starting together do not both create the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

from rag.errors import StoreBusy, StoreUnavailable
from rag.store import legacy

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
# Postgres advisory-lock keys: any two fixed 64-bit numbers, one per purpose.
_LOCK_KEYS = {"migrate": 7_301_001, "ingest": 7_301_002}


def database_url(url: str | None, data_dir: Path) -> str:
    """``url`` for SQLAlchemy (``postgresql://`` uses psycopg 3), or SQLite in ``data_dir``."""
    if not url:
        return f"sqlite:///{data_dir / 'catalog.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """An engine over one database, migrated on open; ``read()`` / ``write()`` give connections."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {}
        if self.sqlite:
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options.update(pool_pre_ping=True, pool_size=8, max_overflow=8)
        try:
            self.engine: Engine = sa.create_engine(url, **options)
        except Exception as exc:  # a malformed URL or a missing driver
            raise StoreUnavailable(f"Cannot use the database {self.where}: {exc}") from exc
        if self.sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    @property
    def where(self) -> str:
        """The URL without its password, for messages."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a data dir from before migrations first has its
        tables converted, ``rag.store.legacy``)."""
        imported = []
        try:
            with self.exclusive("migrate", wait=120), self.engine.begin() as connection:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                converted = legacy.prepare(connection)
                command.upgrade(config, "head")
                if converted:
                    imported = legacy.finish(connection, self.data_dir)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"Cannot open the database {self.where}: {exc.orig}") from exc
        legacy.rename_imported(imported)  # only once their rows are committed here

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on exit (rolled back on an exception)."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def exclusive(self, purpose: str, wait: float = 0.0) -> Iterator[None]:
        """Hold the cross-process lock for ``purpose`` ("ingest", "migrate"): a file lock in the
        data dir for SQLite, an advisory lock for Postgres (every replica sees it). Waits up to
        ``wait`` seconds, then raises ``StoreBusy``."""
        if self.sqlite:
            lock = FileLock(self.data_dir / f".{purpose}.lock")
            try:
                lock.acquire(timeout=wait)
            except Timeout:
                raise StoreBusy(_busy(purpose)) from None
            try:
                yield
            finally:
                lock.release()
            return
        with self.engine.connect() as connection:
            key = _LOCK_KEYS[purpose]
            if not _advisory(connection, key, wait):
                raise StoreBusy(_busy(purpose))
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()

    def close(self) -> None:
        self.engine.dispose()


def _advisory(connection: Connection, key: int, wait: float) -> bool:
    import time

    deadline = time.monotonic() + wait
    while True:
        got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        connection.commit()
        if got or time.monotonic() >= deadline:
            return bool(got)
        time.sleep(0.2)


def _busy(purpose: str) -> str:
    if purpose == "ingest":
        return (
            "Another ingest is writing to this corpus (a `rag ingest`, an upload or a feed poll); "
            "try again when it has finished."
        )
    return f"Another process holds the database's {purpose} lock; try again shortly."
