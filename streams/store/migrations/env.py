"""Alembic's environment for the case record: always run in code, on the connection that
``streams.store.database.upgrade`` hands over (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from streams.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
