"""The case record opened for reading, by the web and the patrol: never created, never migrated.

``HistoryReader(url)`` opens the database on first use (found by the store's own rule,
``database.database_url``) and runs read functions on a connection. A SQLite file is opened
read-only (``mode=ro``): a missing file stays missing. A database that is absent, unreachable
or not migrated yet is a ``StoreError`` that says what to start or fix; the reader tries again
on a later call (not before ``retry_s``), so the database may come up after its readers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from streams.contract.errors import StoreError
from streams.store.database import FIX, shown

logger = logging.getLogger(__name__)

T = TypeVar("T")
NEEDED = ("incidents", "incident_events", "evidence", "cases", "case_updates", "broadcast_decisions")
CONNECT_TIMEOUT_S = 5
START = "start `citywatch store` (it creates and migrates the database)"


def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def read_only_engine(url: str) -> Engine:
    """An engine that reads the case record at ``url``; ``StoreError`` saying what to fix."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL; {FIX}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise StoreError(
            f"{shown(parsed)}: the case record runs on SQLite, PostgreSQL or MySQL/MariaDB; {FIX}"
        )
    try:
        if backend == "sqlite":
            engine = create_engine(_sqlite_read_only(parsed))
            event.listen(engine, "connect", _busy_timeout)
        else:
            engine = create_engine(
                parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
            )
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"{shown(parsed)}: its database driver is missing ({exc}); {FIX}") from None
    try:
        with engine.connect() as conn:
            missing = [t for t in NEEDED if not inspect(conn).has_table(t)]
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot read the case record {shown(parsed)} ({_reason(exc)}); {START}, or {FIX}"
        ) from None
    if missing:
        engine.dispose()
        raise StoreError(
            f"the case record {shown(parsed)} has no {', '.join(missing)} table yet; {START} "
            "or run `citywatch db upgrade`"
        )
    return engine


def _sqlite_read_only(parsed: URL) -> URL:
    name = parsed.database
    if name in (None, "", ":memory:") or str(name).startswith("file:"):
        raise StoreError(f"{shown(parsed)}: the history needs the store's database file; {FIX}")
    path = Path(str(name)).resolve()
    if not path.is_file():
        raise StoreError(f"no case record at {path}; {START}, or {FIX}")
    return URL.create("sqlite", database=path.as_uri(), query={"mode": "ro", "uri": "true"})


class HistoryReader:
    """Runs read functions on the case record; opens it lazily and again after a failure."""

    def __init__(self, url: str, *, retry_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic):
        self.url = url
        self.retry_s = retry_s
        self.monotonic = monotonic
        self._engine: Engine | None = None
        self._failed: tuple[float, StoreError] | None = None
        self._lock = threading.Lock()

    def where(self) -> str:
        return shown(self.url)

    def _open(self) -> Engine:
        with self._lock:
            if self._engine is not None:
                return self._engine
            if self._failed is not None and self.monotonic() - self._failed[0] < self.retry_s:
                raise self._failed[1]
            try:
                self._engine = read_only_engine(self.url)
            except StoreError as exc:
                self._failed = (self.monotonic(), exc)
                raise
            self._failed = None
            logger.info("history: reading the case record %s", shown(self.url))
            return self._engine

    def run(self, read: Callable[[Connection], T]) -> T:
        """``read(connection)``; ``StoreError`` when the database cannot answer."""
        engine = self._open()
        try:
            with engine.connect() as conn:
                return read(conn)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"the case record {shown(self.url)} did not answer ({_reason(exc)}); {FIX}"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
