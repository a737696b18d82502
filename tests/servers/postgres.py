"""A private PostgreSQL cluster for the tests: real Postgres, started once per test run.

``postgres_cluster`` (session) runs ``initdb`` in a temporary folder, starts the server on a
free loopback port with trust authentication and its socket in that folder, and stops it at the
end of the run. ``postgres_url`` (session) is one database on it; ``postgres_db`` gives each test
a database of its own (``CREATE DATABASE`` with a unique name), so tests never see each other's
rows. Without the Postgres binaries (``make system-deps`` installs them) or the psycopg driver
the tests that ask for these fixtures are skipped, saying which is missing.

As root (containers, CI), the server runs as the ``postgres`` user, which Postgres requires.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERUSER = "postgres"
_names = itertools.count()


def _binaries() -> Path | None:
    """The newest installed server's bin folder (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One running server in ``folder``; ``url(name)`` is a database URL as a user configures it."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        # Postgres refuses to run as root: as root, run it as the user the Debian package made.
        self._as = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> PostgresCluster:
        if self._as:
            shutil.chown(self.folder, user=SUPERUSER, group=SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            # A test cluster: durability is not wanted, speed is (CREATE DATABASE per test).
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres") as c:
            c.autocommit = True
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin); run `make system-deps`")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the psycopg driver is not installed; run `pip install -e '.[dev]'`")
    # Not under pytest's temp root: that is private to this user, and the server may run as another.
    folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    cluster = PostgresCluster(bin_dir, folder)
    try:
        yield cluster.start()
    finally:
        if cluster.data.exists():
            try:
                cluster.stop()
            finally:
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """One database for the whole run (``postgresql://postgres@127.0.0.1:PORT/rag``)."""
    return postgres_cluster.create_database("rag")


@pytest.fixture
def postgres_db(postgres_cluster: PostgresCluster) -> str:
    """An empty database of this test's own; returns its URL."""
    return postgres_cluster.create_database(f"test_{os.getpid()}_{next(_names)}")
