"""Article records from structured files: JSON, JSON Lines, CSV and TSV exports of news datasets.

News collections come with their own field names (``headline``, ``content``, ``publishedAt``,
``publication``, NewsAPI's ``source: {"name": ...}``, epoch timestamps); each field is read from
the first of its usual names present, compared without case, ``_`` or ``-``, so a user's export
loads with its outlets and dates instead of as undated, unattributed text.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from rag.errors import UnreadableFile

# Field -> the names it is read from, first match wins (normalised: lower case, no "_" or "-").
ALIASES: dict[str, tuple[str, ...]] = {
    "text": (
        "body",
        "text",
        "content",
        "article",
        "articletext",
        "articlebody",
        "fulltext",
        "maintext",
        "story",
    ),
    "title": ("title", "headline", "heading"),
    "source": (
        "source",
        "outlet",
        "publication",
        "publisher",
        "sourcename",
        "newspaper",
        "site",
        "sitename",
        "domain",
    ),
    "author": ("author", "authors", "byline", "creator", "writer"),
    "published_at": (
        "publishedat",
        "published",
        "publishdate",
        "publicationdate",
        "datepublished",
        "publisheddate",
        "pubdate",
        "date",
        "datetime",
        "timestamp",
        "time",
        "createdat",
    ),
    "url": ("url", "link", "articleurl", "uri", "permalink", "href"),
    "category": ("category", "section", "topic", "categories", "tags"),
}
# Keys of an object that wraps the list of records.
CONTAINERS = ("articles", "documents", "records", "data", "items", "results", "stories", "news")


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _scalar(value: Any) -> Any:
    """A nested value as text: NewsAPI's ``{"id", "name"}`` source, a list of authors or tags."""
    if isinstance(value, dict):
        for name in ("name", "title", "value", "id"):
            if value.get(name) not in (None, ""):
                return value[name]
        return None
    if isinstance(value, list):
        parts = [str(_scalar(v)) for v in value if _scalar(v) not in (None, "")]
        return ", ".join(parts) or None
    return value


def fields(record: dict[str, Any]) -> dict[str, Any]:
    """The record's ``text, title, source, author, published_at, url, category`` (raw values)."""
    by_key = {_key(str(k)): v for k, v in record.items()}
    found: dict[str, Any] = {}
    for field, names in ALIASES.items():
        value = None
        for name in names:
            value = _scalar(by_key.get(name))
            if value not in (None, ""):
                break
        found[field] = value
    return found


def _container(parsed: dict[str, Any]) -> list[Any]:
    for key, value in parsed.items():
        if _key(key) in CONTAINERS and isinstance(value, list):
            return list(value)
    return [parsed]


def _table(text: str, delimiter: str) -> list[dict[str, Any]]:
    # An article body is longer than the csv module's default field limit (128 KiB).
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        if not reader.fieldnames or len(reader.fieldnames) < 2:
            raise UnreadableFile("a table needs a header row naming its columns (e.g. title,body)")
        return [row for row in reader]
    except csv.Error as exc:
        raise UnreadableFile(f"malformed table ({exc})") from exc


def read(path: Path, text: str) -> list[Any]:
    """The records a structured file holds, or ``UnreadableFile`` saying why not."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _table(text, "\t" if suffix == ".tsv" else ",")
    try:
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"malformed JSON (line {exc.lineno}: {exc.msg})") from exc
    if isinstance(parsed, dict):
        return _container(parsed)
    if isinstance(parsed, list):
        return parsed
    raise UnreadableFile("JSON must hold an object or a list of objects")
