"""Alembic's environment: run on the connection ``rag.store.database`` hands over."""

from __future__ import annotations

from alembic import context

from rag.store.schema import metadata

connection = context.config.attributes["connection"]
# Batch mode: SQLite alters a table by copying it, which Alembic does for us.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
