"""Store fixtures: every database-layer test runs on both backends a deployment can choose,
SQLite in the data dir (the default) and Postgres (replicas), each test on an empty database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag.store.database import Database, database_url
from tests.servers.postgres import postgres_cluster, postgres_db  # noqa: F401

Opener = Callable[[Path], Database]


@pytest.fixture(params=["sqlite", "postgres"])
def db_setting(request: pytest.FixtureRequest) -> str | None:
    """``RAG_DATABASE_URL`` for the backend under test: unset (SQLite) or a fresh Postgres database.
    Postgres is only started when a Postgres case runs (and skipped when it is not installed)."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def open_db(db_setting: str | None) -> Opener:
    """Opens a ``Database`` over the backend under test, as a process starting on ``data`` would."""

    def opener(data: Path) -> Database:
        data.mkdir(parents=True, exist_ok=True)
        return Database(database_url(db_setting, data), data)

    return opener
