"""The casesync role: dispatched cases and their later stages into the city's case system.

Consumes citywatch.dispatch and citywatch.alerts (consumer group <prefix>casesync), one record
at a time: its case (streams/casesync/mapping.py) is pushed until the case system accepts it
(2xx, or 409: accepted before), then the record's offset is committed. A record that is not a
case, or a case the system refuses for good (another 4xx), is dead-lettered with the reason and
the loop goes on. A crash before a commit pushes the case again: its idempotency key makes
that a 409 the role takes as accepted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streams.casesync.client import CaseClient
from streams.casesync.mapping import CaseView, from_alert, from_dispatch
from streams.contract.errors import RecordError
from streams.contract.records import dead_letter
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard, close_quietly, group_consumer
from streams.kafka_io import producer as make_producer

logger = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000  # cases whose latest pushed stage is remembered (older ones: a 409 again)


@dataclass(frozen=True)
class SyncOptions:
    bootstrap: str
    topics: Topics
    group_id: str = ""  # default: <prefix>casesync

    def group(self) -> str:
        return self.group_id or f"{self.topics.prefix}casesync"


class Pushed:
    """The latest stage pushed per case, for the ``MAX_REMEMBERED`` most recent cases: an alert
    repeating a stage already accepted is not pushed again."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._stages: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._stages)

    def done(self, view: CaseView) -> bool:
        return self._stages.get(view.case_id, 0) >= view.revision

    def add(self, view: CaseView) -> None:
        self._stages[view.case_id] = max(view.revision, self._stages.get(view.case_id, 0))
        self._stages.move_to_end(view.case_id)
        while len(self._stages) > self.limit:
            self._stages.popitem(last=False)


def case_of(suffix: str, value: bytes) -> CaseView | None:
    """The case a record brings (None: nothing to push); RecordError for a malformed record."""
    return from_dispatch(value) if suffix == "dispatch" else from_alert(value)


class CaseSync:
    def __init__(self, client: CaseClient, options: SyncOptions) -> None:
        self.client = client
        self.options = options
        self.stats: Counter[str] = Counter()
        self.pushed = Pushed()
        self._suffix = {options.topics.dispatch: "dispatch", options.topics.alerts: "alerts"}
        self._consumer: Any = None
        self._producer: Any = None
        self.on_round: Callable[[Any], None] | None = None  # after each poll, with the consumer (health)

    def run(self, stop: threading.Event, duration_s: float | None = None) -> Counter[str]:
        self._consumer = group_consumer(
            self.options.bootstrap,
            self.options.group(),
            "citywatch-casesync",
            max_poll_records=1,
            # a push may wait long for the case system: the role stays in its group meanwhile
            max_poll_interval_ms=3_600_000,
            session_timeout_ms=6_000,
        )
        self._producer = make_producer(self.options.bootstrap, client_id="citywatch-casesync")
        self._consumer.subscribe(sorted(self._suffix))
        logger.info("casesync: %s -> %s, group %s", ", ".join(self._suffix), self.client.cfg.url,
                    self.options.group())  # fmt: skip
        deadline = None if duration_s is None else time.monotonic() + duration_s
        guard = PollGuard("casesync", stop)
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                for records in guard.poll(self._consumer, 200).values():
                    for rec in records:
                        if not self.handle(rec, stop):
                            return self.stats
                if self.on_round is not None and guard.ok:
                    self.on_round(self._consumer)
        finally:
            close_quietly("casesync", lambda: self._consumer.close(autocommit=False))
            close_quietly("casesync", lambda: self._producer.close(timeout=5))
            logger.info("casesync stopped: %s", self.summary())
        return self.stats

    def summary(self) -> str:
        keys = ("records", "accepted", "duplicates", "skipped", "deadletters", "retries")
        return " ".join(f"{k}={self.stats[k]}" for k in keys)

    def handle(self, rec: Any, stop: threading.Event) -> bool:
        """Push one record's case and commit it; False when ``stop`` came before it was accepted
        (nothing is committed: it is pushed again on the next start)."""
        self.stats["records"] += 1
        try:
            view = case_of(self._suffix[rec.topic], rec.value)
        except RecordError as exc:
            return self._dead_letter(rec, str(exc))
        if view is None or self.pushed.done(view):
            self.stats["skipped"] += 1
            return self._commit(rec)
        before = self.client.failures
        result = self.client.push(view, stop)
        self.stats["retries"] += self.client.failures - before
        if result.outcome == "stopped":
            return False
        if result.outcome == "refused":
            return self._dead_letter(rec, result.reason)
        self.stats["accepted" if result.outcome == "accepted" else "duplicates"] += 1
        self.pushed.add(view)
        logger.info("casesync: case %s %s", view.key, result.outcome)
        return self._commit(rec)

    def _dead_letter(self, rec: Any, reason: str) -> bool:
        logger.warning("dead-lettering %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, reason)
        letter = dead_letter(rec.topic, rec.partition, rec.offset, reason, rec.value)
        try:
            self._producer.send(
                self.options.topics.deadletter, key=rec.topic.encode(), value=letter.to_bytes()
            ).get(timeout=10)
        except KafkaError as exc:  # not committed: the record comes again
            logger.error("casesync: dead letter not written (%s); the record is read again", exc)
            self._consumer.seek(TopicPartition(rec.topic, rec.partition), rec.offset)
            return True
        self.stats["deadletters"] += 1
        return self._commit(rec)

    def _commit(self, rec: Any) -> bool:
        tp = TopicPartition(rec.topic, rec.partition)
        try:
            self._consumer.commit({tp: OffsetAndMetadata(rec.offset + 1, "", -1)})
        except KafkaError as exc:
            logger.warning("casesync: offset commit failed (%s); the case may be pushed again (a 409)", exc)
        return True
