"""Data dirs from before the versioned schema: converted once, nothing lost.

Their catalog (``catalog.sqlite3``) ordered chunks by SQLite's hidden rowid, which becomes the
``chunks.seq`` column; conversations, feedback and the Slack ledger lived in three more SQLite
files, whose rows move into the one database (the files are then renamed ``*.imported``).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rag.store import schema

# file -> [(its table, our table, columns in order)]
_FILES = {
    "conversations.sqlite3": [
        ("conversations", schema.conversations, ("id", "created_at", "updated_at")),
        (
            "turns",
            schema.turns,
            ("conversation_id", "ordinal", "message", "question", "answer", "created_at"),
        ),
    ],
    "feedback.sqlite3": [
        (
            "answers",
            schema.answers,
            ("id", "created_at", "channel", "conversation_id", "question", "answer_json"),
        ),
        ("ratings", schema.ratings, ("answer_id", "user", "rating", "created_at")),
    ],
    "slack.sqlite3": [
        ("events", schema.slack_events, ("id", "seen_at")),
        ("threads", schema.slack_threads, ("channel", "ts", "conversation_id")),
    ],
}


def prepare(connection: Connection) -> bool:
    """Before migrating: set an unversioned SQLite catalog's chunks table aside. True if it did."""
    if connection.dialect.name != "sqlite":
        return False
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables or "chunks" not in tables:
        return False
    if "seq" in {c["name"] for c in inspector.get_columns("chunks")}:
        return False
    connection.exec_driver_sql("DROP INDEX IF EXISTS chunks_doc")
    connection.exec_driver_sql("ALTER TABLE chunks RENAME TO chunks_legacy")
    return True


def finish(connection: Connection, data_dir: Path) -> list[Path]:
    """After migrating: copy the chunks back in their old order and import the other files'
    rows. Returns the imported files (renamed by the caller once the transaction commits)."""
    connection.exec_driver_sql(
        'INSERT INTO chunks (seq, id, document_id, ordinal, start, "end", text) '
        'SELECT rowid, id, document_id, ordinal, start, "end", text FROM chunks_legacy ORDER BY rowid'
    )
    connection.exec_driver_sql("DROP TABLE chunks_legacy")
    imported = []
    for name, tables in _FILES.items():
        path = data_dir / name
        if path.is_file():
            _import(connection, path, tables)
            imported.append(path)
    return imported


def _import(connection: Connection, path: Path, tables: list[tuple[str, sa.Table, tuple[str, ...]]]) -> None:
    with closing(sqlite3.connect(path)) as old:
        for their, ours, columns in tables:
            try:
                rows = old.execute(f"SELECT {', '.join(map(_quote, columns))} FROM {their}").fetchall()
            except sqlite3.OperationalError:  # an empty file: the table was never created
                continue
            if rows:
                connection.execute(ours.insert(), [dict(zip(columns, r, strict=True)) for r in rows])


def _quote(column: str) -> str:
    return f'"{column}"'


def rename_imported(files: list[Path]) -> None:
    for path in files:
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(part.with_name(part.name + ".imported"))
