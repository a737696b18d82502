"""Helpers for the fault tests: a corpus big enough to interrupt, the `rag` command as a user
runs it, and the store's state to compare a recovered index with a clean one."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from tests.conftest import RAG

# fmt: off
_PEOPLE = [
    "Ana Ruiz", "Tom Okafor", "Lena Brandt", "Ravi Menon",
    "Grace Liu", "Omar Haddad", "Ines Costa", "Piet Vos",
]
_PLACES = ["Lisbon", "Leeds", "Nairobi", "Osaka", "Denver", "Tallinn", "Cork", "Perth"]
_OUTLETS = ["The Harbour Post", "Northern Ledger", "Coastline Daily", "Metro Wire"]
_SUBJECTS = [
    "the council", "the port authority", "the union", "the ferry operator", "the regulator",
    "the school board", "the hospital trust", "the water company", "the transit agency", "the court",
]
_VERBS = [
    "approved", "delayed", "rejected", "announced", "reviewed", "funded", "cancelled", "extended",
    "criticised", "proposed", "audited", "postponed",
]
_OBJECTS = [
    "a new bridge", "the bus routes", "a tariff on imports", "the night shifts", "a flood barrier",
    "the pension plan", "a solar farm", "the harbour dredging", "a housing scheme", "the rail link",
    "a wage agreement", "the recycling contract",
]
_DETAILS = [
    "after a long public hearing", "despite objections from residents", "citing rising costs",
    "before the winter storms", "following a safety inspection", "at the request of local traders",
    "while the budget was under review", "ahead of the regional election",
]
_CODES = ["Zal", "Kor", "Vex", "Mira", "Tand", "Quo", "Bel", "Ostr"]
# fmt: on


def news_corpus(folder: Path, articles: int = 24) -> Path:
    """``articles`` news articles of ~1,400 words (as long as a typical MultiHop-RAG one), one
    JSON file each, so an ingest has several files to be interrupted between; each sentence
    drawn at random, so no two articles or sentences are alike."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(articles)
    for i in range(articles):
        person, place = _PEOPLE[i % len(_PEOPLE)], _PLACES[i * 3 % len(_PLACES)]
        project = f"{_CODES[i % 8]}{_CODES[i // 8 % 8].lower()}ia"  # one name per article
        paragraphs = [
            " ".join(
                f"{rng.choice(_SUBJECTS).capitalize()} in {rng.choice(_PLACES)} {rng.choice(_VERBS)} "
                f"{rng.choice(_OBJECTS)} worth {rng.randint(2, 950)} million {rng.choice(_DETAILS)}, "
                f"{rng.choice(_PEOPLE)} said on day {rng.randint(1, 28)} of the inquiry."
                for _ in range(6)
            )
            for _ in range(12)
        ]
        record = {
            "title": f"{person} on the {project} project: {rng.choice(_OBJECTS)} in {place}",
            "author": person,
            "source": _OUTLETS[i % len(_OUTLETS)],
            "published_at": f"2023-10-{i % 28 + 1:02d}T08:00:00+00:00",
            "category": "news",
            "url": f"https://example.com/news/{i}",
            "body": f"The {project} project was reviewed in {place}.\n\n" + "\n\n".join(paragraphs),
        }
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
