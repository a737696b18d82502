"""Rendering: a ``Summary`` -> Markdown, a self-contained HTML page, or JSON.

Both documents are rendered from the summary's JSON shape only (no engine access), with the
Jinja2 templates in ``rag/templates/``; the HTML one autoescapes every corpus string, carries
its own CSS (screen and print) and links each ``[n]`` marker to its quote and each source to
its URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader

from rag.summary.models import Summary

Format = Literal["md", "html", "json"]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _scope(summary: Summary) -> str:
    described = summary.filters.describe()
    return f", {described}" if described else ""


_TEMPLATES = FileSystemLoader(Path(__file__).parent / "templates")
_markdown = Environment(loader=_TEMPLATES, autoescape=False, keep_trailing_newline=True).get_template(
    "summary.md.j2"
)
_html = Environment(loader=_TEMPLATES, autoescape=True, trim_blocks=True, lstrip_blocks=True).get_template(
    "summary.html.j2"
)


def render(summary: Summary, fmt: Format) -> str:
    """The summary as ``md``, ``html`` or ``json`` text."""
    if fmt == "json":
        return summary.model_dump_json(indent=2) + "\n"
    if fmt == "html":
        return _html.render(s=summary, scope=_scope(summary))
    return _markdown.render(s=summary, scope=_scope(summary), cell=_cell)
