"""The case record's database: which URL, an engine for it, and its migrations.

The URL is ``--db``, else ``CITYWATCH_DB``, else ``store.url`` in cameras.yaml, else
``sqlite:///var/citywatch.db`` (in WAL mode, so readers do not block the store). Every failure
to open or reach it is a ``StoreError`` that says what to fix, with any password hidden.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from streams.config.store import DEFAULT_URL
from streams.contract.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIX = "check --db, CITYWATCH_DB or store.url in cameras.yaml"
EXAMPLES = "sqlite:///var/citywatch.db, postgresql+psycopg://USER@HOST/DB or mysql+pymysql://USER@HOST/DB"


def database_url(option: str | None, configured: str | None) -> str:
    """``--db``, else ``CITYWATCH_DB``, else the configuration's ``store.url``, else the default."""
    return option or os.environ.get("CITYWATCH_DB") or configured or DEFAULT_URL


def shown(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def json_text(value: Any) -> str:
    """A JSON column's text: a record (the mapping keeps the decoded model) serialised once by
    pydantic, which gives the same JSON as its ``to_dict()``; anything else as ``json.dumps``."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value)


def _wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _parsed(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL; {FIX} (e.g. {EXAMPLES})") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise StoreError(
            f"{shown(parsed)}: the case record runs on SQLite, PostgreSQL or MySQL/MariaDB; {FIX} "
            f"(e.g. {EXAMPLES})"
        )
    return parsed


def open_engine(url: str) -> Engine:
    """An engine on ``url`` that has answered once; ``StoreError`` saying what to fix if not."""
    parsed = _parsed(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True, json_serializer=json_text)
    except NoSuchModuleError:
        raise StoreError(f"{shown(parsed)}: unknown database driver; {FIX} (e.g. {EXAMPLES})") from None
    except ImportError as exc:
        raise StoreError(
            f"{shown(parsed)}: its driver is not installed ({exc}); install citywatch's dependencies "
            "(pip install -e .) or use the +psycopg / +pymysql driver"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _wal)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(
            f"cannot reach the database {shown(parsed)} ({reason}); start its server, create the "
            f"database and grant the user access, or {FIX}"
        ) from None
    return engine


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; the revision it is at afterwards."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        logger.info("%s: migrated to %s", shown(engine.url), revision)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"cannot migrate {shown(engine.url)} ({reason}); {FIX}") from None
    return current(engine)


def current(engine: Engine) -> str | None:
    """The database's migration revision (None: never migrated)."""
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the case record (tables not created yet count 0)."""
    from sqlalchemy import func, inspect, select

    from streams.store.schema import metadata

    have = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for name, table in metadata.tables.items():
            counts[name] = (
                int(conn.execute(select(func.count()).select_from(table)).scalar_one()) if name in have else 0
            )
    return counts


class LazyEngine:
    """An engine on ``url`` opened on first use, then kept: the web opens the case record only
    when a report asks for it (from a worker thread: opening it reaches the server)."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = open_engine(self.url)
            return self._engine
