"""Diagnosis of a data dir: what is wrong with an index, and the command that mends it.

``rag doctor`` runs these checks (read-only) and prints each finding with its fix; the fault
tests and the soak benchmark use it to prove a store consistent after crashes and load.
Checks: the database opens at the current schema; no interrupted ingest is pending; the catalog
holds no rows without their article; the vector store holds exactly the committed chunks; the
saved lexical index belongs to the current corpus generation; the index was built with the
configured embedding model and chunking; every uploaded file is indexed and every indexed
upload is on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from rag.errors import RagError
from rag.store import Store
from rag.store import schema as t
from rag.store.database import HEAD, Database
from rag.uploads import PENDING

REBUILD = "run `rag rebuild` (embeds every stored article again)"


@dataclass
class Finding:
    problem: str
    fix: str


def diagnose(database: Database, store: Store, signature: str) -> list[Finding]:
    """Everything wrong with this corpus (empty when it is consistent)."""
    findings: list[Finding] = []
    if database.revision() != HEAD:
        findings.append(
            Finding(
                f"the database is at schema {database.revision()}, not {HEAD}",
                "start the service once (it migrates)",
            )
        )
        return findings
    if store.get_meta("dirty"):
        findings.append(Finding("an ingest was interrupted", "run `rag ingest` again: it completes it"))
    findings += _orphan_rows(database)
    findings += _vectors(store)
    stored = store.get_meta("signature")
    if stored and stored != signature:
        findings.append(
            Finding(f"the index was built with {stored!r}, the settings say {signature!r}", REBUILD)
        )
    if store.count_articles() and not store.lexical_is_current():
        findings.append(
            Finding("the keyword index is missing or stale", "nothing: the next search rebuilds it")
        )
    findings += _uploads(store)
    return findings


def _orphan_rows(database: Database) -> list[Finding]:
    articles = sa.select(t.articles.c.id)
    chunks = sa.select(t.chunks.c.id)
    checks = {
        "chunks without their article": sa.select(sa.func.count()).where(
            t.chunks.c.document_id.not_in(articles)
        ),
        "passage spans without their chunk": sa.select(sa.func.count()).where(
            t.passage_spans.c.chunk_id.not_in(chunks)
        ),
        "sentence vectors without their chunk": sa.select(sa.func.count()).where(
            t.sentence_vectors.c.chunk_id.not_in(chunks)
        ),
    }
    out = []
    with database.read() as c:
        for what, query in checks.items():
            found = int(c.execute(query).scalar() or 0)
            if found:
                out.append(Finding(f"{found} {what}", REBUILD))
    return out


def _vectors(store: Store) -> list[Finding]:
    try:
        held = store.vector_ids()
    except RagError as exc:
        return [Finding(f"the vector store cannot be read: {exc}", "start the Chroma server, or " + REBUILD)]
    committed = set(store.chunk_documents())
    out = []
    if held - committed:
        out.append(
            Finding(
                f"{len(held - committed)} vectors of chunks the catalog does not hold",
                "run `rag ingest` (it repairs them)",
            )
        )
    if committed - held:
        out.append(Finding(f"{len(committed - held)} committed chunks have no vector", REBUILD))
    return out


def _uploads(store: Store) -> list[Finding]:
    folder = (store.data_dir / "uploads").resolve()
    recorded = {Path(p): store.file_hash(p) for p in store.known_files() if Path(p).parent.name == "uploads"}
    local = {p: digest for p, digest in recorded.items() if p.parent == folder}
    on_disk = {p.resolve() for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()
    out = []
    pending = sorted(p.name for p, digest in local.items() if digest == PENDING)
    if pending:
        out.append(
            Finding(f"uploads not finished: {', '.join(pending[:5])}", "start the server (it completes them)")
        )
    strays = sorted(p.name for p in on_disk - set(local))
    if strays:
        out.append(
            Finding(
                f"files in the uploads folder no upload records: {', '.join(strays[:5])}",
                "start the server (it removes them)",
            )
        )
    if store.settings.database_url is None:  # one host: every recorded upload is on this disk
        missing = sorted(p.name for p in set(local) - on_disk)
        if missing:
            out.append(Finding(f"indexed uploads missing on disk: {', '.join(missing[:5])}", REBUILD))
    return out
