"""The MQTT bridge role: sensor readings in, alerts and dispatched cases out.

In: each message of an ``mqtt.inputs`` pattern is mapped to a reading (``mapping``) and
produced on sensor-readings (key sensor_id); one that does not map, or that the sensor
checks refuse, is produced on deadletter (key ``mqtt:<topic>``, with the MQTT topic and
the reason). The message is acknowledged to the broker (PUBACK) only after Kafka
acknowledged what was produced for it; until then the broker keeps it, and delivers it
again after a restart.

Out: alerts and dispatch are consumed in group ``<prefix>mqtt`` and published QoS 1
(``outbound``); a batch's offsets are committed only after the broker acknowledged every
message of it, so a restart republishes at most what was not acknowledged. While a batch
waits for the broker, the consumer is paused (it stays in its group) and readings keep
flowing in.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streams.backoff import Backoff
from streams.config.models import Sensor
from streams.config.mqtt import MqttInput
from streams.contract.errors import RecordError
from streams.contract.records import DeadLetter, dead_letter
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard, close_quietly, group_consumer
from streams.kafka_io import producer as make_producer
from streams.mqtt import mapping, outbound
from streams.mqtt.connection import MqttSettings
from streams.mqtt.link import MqttLink, Received

logger = logging.getLogger(__name__)

MAX_INBOUND = 500  # messages taken from the broker per round


@dataclass(frozen=True)
class BridgeOptions:
    bootstrap: str
    topics: Topics
    mqtt: MqttSettings
    client_id: str
    inputs: Sequence[MqttInput]
    sensors: Mapping[str, Sensor]
    out_prefix: str = "citywatch"
    alerts: bool = True
    cases: bool = True
    group_id: str = ""  # default: <prefix>mqtt
    max_skew_s: float | None = None
    max_poll_records: int = 500

    def group(self) -> str:
        return self.group_id or f"{self.topics.prefix}mqtt"

    def consumed(self) -> dict[str, str]:
        """Kafka topic -> ``alerts`` / ``cases``."""
        out = {}
        if self.alerts:
            out[self.topics.alerts] = "alerts"
        if self.cases:
            out[self.topics.dispatch] = "cases"
        return out


class BridgeStats(Counter[str]):
    """readings in, messages published out, dead letters, records consumed, batches committed."""

    def summary(self) -> str:
        keys = ("readings", "published", "deadletters", "records", "batches", "reconnects")
        return " ".join(f"{k}={self[k]}" for k in keys)


@dataclass
class InFlight:
    """A consumed batch whose MQTT messages wait for the broker's PUBACK."""

    infos: list[Any] = field(default_factory=list)
    last: dict[TopicPartition, int] = field(default_factory=dict)


def mqtt_letter(topic: str, raw: bytes, error: str, received_at: float) -> DeadLetter:
    """The dead letter of an MQTT message: ``topic`` ``mqtt:<topic>`` (no partition or offset:
    -1), ``mqtt_topic`` and the reason, the payload in ``raw``."""
    from streams.contract.timeutil import to_iso

    letter = dead_letter(f"mqtt:{topic}", -1, -1, error, raw)
    return DeadLetter.model_validate(
        {**letter.to_dict(), "source": "mqtt", "mqtt_topic": topic, "received_at": to_iso(received_at)}
    )


class Bridge:
    def __init__(
        self, options: BridgeOptions, link: MqttLink | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.options = options
        self.clock = clock
        self.stats = BridgeStats()
        patterns = [inp.topic for inp in options.inputs]
        self.link = link or MqttLink(options.mqtt, options.client_id, patterns, self.stats)
        self._consumer: Any = None
        self._producer: Any = None
        self._retry: list[Received] = []  # taken from the broker, not yet acknowledged by Kafka
        self._inflight: InFlight | None = None
        self._kafka_backoff = Backoff(0.5, 2.0, 10.0)
        self.on_round: Callable[[Any], None] | None = None  # after each round, with the consumer (health)

    def _connect(self) -> None:
        self._producer = make_producer(self.options.bootstrap, client_id="citywatch-mqtt", acks="all")
        if self.options.consumed():
            self._consumer = group_consumer(
                self.options.bootstrap,
                self.options.group(),
                "citywatch-mqtt",
                max_poll_records=self.options.max_poll_records,
                # a bridge killed without leaving the group is replaced within seconds, not minutes
                max_poll_interval_ms=60_000,
                session_timeout_ms=6_000,
            )
            self._consumer.subscribe(sorted(self.options.consumed()))

    def run(self, stop: threading.Event, duration_s: float | None = None) -> BridgeStats:
        self._connect()
        self.link.start()
        logger.info(
            "mqtt bridge: %d input patterns -> %s; %s -> %s/..., group %s",
            len(self.options.inputs), self.options.topics.sensor_readings,
            ", ".join(self.options.consumed()) or "nothing", self.options.out_prefix, self.options.group(),
        )  # fmt: skip
        deadline = None if duration_s is None else time.monotonic() + duration_s
        guard = PollGuard("mqtt", stop)
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    self.inbound(stop)
                    ok = self.outbound(guard)
                except Exception:  # one failed round must not end the bridge
                    logger.exception("mqtt: a round failed; taking it again in 1 s")
                    self._rewind()
                    stop.wait(1.0)
                    continue
                if self.on_round is not None and ok:
                    self.on_round(self._consumer)
        finally:
            self.link.close()
            if self._consumer is not None:
                close_quietly("mqtt", lambda: self._consumer.close(autocommit=False))
            close_quietly("mqtt", lambda: self._producer.close(timeout=5))
        logger.info("mqtt bridge stopped: %s", self.stats.summary())
        return self.stats

    # -- in: MQTT -> Kafka --------------------------------------------------------------------

    def _take(self, wait_s: float) -> list[Received]:
        taken, self._retry = self._retry, []
        try:
            if not taken:
                taken.append(self.link.inbox.get(timeout=wait_s))
            while len(taken) < MAX_INBOUND:
                taken.append(self.link.inbox.get_nowait())
        except queue.Empty:
            return taken
        return taken

    def inbound(self, stop: threading.Event, wait_s: float = 0.0) -> None:
        """Produce what the broker delivered; acknowledge to the broker what Kafka took."""
        taken = self._take(wait_s)
        if not taken:
            return
        sent = []
        topics = self.options.topics
        for received in taken:
            now = self.clock()
            reading = mapping.to_reading(
                self.options.inputs, self.options.sensors, received.topic, received.payload,
                now=now, max_skew_s=self.options.max_skew_s,
            )  # fmt: skip
            try:
                if isinstance(reading, str):
                    logger.warning("mqtt: dead-lettering a message on %s: %s", received.topic, reading)
                    letter = mqtt_letter(received.topic, received.payload, reading, now)
                    key = f"mqtt:{received.topic}".encode()
                    future = self._producer.send(topics.deadletter, key=key, value=letter.to_bytes())
                    sent.append((received, future, "deadletters"))
                else:
                    value = reading.to_bytes()
                    future = self._producer.send(
                        topics.sensor_readings, key=reading.sensor_id.encode(), value=value
                    )
                    sent.append((received, future, "readings"))
            except KafkaError as exc:
                logger.warning("mqtt: Kafka did not take a message of %s (%s)", received.topic, exc)
                self._retry.append(received)
        self._settle(stop, sent)

    def _settle(self, stop: threading.Event, sent: list[tuple[Received, Any, str]]) -> None:
        try:
            self._producer.flush(timeout=10)
        except KafkaError as exc:
            logger.warning("mqtt: Kafka did not acknowledge in time (%s)", exc)
        for received, future, counter in sent:
            try:
                future.get(timeout=0)
            except KafkaError:
                self._retry.append(received)  # not acknowledged to the broker: taken again
                continue
            self.stats[counter] += 1
            if not self.link.ack(received):
                logger.info("mqtt: %s came before a reconnect; the broker sends it again", received.topic)
        if self._retry:
            delay = self._kafka_backoff.next()
            logger.warning(
                "mqtt: %d messages wait for Kafka; trying again in %.1f s", len(self._retry), delay
            )
            stop.wait(delay)
        else:
            self._kafka_backoff.reset()

    # -- out: Kafka -> MQTT -------------------------------------------------------------------

    def outbound(self, guard: PollGuard) -> bool:
        """One round: commit the batch in flight once the broker acknowledged it all, else poll
        (paused while a batch is in flight). True when Kafka answered."""
        if self._consumer is None:
            guard.stop.wait(0.2)
            return True
        if self._inflight is not None:
            if all(info.is_published() for info in self._inflight.infos):
                logger.debug("mqtt: the broker acknowledged the batch; committing %s", self._inflight.last)
                self._commit(self._inflight)
                self._inflight = None
                self._consumer.resume(*self._consumer.assignment())
            else:
                self._consumer.pause(*self._consumer.assignment())
        polled = guard.poll(self._consumer, 100 if self._inflight is not None else 200)
        if polled and self._inflight is not None:  # a rebalance gave new, unpaused partitions: later
            for tp, records in polled.items():
                self._consumer.seek(tp, records[0].offset)
            return guard.ok
        if polled:
            self._inflight = self._publish(polled)
            logger.debug("mqtt: %d messages out, waiting for the broker", len(self._inflight.infos))
        return guard.ok

    def _publish(self, polled: dict[Any, list[Any]]) -> InFlight:
        batch = InFlight()
        letters = []
        kinds = self.options.consumed()
        for records in polled.values():
            for rec in records:
                batch.last[TopicPartition(rec.topic, rec.partition)] = rec.offset
                self.stats["records"] += 1
                try:
                    record = outbound.decode_out(kinds[rec.topic], rec.value)
                except RecordError as exc:
                    letters.append((rec, str(exc)))
                    continue
                for message in outbound.messages(self.options.out_prefix, kinds[rec.topic], record):
                    batch.infos.append(self.link.publish(message))
                    self.stats["published"] += 1
        for rec, error in letters:
            logger.warning("mqtt: dead-lettering %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, error)
            letter = dead_letter(rec.topic, rec.partition, rec.offset, error, rec.value)
            batch.infos.append(_KafkaAck(self._producer, self.options.topics.deadletter, rec.topic, letter))
            self.stats["deadletters"] += 1
        return batch

    def _rewind(self) -> None:
        """Forget the batch in flight and read again from the committed offsets: nothing that
        was not acknowledged is skipped (what was, may be published again)."""
        self._inflight = None
        if self._consumer is None:
            return
        try:
            assigned = self._consumer.assignment()
            self._consumer.resume(*assigned)
            for tp in assigned:
                committed = self._consumer.committed(tp)
                if committed is None:
                    self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek(tp, committed)
        except KafkaError as exc:
            logger.warning("mqtt: cannot rewind to the committed offsets (%s); leaving the group", exc)
            self._consumer.unsubscribe()
            self._consumer.subscribe(sorted(self.options.consumed()))

    def _commit(self, batch: InFlight) -> None:
        offsets = {tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in batch.last.items()}
        try:
            self._consumer.commit(offsets)
        except KafkaError as exc:
            logger.warning("mqtt: offset commit failed (%s); the batch is published again", exc)
            return
        self.stats["batches"] += 1


class _KafkaAck:
    """A dead letter's send, waited for as a publish is: ``is_published`` once Kafka acknowledged
    it; a send that failed is sent again."""

    def __init__(self, producer: Any, topic: str, source: str, letter: DeadLetter) -> None:
        self._args = (producer, topic, source.encode(), letter.to_bytes())
        self.future = self._send()

    def _send(self) -> Any:
        producer, topic, key, value = self._args
        return producer.send(topic, key=key, value=value)

    def is_published(self) -> bool:
        if not self.future.is_done:
            return False
        if self.future.succeeded():
            return True
        logger.warning(
            "mqtt: a dead letter was not acknowledged (%s); sending it again", self.future.exception
        )
        self.future = self._send()
        return False
