"""Research summaries: gather the evidence on a topic (``evidence``), make key points of it
(``points``), a timeline (``timeline``), sources, coverage and gaps (``summarizer``), and render
the result as Markdown or HTML (``report``)."""

from __future__ import annotations

from rag.summary.models import Summary, clean_topic
from rag.summary.report import render
from rag.summary.summarizer import Summarizer

__all__ = ["Summarizer", "Summary", "clean_topic", "render"]
