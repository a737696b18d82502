"""The database layer: migrations on open, the conversion of a data dir from before them, and
the writer lock, on SQLite and on Postgres (``open_db``, tests/store/conftest.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from rag.errors import StoreBusy, StoreUnavailable
from rag.store.database import Database, database_url
from tests.servers.postgres import _free_port
from tests.store.conftest import Opener

LEGACY_CATALOG = """
CREATE TABLE files (path TEXT PRIMARY KEY, file_hash TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY, file_path TEXT NOT NULL, origin TEXT NOT NULL, title TEXT NOT NULL,
    source TEXT, author TEXT, published_at TEXT, url TEXT, category TEXT,
    text TEXT NOT NULL, content_hash TEXT NOT NULL, n_chunks INTEGER NOT NULL
);
CREATE INDEX articles_file ON articles(file_path);
CREATE TABLE chunks (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(document_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sentence_vectors (chunk_id TEXT PRIMARY KEY, vectors BLOB NOT NULL);
CREATE TABLE passage_spans (chunk_id TEXT PRIMARY KEY, start INTEGER NOT NULL, "end" INTEGER NOT NULL);
"""


def open_sqlite(data: Path) -> Database:
    return Database(database_url(None, data), data)


def tables(db: Database) -> set[str]:
    with db.read() as c:
        return set(sa.inspect(c).get_table_names())


def test_a_new_database_gets_every_table(open_db: Opener, tmp_path: Path) -> None:
    db = open_db(tmp_path)
    assert {"articles", "chunks", "conversations", "turns", "answers", "ratings", "slack_events"} <= tables(
        db
    )
    db.close()
    open_db(tmp_path).close()  # opening again migrates nothing and fails nothing


def test_a_data_dir_from_before_migrations_is_converted_losing_nothing(tmp_path: Path) -> None:
    """Chunks keep their written order (the keyword index's), and conversations, feedback and the
    Slack ledger move from their own files into the one database."""
    with sqlite3.connect(tmp_path / "catalog.sqlite3") as old:
        old.executescript(LEGACY_CATALOG)
        for i, cid in enumerate(["z:0", "a:0", "m:0"]):  # rowid order is not id order
            old.execute("INSERT INTO chunks VALUES (?, ?, ?, 0, 1, 'x')", (cid, cid[0], i))
    with sqlite3.connect(tmp_path / "conversations.sqlite3") as old:
        old.execute("CREATE TABLE conversations (id TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT)")
        old.execute(
            "CREATE TABLE turns (conversation_id TEXT, ordinal INTEGER, message TEXT, question TEXT, "
            "answer TEXT, created_at TEXT)"
        )
        old.execute("INSERT INTO conversations VALUES ('c1', 't0', 't1')")
        old.execute("INSERT INTO turns VALUES ('c1', 0, 'hi', 'hi?', '{}', 't0')")
    with sqlite3.connect(tmp_path / "slack.sqlite3") as old:
        old.execute("CREATE TABLE events (id TEXT PRIMARY KEY, seen_at REAL NOT NULL)")
        old.execute("INSERT INTO events VALUES ('Ev1', 1.0)")
    db = open_sqlite(tmp_path)
    with db.read() as c:
        assert [r.id for r in c.execute(sa.text("SELECT id FROM chunks ORDER BY seq"))] == [
            "z:0",
            "a:0",
            "m:0",
        ]
        assert c.execute(sa.text("SELECT message FROM turns")).scalar() == "hi"
        assert c.execute(sa.text("SELECT id FROM slack_events")).scalar() == "Ev1"
    assert not (tmp_path / "conversations.sqlite3").exists()
    assert (tmp_path / "conversations.sqlite3.imported").exists()
    db.close()
    with sqlite3.connect(tmp_path / "catalog.sqlite3") as converted:  # readers never wait for the writer
        assert converted.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_three_processes_opening_a_new_database_at_once_all_succeed(open_db: Opener, tmp_path: Path) -> None:
    """Each migrates under the migrate lock; the ones that wait find the tables made."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_db(tmp_path).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


OPEN = """
import sys
from pathlib import Path
from rag.store.database import Database, database_url
data = Path(sys.argv[1])
Database(database_url(None, data), data).close()
"""


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_database_at_once_all_succeed_in_wal_mode(tmp_path: Path) -> None:
    """Two `rag ingest` started together on a new data dir: switching the file to WAL takes a lock
    SQLite does not wait for, so only one process may try it (one failed with "database is
    locked" about once in 150 starts)."""
    for attempt in range(2):
        data = tmp_path / str(attempt)
        data.mkdir()
        runs = [
            subprocess.Popen([sys.executable, "-c", OPEN, str(data)], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        failures = [err for p in runs if (err := p.communicate(timeout=120)[1]) or p.returncode]
        assert failures == []
        with sqlite3.connect(data / "catalog.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_one_writer_at_a_time(open_db: Opener, db_setting: str | None, tmp_path: Path) -> None:
    """Two ``Database`` objects, as two processes hold; on Postgres each has a data dir of its own,
    as replicas on two machines do, so only the advisory lock in the database can exclude them."""
    db = open_db(tmp_path / "one")
    other = open_db(tmp_path / ("one" if db_setting is None else "two"))
    with (
        db.exclusive("ingest"),
        pytest.raises(StoreBusy, match="Another ingest"),
        other.exclusive("ingest", wait=0.2),
    ):
        pass
    with other.exclusive("ingest"):  # free again once the first let go
        pass
    with db.exclusive("migrate"), other.exclusive("ingest"):  # one lock per purpose
        pass
    db.close()
    other.close()


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(
    open_db: Opener, db_setting: str | None, tmp_path: Path
) -> None:
    db = open_db(tmp_path / "one")
    other = open_db(tmp_path / ("one" if db_setting is None else "two"))
    held, got = threading.Event(), threading.Event()

    def hold() -> None:
        with db.exclusive("ingest"):
            held.set()
            assert not got.wait(0.5)  # the other is still waiting

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    with other.exclusive("ingest", wait=10):
        got.set()
    holder.join()
    db.close()
    other.close()


def test_an_unreachable_postgres_is_a_clear_error_hiding_the_password(tmp_path: Path) -> None:
    url = f"postgresql://rag:s3cret@127.0.0.1:{_free_port()}/rag"
    with pytest.raises(StoreUnavailable, match="database") as caught:
        Database(database_url(url, tmp_path), tmp_path)
    assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_head_is_the_newest_migration() -> None:
    """A database at HEAD skips Alembic at start-up, so HEAD must follow the migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from rag.store.database import HEAD, MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
