"""The bridge's acknowledgements, with fakes for the MQTT link and the Kafka clients: an MQTT
message is acknowledged only after Kafka acknowledged what was produced for it, and Kafka
offsets are committed only after the broker acknowledged every message of the batch."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any, NamedTuple

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

from streams.config import parse_config
from streams.config.mqtt import MqttInput
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard
from streams.mqtt.bridge import Bridge, BridgeOptions
from streams.mqtt.connection import MqttSettings
from streams.mqtt.link import Received
from streams.mqtt.outbound import OutMessage

from ..conftest import SAMPLE_CONFIG
from ..store_support import alert

TOPICS = Topics("t.")
NOW = 1_780_000_000.0


class Info:
    def __init__(self) -> None:
        self.acked = False

    def is_published(self) -> bool:
        return self.acked


class Link:
    def __init__(self) -> None:
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.acked: list[int] = []
        self.published: list[tuple[OutMessage, Info]] = []
        self.session = 1

    def ack(self, received: Received) -> bool:
        if received.session != self.session:
            return False
        self.acked.append(received.mid)
        return True

    def publish(self, message: OutMessage) -> Info:
        info = Info()
        self.published.append((message, info))
        return info


class Future:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.is_done = True
        self.exception = None if ok else KafkaTimeoutError("no answer")

    def get(self, timeout: float = 0) -> None:
        if not self.ok:
            raise KafkaTimeoutError("no answer")

    def succeeded(self) -> bool:
        return self.ok


class Producer:
    def __init__(self) -> None:
        self.up = True
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> Future:
        if self.up:
            self.sent.append((topic, key, value))
        return Future(self.up)

    def flush(self, timeout: float) -> None:
        return None


class Rec(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes


class Consumer:
    def __init__(self, batches: list[dict[TopicPartition, list[Rec]]]) -> None:
        self.batches = batches
        self.commits: list[dict[TopicPartition, int]] = []
        self.paused = False

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPICS.alerts, 0)}

    def pause(self, *tps: TopicPartition) -> None:
        self.paused = True

    def resume(self, *tps: TopicPartition) -> None:
        self.paused = False

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Rec]]:
        if self.paused or not self.batches:
            return {}
        return self.batches.pop(0)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


def bridge(consumer: Consumer | None = None) -> tuple[Bridge, Link, Producer]:
    cfg = parse_config(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    options = BridgeOptions(
        bootstrap="unused:9092",
        topics=TOPICS,
        mqtt=MqttSettings("unused", 1883),
        client_id="test",
        inputs=[MqttInput(topic="s/+", sensor_id="{1}", value="$")],
        sensors={s.id: s for s in cfg.sensors},
        out_prefix="cw",
    )
    link = Link()
    b = Bridge(options, link=link, clock=lambda: NOW)  # type: ignore[arg-type]
    producer = Producer()
    b._producer = producer
    b._consumer = consumer
    b._kafka_backoff.next = lambda: 0.0  # type: ignore[method-assign]
    return b, link, producer


def test_a_message_is_acknowledged_only_after_kafka_took_it() -> None:
    b, link, producer = bridge()
    stop = threading.Event()
    producer.up = False
    link.inbox.put(Received("s/pm-hp-01", b"12.5", 7, 1, 1))
    link.inbox.put(Received("s/pm-nowhere", b"1", 8, 1, 1))
    b.inbound(stop)
    assert link.acked == [] and producer.sent == []
    producer.up = True
    b.inbound(stop)  # taken again
    assert link.acked == [7, 8]
    assert [t for t, _, _ in producer.sent] == [TOPICS.sensor_readings, TOPICS.deadletter]
    reading = json.loads(producer.sent[0][2])
    assert (reading["sensor_id"], reading["value"], reading["unit"]) == ("pm-hp-01", 12.5, "µg/m³")
    letter = json.loads(producer.sent[1][2])
    assert letter["mqtt_topic"] == "s/pm-nowhere" and "'pm-nowhere' is not in cameras.yaml" in letter["error"]
    assert producer.sent[1][1] == b"mqtt:s/pm-nowhere"
    assert (b.stats["readings"], b.stats["deadletters"]) == (1, 1)


def test_no_acknowledgement_for_a_message_of_an_earlier_connection() -> None:
    b, link, producer = bridge()
    link.inbox.put(Received("s/pm-hp-01", b"1", 3, 1, session=1))
    link.session = 2  # reconnected: the broker sends it again, maybe under a packet id now another's
    b.inbound(threading.Event())
    assert link.acked == [] and len(producer.sent) == 1


def test_offsets_are_committed_only_after_every_puback() -> None:
    tp = TopicPartition(TOPICS.alerts, 0)
    batch = {tp: [Rec(tp.topic, 0, 10, alert(1, 2).to_bytes()), Rec(tp.topic, 0, 11, b"{broken")]}
    consumer = Consumer([batch])
    b, link, producer = bridge(consumer)
    guard = PollGuard("mqtt", threading.Event())
    b.outbound(guard)
    assert [m.topic for m, _ in link.published] == ["cw/alerts/cam-a/events", "cw/alerts/cam-a"]
    assert [t for t, _, _ in producer.sent] == [TOPICS.deadletter]
    b.outbound(guard)
    assert consumer.commits == [] and consumer.paused  # waiting for the broker
    link.published[0][1].acked = True
    b.outbound(guard)
    assert consumer.commits == []
    link.published[1][1].acked = True
    b.outbound(guard)
    assert consumer.commits == [{tp: 12}] and not consumer.paused
    assert (b.stats["published"], b.stats["deadletters"], b.stats["batches"]) == (2, 1, 1)
