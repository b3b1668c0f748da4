"""Idempotent writes of merged rows, one statement per table, in the dialect's own upsert.

SQLite and PostgreSQL: ``INSERT … ON CONFLICT``; MySQL and MariaDB: ``INSERT … ON DUPLICATE
KEY UPDATE``. A row that only accumulates is inserted once and never changed; a versioned row
is replaced only by a larger version. Writing the same rows again changes nothing. Each
statement is built once per table and dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table, case
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from streams.store import schema
from streams.store.database import json_text


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


@cache  # a handful: tables times dialects
def statement(table: Table, dialect: str) -> Insert:
    """The upsert of ``table`` for the dialect's name (``sqlite``, ``postgresql``, ``mysql``)."""
    if dialect == "sqlite":
        return _on_conflict(table, sqlite)
    if dialect == "postgresql":
        return _on_conflict(table, postgresql)
    if dialect in ("mysql", "mariadb"):
        return _on_duplicate(table)
    raise ValueError(f"no upsert for the {dialect} dialect; use sqlite, postgresql or mysql/mariadb")


@dataclass(frozen=True)
class _Compiled:
    """An INSERT compiled for one dialect, and how a row becomes its driver's parameters."""

    sql: str
    params: Callable[[dict[str, Any]], Any]


@lru_cache(maxsize=256)  # statements (kept by their makers) times the dialects (engines) in use
def _compiled(stmt: Insert, dialect: Dialect) -> _Compiled:
    compiled = stmt.compile(dialect=dialect)
    json = {c.name for c in stmt.table.columns if isinstance(c.type, JSON)}
    if compiled.positiontup is not None:  # SQLite's "?", PyMySQL's "%s": a tuple in the statement's order
        order = list(compiled.positiontup)
        get = itemgetter(*order)
        at = [i for i, name in enumerate(order) if name in json]

        def positional(row: dict[str, Any]) -> Any:
            values = get(row)
            if not at:
                return values
            listed = list(values)
            for i in at:
                listed[i] = json_text(listed[i])
            return tuple(listed)

        return _Compiled(str(compiled), positional)
    names = list(compiled.binds)  # psycopg's "%(name)s": the columns' names

    def named(row: dict[str, Any]) -> dict[str, Any]:
        values = {name: row[name] for name in names}
        for name in json & values.keys():
            values[name] = json_text(values[name])
        return values

    return _Compiled(str(compiled), named)


def execute_many(conn: Connection, stmt: Insert, rows: list[dict[str, Any]]) -> None:
    """``stmt`` (an INSERT of one table's columns, built once and kept) for each of ``rows``.

    Compiled once per dialect; the rows go to the driver's executemany as its parameters, JSON
    columns already text (``json_text``): the case record's columns are text, numbers and JSON,
    which need nothing else of SQLAlchemy's per-row processing."""
    compiled = _compiled(stmt, conn.dialect)
    conn.exec_driver_sql(compiled.sql, [compiled.params(row) for row in rows])


def write(conn: Connection, merged: dict[str, list[dict[str, Any]]]) -> int:
    """Write ``writer.merge``'s rows inside the caller's transaction; the number of rows given."""
    written = 0
    for name, table in schema.metadata.tables.items():  # a fixed order: the same locks in the same order
        rows = merged.get(name)
        if rows:
            execute_many(conn, statement(table, conn.dialect.name), rows)
            written += len(rows)
    return written
