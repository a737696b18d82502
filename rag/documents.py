"""Loading: files on disk -> ``Article`` records (or a reason the file was skipped).

Supported: ``.txt`` / ``.md`` (incl. scraped pages: title line, ``OUTLET:`` prefix, date crumbs,
stories separated by lone ``-`` lines), ``.html`` / ``.htm`` (trafilatura main-text extraction),
``.pdf`` (pypdf), ``.json`` / ``.jsonl`` / ``.csv`` / ``.tsv`` (article records, their field
names read as ``rag.records`` lists them).

Each article's ``text`` is what citation offsets point into; it is made of whole lines of the
source file, so every quote also appears verbatim in the file (modulo whitespace).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dateutil import parser as dateparser

from rag import records
from rag.errors import BadInput, UnreadableFile, UnsupportedFile
from rag.models import Article
from rag.text import MONTHS

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl", ".csv", ".tsv"}

_OUTLET_PREFIX = re.compile(r"^([A-Z][A-Z0-9&'.\- ]{1,40}[A-Z0-9]):\s+(?=\S)")
_DATE_LINE = re.compile(
    rf"^(?:\d{{1,2}}\s+(?:{MONTHS})\.?,?\s+\d{{4}}|(?:{MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}|"
    rf"\d{{4}}-\d{{2}}-\d{{2}})(?:[ T,]+\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*(?:[AaPp][Mm])?)?"
    r"(?:\s*[A-Z]{2,4})?$"
)
_SEPARATOR = re.compile(r"^\s*[-–—]\s*$")
_TERMINAL = (".", "!", "?", '"', "'", "”", "’", ":", ";", ")")


def content_hash(article: Article) -> str:
    payload = article.model_dump(exclude={"content_hash", "origin", "carried_by"}, mode="json")
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def article_id(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def discover(paths: Iterable[Path]) -> list[Path]:
    """Expand files and directories into the supported files they hold, sorted."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise BadInput(f"Path does not exist: {path}")
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return sorted({p.resolve() for p in found})


def _decode(data: bytes) -> str:
    if not data.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def parse_date(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    epoch = _epoch(value)
    if epoch is not None:
        return epoch
    try:
        parsed = dateparser.parse(str(value))
    except (ValueError, OverflowError):
        return None
    # Offsets are dropped: dates are compared as the outlet's local publication time.
    return parsed.replace(tzinfo=None) if parsed else None


def _epoch(value: Any) -> datetime | None:
    """A Unix timestamp (seconds or milliseconds, as exports write them) as naive UTC."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    text = str(value).strip()
    if not re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return None
    # Seconds past 1e11 would be after the year 5000: such a number counts milliseconds.
    seconds = float(text) / (1000 if float(text) >= 1e11 else 1)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def _outlet_name(raw: str) -> str:
    words = raw.split()
    return " ".join(w if len(w) <= 3 else w.capitalize() for w in words)


def _is_crumb(line: str) -> bool:
    body = line.strip().lstrip("-–—•· ").strip()
    if not body:
        return True
    if _DATE_LINE.match(body):
        return True
    return len(body.split()) <= 5 and not body.endswith(_TERMINAL)


def _short_title(text: str, limit: int = 90) -> str:
    first = re.split(r"(?<=[a-z0-9]{2}[.!?])\s+(?=[A-Z\"“])", text.strip(), maxsplit=1)[0]
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def parse_page(text: str) -> list[dict[str, Any]]:
    """Split a plain-text page into stories: ``[{title, text, source, published_at}]``.

    The first line is the page title; a leading ``OUTLET:`` on the first body line names the
    outlet; date lines and short navigation crumbs are dropped; lone ``-`` lines separate
    stories (the page's own story first, then teasers for other stories).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    segments: list[list[str]] = [[]]
    page_date: datetime | None = None
    for line in lines:
        if _SEPARATOR.match(line):
            segments.append([])
            continue
        stripped = line.strip().lstrip("-–—•· ").strip()
        if page_date is None and _DATE_LINE.match(stripped):
            page_date = parse_date(stripped)
        segments[-1].append(line)

    stories: list[dict[str, Any]] = []
    for index, segment in enumerate(segments):
        content = [ln.strip() for ln in segment if ln.strip()]
        title = None
        if index == 0 and content:
            title = content.pop(0).lstrip("# ").strip()
        # Crumbs are only recognised at a story's edges, so short lines inside a story stay.
        while content and _is_crumb(content[-1]):
            content.pop()
        while content and _is_crumb(content[0]):
            content.pop(0)
        if not content:
            if title and index == 0:
                stories.append({"title": title, "text": title, "source": None, "main": True})
            continue
        source = None
        match = _OUTLET_PREFIX.match(content[0])
        if match:
            source = _outlet_name(match.group(1))
            content[0] = content[0][match.end() :]
        body = "\n".join(content)
        stories.append(
            {"title": title or _short_title(body), "text": body, "source": source, "main": index == 0}
        )
    main_source = next((s["source"] for s in stories if s["main"] and s["source"]), None)
    for story in stories:
        if story["main"]:
            story["published_at"] = page_date
            story["source"] = story["source"] or main_source
        else:
            story.setdefault("published_at", None)
    return stories


def _load_text(path: Path, data: bytes) -> list[dict[str, Any]]:
    text = _decode(data)
    stories = parse_page(text)
    if not stories:
        raise UnreadableFile("no text found")
    return stories


# trafilatura reads a page's date from its markup only: its text-wide search takes a "Construction
# starts in 2025" or a footer's "© 2024" for a publication date of 1 January.
DATES_FROM_MARKUP = {"extensive_search": False, "original_date": True}


def _load_html(path: Path, data: bytes) -> list[dict[str, Any]]:
    import trafilatura

    html = _decode(data)
    doc = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, date_extraction_params=DATES_FROM_MARKUP
    )
    body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not body:
        raise UnreadableFile("no main text found in the HTML")
    return [
        {
            "title": getattr(doc, "title", None) or _short_title(body),
            "text": body,
            "source": getattr(doc, "sitename", None),
            "author": getattr(doc, "author", None),
            "published_at": parse_date(getattr(doc, "date", None)),
            "url": getattr(doc, "url", None),
        }
    ]


# A PDF bomb (thousands of pages, streams that inflate to gigabytes, pages slow to parse) is
# refused rather than allowed to hold an ingest: pypdf caps each decompressed stream itself.
MAX_PDF_PAGES = 500
MAX_PDF_SECONDS = 60.0
MAX_TEXT_CHARS = 5_000_000  # of text extracted from one file


def _load_pdf(path: Path, data: bytes) -> list[dict[str, Any]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    started = time.monotonic()
    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise UnreadableFile(f"PDF has {len(reader.pages):,} pages; the limit is {MAX_PDF_PAGES}")
        pages: list[str] = []
        for page in reader.pages:
            pages.append((page.extract_text() or "").strip())
            if time.monotonic() - started > MAX_PDF_SECONDS:
                raise UnreadableFile(f"PDF took over {MAX_PDF_SECONDS:.0f} s to read; stopped")
            if sum(map(len, pages)) > MAX_TEXT_CHARS:
                raise UnreadableFile(f"PDF holds over {MAX_TEXT_CHARS:,} characters of text")
        meta = reader.metadata
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise UnreadableFile(f"unreadable PDF ({exc})") from exc
    body = "\n\n".join(p for p in pages if p)
    if not body.strip():
        raise UnreadableFile("PDF has no extractable text (scanned images?)")
    title = (meta.title if meta and meta.title else None) or body.strip().split("\n", 1)[0][:120]
    return [
        {
            "title": title.strip(),
            "text": body.strip(),
            "author": meta.author if meta and meta.author else None,
            "published_at": parse_date(meta.creation_date) if meta and meta.creation_date else None,
        }
    ]


def _load_records(path: Path, data: bytes) -> list[dict[str, Any]]:
    stories = []
    for record in records.read(path, _decode(data)):
        if not isinstance(record, dict):
            continue
        found = records.fields(record)
        story: dict[str, Any] = {field: values[0] if values else None for field, values in found.items()}
        body = story["text"]
        if not isinstance(body, str) or not body.strip():
            continue
        story["text"] = body.strip()
        story["title"] = str(story["title"] or _short_title(body)).strip()
        dates = (parse_date(value) for value in found["published_at"])
        story["published_at"] = next((d for d in dates if d is not None), None)
        for key in ("source", "author", "url", "category"):
            story[key] = str(story[key]).strip() if story[key] not in (None, "") else None
        stories.append(story)
    if not stories:
        raise UnreadableFile(
            "no records with a non-empty text field (" + ", ".join(records.ALIASES["text"]) + ")"
        )
    return stories


_LOADERS = {
    ".txt": _load_text,
    ".md": _load_text,
    ".markdown": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".json": _load_records,
    ".jsonl": _load_records,
    ".csv": _load_records,
    ".tsv": _load_records,
}


def load_bytes(path: Path, data: bytes, origin: str | None = None) -> list[Article]:
    """Turn one file's bytes into articles; raises ``UnreadableFile`` or ``UnsupportedFile``."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UnsupportedFile(
            f"Unsupported file type '{path.suffix or path.name}'; supported: "
            + ", ".join(sorted(SUPPORTED_SUFFIXES))
        )
    origin = origin or str(path)
    key_base = str(path.resolve())
    articles = []
    stories = loader(path, data)
    for index, story in enumerate(stories):
        # Records with a URL keep their id when a JSON file is reordered.
        key = f"{key_base}#{story.get('url') or index}"
        # A NUL cannot be stored by Postgres and cuts SQLite's text functions short: dropped.
        story = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in story.items()}
        article = Article(
            id=article_id(key),
            title=story["title"],
            text=story["text"],
            source=story.get("source"),
            author=story.get("author"),
            published_at=story.get("published_at"),
            url=story.get("url"),
            category=story.get("category"),
            origin=f"{origin}#{index}" if len(stories) > 1 else origin,
        )
        article.content_hash = content_hash(article)
        articles.append(article)
    return _dedupe_ids(articles)


def _dedupe_ids(articles: list[Article]) -> list[Article]:
    seen: dict[str, int] = {}
    for article in articles:
        n = seen.get(article.id, 0)
        seen[article.id] = n + 1
        if n:
            article.id = article_id(f"{article.id}#{n}")
    return articles


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes | None, str | None]]:
    """Yield (path, bytes, None) or (path, None, reason) for each discovered file."""
    for path in discover(paths):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            yield path, None, f"unsupported file type '{path.suffix or path.name}'"
            continue
        try:
            yield path, path.read_bytes(), None
        except OSError as exc:
            yield path, None, f"unreadable ({exc.strerror or exc})"
