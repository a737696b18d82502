"""Helpers for the fault tests: a corpus big enough to interrupt, the `rag` command as a user
runs it, and the store's state to compare a recovered index with a clean one."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from tests.conftest import MULTIHOP, RAG


def news_corpus(folder: Path, articles: int = 24) -> Path:
    """``articles`` MultiHop-RAG articles, one JSON file each (each file a unit of an ingest)."""
    folder.mkdir(parents=True, exist_ok=True)
    records = json.loads((MULTIHOP / "corpus.json").read_text())[:articles]
    for i, record in enumerate(records):
        (folder / f"article-{i:03d}.json").write_text(json.dumps(record))
    return folder


def rag(*args: str, data: Path, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run([*RAG, *args], capture_output=True, text=True, timeout=timeout, env=env, **kw)  # type: ignore[call-overload]


def popen_rag(*args: str, data: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data)}
    return subprocess.Popen([*RAG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def committed(data: Path) -> dict[str, object]:
    """What the catalog holds: article ids, chunk ids (with their article and offsets)."""
    with closing(sqlite3.connect(data / "catalog.sqlite3")) as db:
        articles = sorted(r[0] for r in db.execute("SELECT id FROM articles"))
        chunks = sorted(db.execute('SELECT id, document_id, start, "end" FROM chunks').fetchall())
    return {"articles": articles, "chunks": chunks}


def articles_committed(data: Path) -> int:
    try:
        with closing(sqlite3.connect(data / "catalog.sqlite3", timeout=1)) as db:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


def doctor_findings(data: Path) -> list[dict[str, str]]:
    result = rag("doctor", "--json", data=data)
    return json.loads(result.stdout) if result.stdout.strip() else [{"problem": result.stderr, "fix": ""}]
