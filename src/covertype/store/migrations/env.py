"""Alembic environment: migrate on the connection :func:`covertype.store.migrate.upgrade_schema` passes."""

from __future__ import annotations

from alembic import context

from covertype.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store's migrations with `covertype db upgrade`, which passes the connection")
# Batch mode lets ALTER-like operations work on SQLite (which rebuilds the table for them).
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
