"""The worker re-seeds its incidents from the case record when its tables came back empty.

    worker start (tables recovered) ─┐
    broker lost its topics (repaired)┴─▶ incident table empty? and the case record holds open
        incidents ─▶ one ``restore`` input each on internal.incident-inputs (keyed by camera)
        ─▶ the incidents agent puts them back into their books (streams/logic/incident_restore.py)

A broker with memory storage forgets every topic when it restarts, the changelogs of the
worker's tables with them; the case record (``citywatch store``) still has every incident's
last alert and its case. Restore inputs carry ids derived from the incident and its stored
version, and the logic leaves an incident it already holds alone: a second re-seed, or one by
another worker, changes nothing. ``citywatch restore`` sends the same inputs by hand.

The database is read only when the table is empty; a case record that is not there (no
SQLite file, no tables yet) or does not answer is logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from streams.contract.errors import StoreError
from streams.contract.timeutil import to_iso
from streams.worker.resilience import send_all_acked

if TYPE_CHECKING:
    from streams.store.restore import OpenIncident
    from streams.worker import Worker
    from streams.worker.resilience import BrokerWatch

logger = logging.getLogger(__name__)

READY_POLL_S = 1.0  # how often the start waits for the tables' recovery
BATCH = 200  # restore inputs acknowledged together


def read_open_incidents(url: str) -> list[OpenIncident] | None:
    """The case record's open incidents (blocking); None when there is no case record to read."""
    from streams.store.database import open_engine, shown
    from streams.store.restore import has_tables, open_incidents

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        logger.info("no case record at %s: nothing to restore from", shown(url))
        return None
    engine = open_engine(url)
    try:
        if not has_tables(engine):
            logger.info("%s holds no case record yet: nothing to restore from", shown(url))
            return None
        return open_incidents(engine)
    finally:
        engine.dispose()


class Restorer:
    """Re-seeds the worker's empty incident table from the case record at ``url``."""

    def __init__(self, worker: Worker, url: str) -> None:
        self.worker = worker
        self.url = url
        self.topic = worker.topic(worker.topics.incident_inputs)
        self.restored = 0  # restore inputs sent, in all

    def table_empty(self) -> bool:
        table: Any = self.worker.tables["incidents"]
        return len(table.data) == 0

    async def restore_if_empty(self, why: str) -> int:
        """Send a restore input for every open incident of the case record; how many were sent."""
        from streams.store.restore import restore_inputs

        if not self.table_empty():
            return 0
        try:
            found = await asyncio.to_thread(read_open_incidents, self.url)
        except StoreError as exc:
            logger.warning("%s, and the case record cannot be read to restore incidents: %s", why, exc)
            return 0
        if not found:
            return 0
        inputs = restore_inputs(found, to_iso(time.time()))
        for start in range(0, len(inputs), BATCH):
            records = [(key.encode(), _json(value)) for key, value in inputs[start : start + BATCH]]
            await send_all_acked(self.topic, records)
        with_case = sum(1 for o in found if o.case is not None)
        logger.warning(
            "%s with an empty incident table: %d open incidents (%d with an open case) re-seeded from "
            "the case record",
            why,
            len(inputs),
            with_case,
        )
        self.restored += len(inputs)
        return len(inputs)

    async def on_start(self) -> None:
        """Once this worker's tables are recovered: restore if they came back empty."""
        while not _ready(self.worker.app):
            await asyncio.sleep(READY_POLL_S)
        await self._guarded("worker started")

    async def _guarded(self, why: str) -> None:
        try:
            await self.restore_if_empty(why)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next start or broker loss tries again; `citywatch restore` by hand
            logger.exception("%s: restoring incidents from the case record failed", why)

    async def on_lost(self) -> None:
        await self._guarded("the broker lost its topics")


def _json(value: dict[str, Any]) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False).encode()


def _ready(app: Any) -> bool:
    """The consumer has partitions and the tables finished recovering them."""
    try:
        recovery = app.tables.recovery
        return bool(app.consumer.assignment()) and recovery.completed.is_set() and not app.in_recovery
    except Exception:  # the consumer is not started yet
        return False


def install(worker: Worker, url: str, watch: BrokerWatch | None = None) -> Restorer:
    """Restore from the case record at ``url`` on start and after the broker lost its topics."""
    restorer = Restorer(worker, url)
    worker.app.task(restorer.on_start)
    if watch is not None:
        watch.after_lost.append(restorer.on_lost)
    return restorer
