"""The one database layer: a SQLAlchemy engine for ``RAG_DATABASE_URL`` (default: SQLite in the
data dir), migrated to the current schema at start-up, plus the cross-process writer lock.

A SQLite file is put in WAL mode once (readers never wait for the writer) and its
connections get a busy timeout; Postgres connections come from a pool. Migrations are
Alembic's (``rag/store/migrations``), run under a lock so two processes starting together do
not both create the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

from rag.errors import BadInput, StoreBusy, StoreUnavailable
from rag.store import legacy

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a test checks they agree): a database already at it
# opens without loading Alembic and its scripts, a measurable share of a short command's time.
HEAD = "0004"
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
            self._use_wal()
        self.migrate()

    @property
    def where(self) -> str:
        """The URL without its password, for messages."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def _use_wal(self) -> None:
        """Put the SQLite file in WAL mode (readers never wait for the writer). The mode is kept in
        the file, so it is set once, under the migration lock: the switch needs a moment's
        exclusive lock that SQLite does not wait for, and two processes opening a new database
        together both trying it made one fail with "database is locked"."""
        try:
            with self.engine.connect() as connection:
                if connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal":
                    return
            with self.exclusive("migrate", wait=120), self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        except sa.exc.DatabaseError as exc:  # locked, unreadable, or not a database at all
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a data dir from before migrations first has its
        tables converted, ``rag.store.legacy``)."""
        if self.revision() == HEAD:
            return
        from alembic import command
        from alembic.config import Config

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
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc
        except sa.exc.DatabaseError as exc:  # a file that is not a database at all
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc
        legacy.rename_imported(imported)  # only once their rows are committed here

    def revision(self) -> str | None:
        """The schema revision the database is at (None: new, or from before migrations)."""
        try:
            with self.engine.connect() as connection:
                return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.OperationalError as exc:
            if "no such table" in str(exc.orig) or "does not exist" in str(exc.orig):
                return None
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc
        except sa.exc.ProgrammingError:  # Postgres: no such table
            return None
        except sa.exc.DatabaseError as exc:  # SQLite: "file is not a database"
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on exit (rolled back on an exception)."""
        with self._translated(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """The database's failures as the engine's errors: unreachable, full or damaged is
        ``StoreUnavailable`` (HTTP 503), a value it cannot hold is ``BadInput``."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InternalError) as exc:
            raise StoreUnavailable(_unavailable(self.where, exc)) from exc
        except sa.exc.DataError as exc:
            raise BadInput(f"The database cannot store a value sent: {exc.orig}") from exc

    @contextmanager
    def exclusive(
        self, purpose: str, wait: float = 0.0, waiting: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Hold the cross-process lock for ``purpose`` ("ingest", "migrate"): a file lock in the
        data dir for SQLite, an advisory lock for Postgres (every replica sees it). Waits up to
        ``wait`` seconds (calling ``waiting`` once when another process holds it), then raises
        ``StoreBusy``."""
        if self.sqlite:
            lock = FileLock(self.data_dir / f".{purpose}.lock")

            def attempt(seconds: float) -> bool:
                try:
                    lock.acquire(timeout=seconds)
                except Timeout:
                    return False
                return True

            if not _take(attempt, wait, waiting):
                raise StoreBusy(_busy(purpose))
            try:
                yield
            finally:
                lock.release()
            return
        with self.engine.connect() as connection:
            key = _LOCK_KEYS[purpose]
            if not _take(lambda seconds: _advisory(connection, key, seconds), wait, waiting):
                raise StoreBusy(_busy(purpose))
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()

    def close(self) -> None:
        self.engine.dispose()


def upsert(c: Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    """Update the row with ``key``, or insert it: one statement each, the same on every database
    (a concurrent insert of the same key turns into the update, inside a savepoint)."""
    where = sa.and_(*(table.c[name] == value for name, value in key.items()))
    if c.execute(table.update().where(where).values(**values)).rowcount:
        return
    try:
        with c.begin_nested():
            c.execute(table.insert().values(**key, **values))
    except sa.exc.IntegrityError:
        c.execute(table.update().where(where).values(**values))


def set_aside(data_dir: Path) -> Path | None:
    """Move a damaged SQLite catalog (and its WAL files) aside, so a new one can be made; returns
    where it went (None when there was none)."""
    import time

    path = data_dir / "catalog.sqlite3"
    if not path.exists():
        return None
    target = path.with_name(f"catalog.sqlite3.damaged-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(target.with_name(target.name + suffix))
    return target


def _unavailable(where: str, exc: sa.exc.DBAPIError) -> str:
    cause = str(exc.orig).strip()
    if "full" in cause or "No space" in cause:
        return f"The database {where} could not be written: {cause}. Free some disk space and try again."
    if "malformed" in cause or "not a database" in cause:
        return (
            f"The database {where} is damaged ({cause}). Run `rag rebuild` to rebuild it from the "
            "vector store's copy of the articles."
        )
    return f"Cannot use the database {where}: {cause}."


def _take(attempt: Callable[[float], bool], wait: float, waiting: Callable[[], None] | None) -> bool:
    """A lock taken by ``attempt(seconds)``: one try at once; failing that, ``waiting`` is told
    and ``attempt`` tries for up to ``wait`` seconds."""
    if attempt(0.0):
        return True
    if wait <= 0:
        return False
    if waiting is not None:
        waiting()
    return attempt(wait)


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
