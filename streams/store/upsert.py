"""Idempotent writes of merged rows, one statement per table, in the dialect's own upsert.

SQLite and PostgreSQL: ``INSERT … ON CONFLICT``; MySQL and MariaDB: ``INSERT … ON DUPLICATE
KEY UPDATE``. A row that only accumulates is inserted once and never changed; a versioned row
is replaced only by a larger version. Writing the same rows again changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, case
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from streams.store import schema


def _on_conflict(table: Table, module: Any) -> Insert:
    stmt = module.insert(table)
    keys = [c.name for c in table.primary_key]
    order = schema.VERSIONED.get(table.name)
    if order is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)  # type: ignore[no-any-return]
    changed = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    newer = table.c[order] < stmt.excluded[order]
    return stmt.on_conflict_do_update(index_elements=keys, set_=changed, where=newer)  # type: ignore[no-any-return]


def _on_duplicate(table: Table) -> Insert:
    stmt = mysql.insert(table)
    keys = [c.name for c in table.primary_key]
    order = schema.VERSIONED.get(table.name)
    if order is None:
        return stmt.on_duplicate_key_update({keys[0]: table.c[keys[0]]})
    newer = stmt.inserted[order] > table.c[order]
    # MySQL assigns left to right and later assignments see earlier ones: the version goes last
    sets = [
        (c.name, case((newer, stmt.inserted[c.name]), else_=table.c[c.name]))
        for c in table.columns
        if c.name not in keys and c.name != order
    ]
    sets.append((order, case((newer, stmt.inserted[order]), else_=table.c[order])))
    return stmt.on_duplicate_key_update(sets)


def statement(table: Table, dialect: str) -> Insert:
    """The upsert of ``table`` for the dialect's name (``sqlite``, ``postgresql``, ``mysql``)."""
    if dialect == "sqlite":
        return _on_conflict(table, sqlite)
    if dialect == "postgresql":
        return _on_conflict(table, postgresql)
    if dialect in ("mysql", "mariadb"):
        return _on_duplicate(table)
    raise ValueError(f"no upsert for the {dialect} dialect; use sqlite, postgresql or mysql/mariadb")


def write(conn: Connection, merged: dict[str, list[dict[str, Any]]]) -> int:
    """Write ``writer.merge``'s rows inside the caller's transaction; the number of rows given."""
    written = 0
    for name in schema.metadata.tables:  # a fixed order: the same locks in the same order
        rows = merged.get(name)
        if rows:
            conn.execute(statement(schema.metadata.tables[name], conn.dialect.name), rows)
            written += len(rows)
    return written
