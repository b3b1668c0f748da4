"""The store role: the contract's history topics into the case record.

One batch at a time: poll, map every record to rows (a record that cannot be stored is
dead-lettered), write the rows in one transaction, publish the dead letters, then commit the
offsets. A crash anywhere before the commit redelivers the batch, and the idempotent writes
(``upsert``) make that change nothing. A database that fails rewinds the batch and retries it
after a pause; a batch that the database refuses for one record's values is written in halves,
halved again where refused, down to the one record refused, which is dead-lettered.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from streams.contract.errors import RecordError
from streams.contract.records import dead_letter
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard, close_quietly, group_consumer
from streams.kafka_io import producer as make_producer
from streams.store import retention, upsert, writer
from streams.store.database import shown

logger = logging.getLogger(__name__)

REFUSED = (DataError, IntegrityError)  # the database refuses these values: a record's fault


def freeze_startup() -> None:
    """Take what the process holds after starting (modules, models' schemas, the engine) out of
    the garbage collector's full collections: it lives as long as the process, and walking it
    again in every full collection cost the store about a third of its time while writing a
    backlog (``citywatch bench store`` calls this too, as the ``store`` command does)."""
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class StoreOptions:
    bootstrap: str
    topics: Topics
    group_id: str = ""  # default: <prefix>store
    retry_s: float = 2.0
    max_poll_records: int = 2000
    retention_days: float | None = None  # None: keep everything
    prune_every_s: float = 3600.0

    def group(self) -> str:
        return self.group_id or f"{self.topics.prefix}store"


class StoreStats(Counter[str]):
    """records read, rows written, deadletters, retries (of a batch), batches committed."""

    def summary(self) -> str:
        return " ".join(f"{k}={self[k]}" for k in ("records", "rows", "deadletters", "retries", "batches"))


@dataclass
class Batch:
    """One poll's records: their rows merged, their dead letters, and where each partition ends."""

    records: list[Any] = field(default_factory=list)  # those mapped to rows
    merged: writer.Merged = field(default_factory=writer.Merged)
    letters: list[tuple[Any, str]] = field(default_factory=list)
    first: dict[TopicPartition, int] = field(default_factory=dict)
    last: dict[TopicPartition, int] = field(default_factory=dict)


class Store:
    def __init__(self, engine: Engine, options: StoreOptions, sleep: Callable[[float], None] = time.sleep):
        self.engine = engine
        self.options = options
        self.sleep = sleep
        self.stats = StoreStats()
        self._suffix = {options.topics.name(s): s for s in writer.STORED}
        self._consumer: Any = None
        self._producer: Any = None
        self._next_prune = float("-inf")  # once at start, then every prune_every_s
        self.on_round: Callable[[Any], None] | None = None  # after each poll, with the consumer (health)

    def _connect(self) -> None:
        self._consumer = group_consumer(
            self.options.bootstrap,
            self.options.group(),
            "citywatch-store",
            max_poll_records=self.options.max_poll_records,
            # a store killed without leaving the group is replaced within seconds, not minutes
            max_poll_interval_ms=60_000,
            session_timeout_ms=6_000,
        )
        self._producer = make_producer(self.options.bootstrap, client_id="citywatch-store")
        self._consumer.subscribe(sorted(self._suffix))

    def run(self, stop: threading.Event, duration_s: float | None = None) -> StoreStats:
        self._connect()
        where = shown(self.engine.url)
        logger.info("store: %s -> %s, group %s", ", ".join(self._suffix), where, self.options.group())
        deadline = None if duration_s is None else time.monotonic() + duration_s
        guard = PollGuard("store", stop)
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                self.maybe_prune(time.time())
                polled = guard.poll(self._consumer, 200)
                if polled:
                    self._handle(self.read(polled))
                if self.on_round is not None and guard.ok:
                    self.on_round(self._consumer)
        finally:
            close_quietly("store", lambda: self._consumer.close(autocommit=False))
            close_quietly("store", lambda: self._producer.close(timeout=5))
        logger.info("store stopped: %s", self.stats.summary())
        return self.stats

    def maybe_prune(self, now: float) -> None:
        """Apply the retention if it is due at ``now`` (epoch seconds); a failure waits for the next."""
        if self.options.retention_days is None or now < self._next_prune:
            return
        self._next_prune = now + self.options.prune_every_s
        try:
            retention.prune(self.engine, self.options.retention_days, now)
        except SQLAlchemyError as exc:
            logger.warning("retention failed (%s); tried again in %.0f s", exc, self.options.prune_every_s)
            return
        self.stats["prunes"] += 1

    def read(self, polled: dict[Any, list[Any]]) -> Batch:
        """One poll's records (``topic``, ``partition``, ``offset``, ``value``) as rows, and as
        dead letters where a record cannot be stored."""
        batch = Batch()
        for records in polled.values():
            for rec in records:
                tp = TopicPartition(rec.topic, rec.partition)
                batch.first.setdefault(tp, rec.offset)
                batch.last[tp] = rec.offset
                try:
                    batch.merged.add(writer.rows_of(self._suffix[rec.topic], rec.value))
                except RecordError as exc:
                    batch.letters.append((rec, str(exc)))
                else:
                    batch.records.append(rec)
        self.stats["records"] += sum(len(r) for r in polled.values())
        return batch

    def _handle(self, batch: Batch) -> None:
        try:
            self.write(batch)
            self._publish(batch.letters)
        except (SQLAlchemyError, KafkaError) as exc:
            self._rewind(batch, exc)
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in batch.last.items()})
        except KafkaError as exc:
            logger.warning("offset commit failed (%s); the batch will be redelivered, changing nothing", exc)
        self.stats["batches"] += 1

    def write(self, batch: Batch) -> None:
        """The batch's rows in one transaction. Where the database refuses them, the batch is
        written in halves, a refused half halved again, down to the record it refuses, which
        joins the batch's dead letters: a few transactions for one bad record, not one each."""
        try:
            with self.engine.begin() as conn:
                self.stats["rows"] += upsert.write(conn, batch.merged.tables())
        except REFUSED as exc:
            logger.warning("the database refused a batch (%s); writing it in parts", exc.orig)
            parts = []
            for rec in batch.records:  # mapped before: mapped again, each record's rows apart
                try:
                    parts.append((rec, writer.rows_of(self._suffix[rec.topic], rec.value)))
                except RecordError as error:
                    batch.letters.append((rec, str(error)))
            self._write_apart(batch, parts, exc)

    def _write_apart(self, batch: Batch, parts: list[tuple[Any, list[writer.Row]]], exc: DBAPIError) -> None:
        """``parts`` (records and their rows), refused together with ``exc``."""
        if len(parts) == 1:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            batch.letters.append((parts[0][0], f"the database refused the record: {reason}"))
            return
        half = len(parts) // 2
        for part in (parts[:half], parts[half:]):
            try:
                with self.engine.begin() as conn:
                    self.stats["rows"] += upsert.write(
                        conn, writer.merge(r for _, rows in part for r in rows)
                    )
            except REFUSED as refused:
                self._write_apart(batch, part, refused)

    def _publish(self, letters: list[tuple[Any, str]]) -> None:
        futures = []
        for rec, error in letters:
            logger.warning("dead-lettering %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, error)
            letter = dead_letter(rec.topic, rec.partition, rec.offset, error, rec.value)
            topic = self.options.topics.deadletter
            futures.append(self._producer.send(topic, key=rec.topic.encode(), value=letter.to_bytes()))
        if futures:
            self._producer.flush(timeout=10)
            for future in futures:
                future.get(timeout=0)
            self.stats["deadletters"] += len(futures)

    def _rewind(self, batch: Batch, exc: Exception) -> None:
        """Nothing of the batch is committed: read it again after a pause."""
        kind = "the database" if isinstance(exc, SQLAlchemyError) else "Kafka"
        reason = getattr(exc, "orig", None) or exc
        logger.error("%s failed (%s); the batch is read again in %.0f s", kind, reason, self.options.retry_s)
        self.stats["retries"] += 1
        assigned = self._consumer.assignment()
        for tp, offset in batch.first.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)
        self.sleep(self.options.retry_s)
