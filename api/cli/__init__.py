"""The ``rag`` command line (Typer): a transport over the engine, like the HTTP routes and the
Slack bot. Commands live in small modules by topic; importing them registers them on ``app``."""

from __future__ import annotations

from api.cli import admin, corpus, questions, serve, sources, verify
from api.cli.app import app

__all__ = ["admin", "app", "corpus", "questions", "serve", "sources", "verify"]
