"""Rebuild an empty catalog from the chunks on a Chroma server (a replica pointed at a server that
another process filled, with a database of its own).

Each article's text is reassembled from its chunks at their offsets (gaps between chunks held
only whitespace and become spaces), so citation offsets stay exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from rag.store import schema as t
from rag.store.catalog import Catalog
from rag.store.vectors import VectorStore

Part = tuple[str, str, dict[str, Any]]  # chunk id, text, Chroma metadata


def restore(catalog: Catalog, vectors: VectorStore) -> int:
    """Fill ``catalog`` from ``vectors`` when it is empty; returns the articles restored."""
    if catalog.count_articles() or not vectors.count():
        return 0
    by_doc: dict[str, list[Part]] = {}
    for ids, texts, metas in vectors.pages():
        for cid, text, meta in zip(ids, texts, metas, strict=True):
            by_doc.setdefault(str(meta["document_id"]), []).append((cid, text, dict(meta)))
    with catalog.db.write() as c:
        for doc_id, parts in by_doc.items():
            _restore_article(c, doc_id, sorted(parts, key=lambda p: int(p[2]["start"])))
        catalog.bump(c)
    return len(by_doc)


def _restore_article(c: Connection, doc_id: str, parts: list[Part]) -> None:
    meta = parts[0][2]
    chars = [" "] * max(int(m["end"]) for _, _, m in parts)
    for _, text, m in parts:
        chars[int(m["start"]) : int(m["end"])] = text
    published = meta.get("published_at") or (
        datetime.fromtimestamp(int(meta["published_ts"])).isoformat()
        if int(meta.get("published_ts", -1)) >= 0
        else None
    )
    origin = str(meta.get("origin") or f"chroma:{doc_id}")
    c.execute(
        t.articles.insert().values(
            id=doc_id,
            file_path=f"chroma:{origin}",
            origin=origin,
            title=meta.get("title") or "",
            source=meta.get("source") or None,
            author=meta.get("author") or None,
            published_at=published,
            url=meta.get("url") or None,
            category=meta.get("category") or None,
            text="".join(chars),
            content_hash="",  # unknown: a later ingest of the same file re-embeds it
            n_chunks=len(parts),
        )
    )
    c.execute(
        t.chunks.insert(),
        [
            {
                "id": cid,
                "document_id": doc_id,
                "ordinal": i,
                "start": int(m["start"]),
                "end": int(m["end"]),
                "text": text,
            }
            for i, (cid, text, m) in enumerate(parts)
        ],
    )
