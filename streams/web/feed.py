"""The board's reader: every partition of alerts, dispatch, dispatch-updates,
broadcast-decisions (and violations, for latency), from the beginning.

It is a plain consumer without a group, so each worker's board shows the whole
district, whichever partitions its agents own. ``handle`` is the pure part:
decode one record, update the board, tell live clients, measure latency.

A record the board cannot read, whatever the reason (malformed, deeply nested,
a number too long to convert, a field of the wrong type), is skipped and counted:
it never stops the reader. When the reader does stop (the broker went away), it
starts again where it was, not from the beginning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from streams import kafka_security
from streams.contract.errors import RecordError
from streams.contract.records import (
    Alert,
    BroadcastDecision,
    DispatchCase,
    DispatchUpdate,
    Violation,
    decode,
)
from streams.contract.timeutil import from_iso
from streams.contract.topics import Topics
from streams.web.board import Board, Event
from streams.web.events import Hub
from streams.web.metrics import Histogram

logger = logging.getLogger(__name__)

SKEW_S = 2.0  # records older than the feed's start (minus this) are history: not measured


def latency_histograms() -> dict[str, Histogram]:
    return {
        "violation": Histogram(
            "citywatch_detection_to_violation_seconds",
            "Frame captured (violation event time) to the violation record on Kafka",
        ),
        "alert": Histogram(
            "citywatch_event_to_alert_seconds",
            "Event time of an incident change to its alert record on Kafka",
        ),
        "board": Histogram(
            "citywatch_alert_to_board_seconds",
            "Alert record on Kafka to the board and its live clients (this worker)",
        ),
        "broadcast": Histogram(
            "citywatch_broadcast_decision_seconds",
            "Operator broadcast sent from this worker's web to its policy decision on the board",
        ),
    }


class Feed:
    def __init__(
        self,
        topics: Topics,
        board: Board,
        hub: Hub,
        latency: dict[str, Histogram],
        pending_broadcasts: dict[str, float],
        evidence_url: Callable[[str], str | None],
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics = topics
        self.board = board
        self.hub = hub
        self.latency = latency
        self.pending = pending_broadcasts
        self.evidence_url = evidence_url
        self.wall = wall
        self.monotonic = monotonic
        self.started_at = wall()
        self.skipped = 0
        self.read = 0
        self.lag: dict[str, int] = {}
        self.caught_up = False
        self.positions: dict[tuple[str, int], int] = {}  # next offset to read, per partition

    @property
    def names(self) -> list[str]:
        t = self.topics
        return [t.alerts, t.dispatch, t.dispatch_updates, t.broadcast_decisions, t.violations]

    def handle(self, topic: str, value: bytes | None, timestamp_ms: int | None) -> Event | None:
        """Apply one record to the board; return the live event it caused (already published)."""
        self.read += 1
        produced = (timestamp_ms or 0) / 1000.0
        fresh = produced >= self.started_at - SKEW_S
        t = self.topics
        event: Event | None = None
        try:  # whatever a hostile record makes the decoder or the board raise, it is skipped
            if value is None:
                raise RecordError("record", "<payload>", "empty value")
            if topic == t.alerts:
                alert = decode(Alert, value)
                event = self.board.apply_alert(alert.to_dict())
                if fresh:
                    self.latency["alert"].observe(produced - from_iso(alert.updated_at))
                    self.latency["board"].observe(self.wall() - produced)
            elif topic == t.dispatch:
                event = self.board.apply_case(decode(DispatchCase, value).to_dict())
            elif topic == t.dispatch_updates:
                event = self.board.apply_update(decode(DispatchUpdate, value).to_dict())
            elif topic == t.broadcast_decisions:
                decision = decode(BroadcastDecision, value)
                event = self.board.apply_decision(decision.to_dict())
                sent_at = self.pending.pop(decision.request_id, None)
                if sent_at is not None:
                    self.latency["broadcast"].observe(self.monotonic() - sent_at)
            elif topic == t.violations:
                violation = decode(Violation, value)
                if fresh:
                    self.latency["violation"].observe(produced - from_iso(violation.at))
        except Exception as exc:  # one bad record must not stop the board
            self.skipped += 1
            logger.warning("web: skipped a record of %s the board cannot read: %s", topic, _reason(exc))
            return None
        if event is None:
            return None
        try:
            self._publish(event)
        except Exception:  # a record that went on the board but cannot be shown live
            self.skipped += 1
            logger.exception("web: a record of %s is on the board but was not sent live", topic)
        return event

    def _publish(self, event: Event) -> None:
        if event.kind == "alert":  # live clients get the incident as the API shows it
            event = Event(
                "alert",
                self.board.view(event.data, self.evidence_url, self.wall()),
                event.units,
                event.incident_id,
            )
        self.hub.publish(event)
        if event.kind == "update":  # a patrol photo changes how its incident looks
            current = self.board.by_case(str(event.data["case_id"]))
            if current is not None:
                incident_id = str(current["incident_id"])
                unit = self.board.assigned(incident_id)
                units = frozenset({unit}) if unit else frozenset()
                self.hub.publish(
                    Event(
                        "alert", self.board.view(current, self.evidence_url, self.wall()), units, incident_id
                    )
                )

    async def run(self, bootstrap: str) -> None:
        """Read until cancelled."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            client_id="citywatch-web",
            **kafka_security.aiokafka(),
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the metadata partitions_for_topic needs
            tps: list[Any] = []
            for name in self.names:
                parts = consumer.partitions_for_topic(name) or set()
                if not parts:
                    logger.warning("web: topic %s does not exist yet; the board will not show it", name)
                tps += [TopicPartition(name, p) for p in sorted(parts)]
            consumer.assign(tps)
            fresh = [tp for tp in tps if (tp.topic, tp.partition) not in self.positions]
            starts = await consumer.beginning_offsets(fresh) if fresh else {}
            for tp in tps:  # explicit offsets: where it was after a restart of the reader, else the beginning
                consumer.seek(tp, self.positions.get((tp.topic, tp.partition), int(starts.get(tp) or 0)))
            logger.info("web: board reads %d partitions of %d topics", len(tps), len(self.names))
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batch.items():
                    for rec in records:
                        self.handle(tp.topic, rec.value, rec.timestamp)
                        self.positions[(tp.topic, tp.partition)] = rec.offset + 1
                lag: dict[str, int] = {}
                for tp in tps:
                    high = consumer.highwater(tp)
                    if high is None:
                        continue
                    position = await consumer.position(tp)
                    lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - position)
                self.lag = lag
                if not batch:
                    self.caught_up = True
                    await asyncio.sleep(0)
        finally:
            await consumer.stop()


def _reason(exc: BaseException) -> str:
    """A short reason: some messages (a huge number, a deep nesting) are long themselves."""
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RecordError) else str(exc)
    return text if len(text) <= 300 else text[:300] + "…"
