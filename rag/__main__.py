"""``python -m rag`` runs the CLI."""

from rag.cli import app

app()
