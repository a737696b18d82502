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


def _scalar(value: Any, joiner: str = ", ") -> Any:
    """A nested value as text: NewsAPI's ``{"id", "name"}`` source, a list of authors or tags
    (a list of paragraphs, for the text, joined by ``joiner``)."""
    if isinstance(value, dict):
        for name in ("name", "title", "value", "id"):
            if value.get(name) not in (None, ""):
                return value[name]
        return None
    if isinstance(value, list):
        parts = [str(part) for part in map(_scalar, value) if part not in (None, "")]
        return joiner.join(parts) or None
    return value


def fields(record: dict[str, Any]) -> dict[str, list[Any]]:
    """Every value ``record`` holds for each of ``text, title, source, author, published_at,
    url, category``, in the order of its names: a caller that cannot use the first (a CMS's
    ``"published": true``) tries the next (``"date"``)."""
    by_key = {_key(str(k)): v for k, v in record.items()}
    found: dict[str, list[Any]] = {}
    for field, names in ALIASES.items():
        joiner = "\n\n" if field == "text" else ", "
        values = (_scalar(by_key.get(name), joiner) for name in names)
        found[field] = [v for v in values if v not in (None, "")]
    return found


def _container(parsed: dict[str, Any]) -> list[Any]:
    by_key = {_key(str(k)): v for k, v in parsed.items()}
    for name in CONTAINERS:  # in this order, whatever the file's order
        if isinstance(by_key.get(name), list):
            return list(by_key[name])
    return [parsed]


def _table(text: str, delimiter: str) -> list[dict[str, Any]]:
    # An article body is longer than the csv module's default field limit (128 KiB).
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        # A TSV quotes nothing: a field opening with '"' is text, not the start of a quoted one.
        stream = io.StringIO(text, newline="")
        if delimiter == "\t":
            reader = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            reader = csv.DictReader(stream, delimiter=delimiter)
        names = [_key(str(n)) for n in reader.fieldnames or []]
        if not any(n in ALIASES["text"] for n in names) and len(names) < 2:
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
