"""Alembic migrations of the one database (``rag.store.database`` runs them at start-up)."""
