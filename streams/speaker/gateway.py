"""The Kafka edge of the loudspeaker gateway.

The poll loop only routes records (fast, pure decisions) and publishes what
the speaker workers hand back, so it never stalls long enough to be thrown out
of the consumer group. Offsets are committed after the ack (or dead letter) of
every earlier record of the partition is on the broker: at-least-once, and a
redelivered command id is not played twice by the same process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streams.config.models import Config, Speaker
from streams.contract.errors import CitywatchError, DriverError
from streams.contract.records import LoudspeakerAck, LoudspeakerCommand, Record
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard, close_quietly, group_consumer
from streams.kafka_io import producer as make_producer
from streams.speaker import delivery
from streams.speaker.drivers import Delivered, SpeakerDriver, make_driver
from streams.speaker.tts import INSTALL_HINT, EspeakEngine, SpeechEngine
from streams.speaker.worker import SpeakerWorker

logger = logging.getLogger(__name__)

DEFAULT_GROUP = "citywatch-speaker"


@dataclass(frozen=True)
class GatewayOptions:
    bootstrap: str
    topics: Topics
    group_id: str = DEFAULT_GROUP
    speakers: frozenset[str] | None = None  # None: every configured speaker
    from_beginning: bool = False
    max_poll_interval_ms: int = 10_000
    drain_timeout_s: float = 60.0


@dataclass
class GatewayStats:
    acks: Counter[str] = field(default_factory=Counter)
    deadletters: int = 0
    skipped: int = 0

    def summary(self) -> str:
        parts = [f"{k}={self.acks[k]}" for k in ("played", "failed", "expired")]
        return " ".join([*parts, f"deadletter={self.deadletters}", f"skipped={self.skipped}"])


class BrokenDriver:
    """Stands in for a driver that could not be built: every command fails with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        raise DriverError(self.reason)


def served_speakers(cfg: Config, wanted: Collection[str] | None) -> list[Speaker]:
    """The configured speakers this gateway plays; an unknown ``--speaker`` is an error."""
    known = [s.id for s in cfg.speakers]
    if wanted is not None:
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise CitywatchError(
                f"--speaker {', '.join(unknown)}: not defined under speakers: in the configuration "
                f"(defined: {', '.join(known) or 'none'})"
            )
    return [s for s in cfg.speakers if wanted is None or s.id in wanted]


@dataclass
class _Outgoing:
    topic: str
    key: str
    record: Record
    position: tuple[TopicPartition, int] | None


class Gateway:
    def __init__(
        self,
        cfg: Config,
        options: GatewayOptions,
        *,
        engine: SpeechEngine | None = None,
        driver_factory: Callable[[Speaker], SpeakerDriver] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.options = options
        self.engine: SpeechEngine = engine or EspeakEngine()
        self.clock = clock
        self.stats = GatewayStats()
        self._speakers = served_speakers(cfg, options.speakers)
        self._configured = frozenset(s.id for s in cfg.speakers)
        self._wanted = options.speakers
        self._acks: queue.Queue[tuple[LoudspeakerAck, object]] = queue.Queue()
        self._outbox: list[_Outgoing] = []  # to send
        self._pending: list[tuple[_Outgoing, Any]] = []  # sent, the broker's answer not seen yet
        self._offsets = delivery.OffsetTracker()
        self._seen = delivery.RecentIds()
        self._queued: set[tuple[TopicPartition, int]] = set()  # handed to a worker, not yet acknowledged
        self._rewound: set[TopicPartition] = set()
        self._revoking: set[TopicPartition] = set()
        self._workers: dict[str, SpeakerWorker] = {}
        for spk in self._speakers:
            try:
                driver = driver_factory(spk) if driver_factory else make_driver(spk, cfg.mqtt)
            except CitywatchError as exc:
                logger.error("%s: driver unusable, its commands will fail: %s", spk.id, exc)
                driver = BrokenDriver(str(exc))
            self._workers[spk.id] = SpeakerWorker(spk, driver, self.engine, self._on_ack, clock)
        self._consumer: Any = None
        self._producer: Any = None
        self.on_round: Callable[[Any], None] | None = None  # after each poll, with the consumer (health)

    # ---- called from worker threads -------------------------------------------------
    def _on_ack(self, ack: LoudspeakerAck, token: object) -> None:
        self._acks.put((ack, token))

    # ---- the poll loop ---------------------------------------------------------------
    def run(self, stop: threading.Event, duration_s: float | None = None) -> GatewayStats:
        if isinstance(self.engine, EspeakEngine) and self.engine.available() is None:
            logger.error(
                "espeak-ng not found: spoken commands will be acknowledged as failed; %s", INSTALL_HINT
            )
        topic = self.options.topics.loudspeaker
        self._consumer = group_consumer(
            self.options.bootstrap,
            self.options.group_id,
            "citywatch-speaker",
            max_poll_interval_ms=self.options.max_poll_interval_ms,
            session_timeout_ms=min(10_000, self.options.max_poll_interval_ms),
        )
        self._producer = make_producer(self.options.bootstrap, client_id="citywatch-speaker")
        for worker in self._workers.values():
            worker.start()
        self._consumer.subscribe([topic], listener=_Rebalance(self))
        logger.info(
            "speaker gateway: %s -> %d speaker(s) [%s], group %s",
            topic,
            len(self._workers),
            ", ".join(self._workers),
            self.options.group_id,
        )
        deadline = None if duration_s is None else time.monotonic() + duration_s
        guard = PollGuard("speaker gateway", stop)
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                batch = guard.poll(self._consumer, 200)
                for records in batch.values():
                    for rec in records:
                        self._take(rec)
                self._publish()
                self._commit()
                if self.on_round is not None and guard.ok:
                    self.on_round(self._consumer)
            self._drain()
        finally:
            for worker in self._workers.values():
                worker.stop(timeout_s=1.0)
            close_quietly("speaker gateway", lambda: self._consumer.close(autocommit=False))
            close_quietly("speaker gateway", lambda: self._producer.close(timeout=5))
        logger.info("speaker gateway stopped: %s", self.stats.summary())
        return self.stats

    def _take(self, rec: Any) -> None:
        tp = TopicPartition(rec.topic, rec.partition)
        self._offsets.start(tp, rec.offset)
        decision = delivery.route(
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            raw=rec.value,
            configured=self._configured,
            wanted=self._wanted,
            seen=self._seen,
            now=self.clock(),
        )
        position = (tp, rec.offset)
        if isinstance(decision, delivery.Deliver):
            self._queued.add(position)
            self._workers[decision.command.speaker_id].submit(decision.command, position)
        elif isinstance(decision, delivery.Acknowledge):
            self._acks.put((decision.ack, position))
        elif isinstance(decision, delivery.DeadLetterIt):
            logger.warning(
                "dead-lettering %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, decision.record.error
            )
            dl = self.options.topics.deadletter
            self._outbox.append(_Outgoing(dl, rec.topic, decision.record, position))
        elif isinstance(decision, delivery.Skip):
            logger.debug("skipping %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, decision.reason)
            self.stats.skipped += 1
            if position not in self._queued:  # redelivered while still queued here: done at its ack
                self._offsets.finish(tp, rec.offset)

    def _publish(self) -> None:
        """Send the acks and dead letters; a record's offset is done once its output is on the
        broker. A send the broker has not answered yet (a slow flush) stays pending for the next
        round, never sent twice; a refused one is sent again."""
        while True:
            try:
                ack, token = self._acks.get_nowait()
            except queue.Empty:
                break
            position = token if isinstance(token, tuple) else None
            self._outbox.append(
                _Outgoing(self.options.topics.loudspeaker_acks, ack.speaker_id, ack, position)
            )
        retry: list[_Outgoing] = []
        for out in self._outbox:
            try:
                future = self._producer.send(out.topic, key=out.key.encode(), value=out.record.to_bytes())
            except KafkaError as exc:
                logger.error("cannot publish to %s (%s); will retry", out.topic, exc)
                retry.append(out)
            else:
                self._pending.append((out, future))
        self._outbox = retry
        if not self._pending:
            return
        try:
            self._producer.flush(timeout=10)
        except KafkaError as exc:
            logger.warning("the broker is slow to take our acks (%s); waiting for them next round", exc)
        waiting: list[tuple[_Outgoing, Any]] = []
        for out, future in self._pending:
            if not future.is_done:
                waiting.append((out, future))
                continue
            if future.failed():
                logger.error("cannot publish to %s (%s); will retry", out.topic, future.exception)
                self._outbox.append(out)
                continue
            if isinstance(out.record, LoudspeakerAck):
                self.stats.acks[out.record.status] += 1
            else:
                self.stats.deadletters += 1
            if out.position is not None:
                self._offsets.finish(*out.position)
                self._queued.discard(out.position)
        self._pending = waiting

    def _commit(self) -> None:
        assigned = self._consumer.assignment()
        positions = {tp: pos for tp, pos in self._offsets.committable().items() if tp in assigned}
        if not positions:
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(pos, "", -1) for tp, pos in positions.items()})
        except KafkaError as exc:
            logger.warning("offset commit failed (%s); the records will be redelivered, not lost", exc)
            return
        self._offsets.committed(dict(positions))

    def _drain(self) -> None:
        """Stop taking records; let the workers finish what they accepted; ack and commit it."""
        self._consumer.pause(*self._consumer.assignment())
        end = time.monotonic() + self.options.drain_timeout_s
        guard = PollGuard("speaker gateway (draining)", threading.Event(), cap_s=1.0)
        while time.monotonic() < end:
            guard.poll(self._consumer, 100)  # keeps the group membership alive
            self._publish()
            self._commit()
            quiet = self._acks.empty() and not self._outbox and not self._pending
            if quiet and all(w.idle() for w in self._workers.values()):
                return
        logger.warning(
            "%d command(s) still in flight after %.0f s; they will be redelivered",
            self._offsets.in_flight(),
            self.options.drain_timeout_s,
        )

    # ---- rebalances (called inside poll) ----------------------------------------------
    def revoked(self, parts: list[TopicPartition]) -> None:
        self._publish()
        self._commit()
        self._revoking.update(parts)

    def lost(self, parts: list[TopicPartition]) -> None:
        """Thrown out of the group: the consumer drops these partitions and, if they come back,
        reads them again from the last commit."""
        self._offsets.forget(parts)
        self._revoking.difference_update(parts)

    def assigned(self, parts: list[TopicPartition]) -> None:
        """Forget the partitions that went to another member (their owner starts from the last
        commit); a partition revoked and assigned again keeps its place in the consumer, so its
        queued commands are still tracked and committed at their acks."""
        self._offsets.forget(self._revoking - set(parts))
        self._revoking.clear()
        logger.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(parts)))
        if self.options.from_beginning:
            fresh = [tp for tp in parts if tp not in self._rewound]
            if fresh:
                self._consumer.seek_to_beginning(*fresh)
                self._rewound.update(fresh)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.gateway.revoked(list(revoked))

    def on_partitions_lost(self, lost: Any) -> None:
        self.gateway.lost(list(lost))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.gateway.assigned(list(assigned))
