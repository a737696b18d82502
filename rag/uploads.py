"""Uploads: files and JSON documents sent over HTTP -> files under ``<data>/uploads`` to ingest.

Input: ``(filename, bytes)`` pairs or a ``NewDocument``. Output: the saved paths, which the
ingester then reads like any corpus file (so uploads get the same loaders, ids and incremental
updates: uploading a file with the same name again updates its articles). Everything is checked
before anything is written: names are reduced to a safe basename, sizes capped by
``RAG_MAX_UPLOAD_BYTES``, and types checked by suffix and by content.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from rag.documents import SUPPORTED_SUFFIXES, load_bytes
from rag.errors import BadInput, FileTooLarge, RagError, UnreadableFile, UnsupportedFile
from rag.models import NonBlank
from rag.store import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 120


class NewDocument(BaseModel):
    """One article sent as JSON rather than as a file."""

    title: NonBlank = Field(min_length=1, max_length=1000)
    body: NonBlank = Field(min_length=1, description="The article text citations will point into.")
    source: str | None = Field(None, description="Outlet name.")
    published_at: datetime | None = Field(None, description="ISO date or datetime.")
    url: str | None = None
    author: str | None = None
    category: str | None = None


def sanitize_filename(name: str) -> str:
    """A safe basename: no directories, ASCII letters/digits/._- only, no leading dot. A name
    that had to change keeps a short digest of what was sent, so two different names ("中国.txt",
    "俄罗斯.txt"; "a b.txt", "a_b.txt") never become one file, while the same name sent again
    still replaces its file."""
    base = re.split(r"[\\/]", name or "")[-1]
    sent_stem, dot, sent_suffix = base.rpartition(".")
    if not dot:
        sent_stem, sent_suffix = base, ""
    suffix = _UNSAFE.sub("", _ascii(sent_suffix)).lower()
    stem = _UNSAFE.sub("_", _ascii(sent_stem)).strip("._-") or "upload"
    changed = stem != sent_stem or suffix != sent_suffix.lower()
    tag = f"-{hashlib.sha1(base.encode()).hexdigest()[:8]}" if changed else ""
    stem = stem[: MAX_NAME - len(suffix) - 1 - len(tag)] + tag
    return f"{stem}.{suffix}" if suffix else stem


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def check_upload(name: str, data: bytes, max_bytes: int) -> str:
    """Validate one upload; returns its sanitised name."""
    safe = sanitize_filename(name)
    suffix = Path(safe).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(
            f"'{name}': unsupported file type '{suffix or 'none'}'; supported: "
            + ", ".join(sorted(SUPPORTED_SUFFIXES))
        )
    if len(data) > max_bytes:
        raise FileTooLarge(
            f"'{name}' is {len(data):,} bytes; the limit is {max_bytes:,} (RAG_MAX_UPLOAD_BYTES)."
        )
    if not data.strip():
        raise BadInput(f"'{name}' is empty.")
    if suffix == ".pdf":
        if not data.startswith(b"%PDF-"):
            raise UnsupportedFile(f"'{name}' is named .pdf but is not a PDF file.")
    elif not _is_text(data):
        raise UnsupportedFile(f"'{name}' is not UTF-8 text, as a {suffix} file must be.")
    _check_articles(name, safe, data)
    return safe


def _check_articles(name: str, safe: str, data: bytes) -> None:
    """Refuse a file the ingest would skip (malformed JSON, a PDF without text) before it is
    written: a skipped upload would sit in the uploads folder, or replace a good file of the
    same name, and be retried at every start."""
    try:
        articles = load_bytes(Path(safe), data, origin=safe)
    except RagError as exc:
        raise UnreadableFile(f"'{name}' cannot be read as articles: {exc}") from None
    if not articles:
        raise UnreadableFile(f"'{name}' holds no article.")


def _is_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def _unique(names: Sequence[str]) -> list[str]:
    """The names, a repeat within one request numbered until it is free ("a.txt", "a-2.txt")."""
    taken: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{Path(name).stem}-{n}{Path(name).suffix}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    tmp.replace(path)  # readers never see a half-written upload


Mark = Callable[[Path], None]


def save_files(
    folder: Path, files: Sequence[tuple[str, bytes]], max_bytes: int, mark: Mark | None = None
) -> list[Path]:
    """Check every file, then write each (``mark``, called first for each path, records it as
    pending, so a crash between the write and its ingest is completed at the next start)."""
    if not files:
        raise BadInput("No files were uploaded.")
    names = _unique([check_upload(name, data, max_bytes) for name, data in files])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, data) in zip(names, files, strict=True):
        if mark:
            mark(folder / name)
        _write(folder / name, data)
        paths.append(folder / name)
    return paths


def save_document(folder: Path, doc: NewDocument, max_bytes: int, mark: Mark | None = None) -> Path:
    if not doc.body.strip() or not doc.title.strip():
        raise BadInput("A document needs a non-empty 'title' and 'body'.")
    record = doc.model_dump(mode="json", exclude_none=True)
    data = json.dumps(record, ensure_ascii=False).encode()
    if len(data) > max_bytes:
        raise FileTooLarge(f"The document is {len(data):,} bytes; the limit is {max_bytes:,}.")
    # Named by content so posting the same document twice leaves it unchanged.
    digest = hashlib.sha1(f"{doc.title}\n{doc.body}".encode()).hexdigest()[:10]
    stem = sanitize_filename(doc.title)[:60].strip("._-") or "document"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{digest}.json"
    if mark:
        mark(path)
    _write(path, data)
    return path


PENDING = ""  # the file hash an upload is recorded with until its ingest completes


def recoverable(store: Store, folder: Path) -> list[Path]:
    """What a killed server left in the uploads ``folder``: the uploads recorded as pending
    whose file is whole (returned, to ingest). Files no record names (deleted on another
    replica, or written after a crash left no record) and half-written ones are removed;
    pending records without a file are forgotten."""
    if not folder.is_dir():
        return []
    recorded = {Path(p): store.file_hash(p) for p in store.known_files() if Path(p).parent == folder}
    pending = []
    for path, digest in recorded.items():
        if digest == PENDING:
            if path.is_file():
                pending.append(path)
            else:
                store.forget_file(str(path))
    for path in folder.iterdir():
        if path.is_file() and path not in recorded:
            path.unlink(missing_ok=True)
    return pending
