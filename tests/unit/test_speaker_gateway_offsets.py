"""The gateway's offsets across a rebalance that hands a partition back to the same process
or takes it away (fake consumer, producer, engine and driver)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from streams.config.models import Config
from streams.contract.topics import Topics
from streams.speaker.fakes import FakeDriver, FakeEngine
from streams.speaker.gateway import Gateway, GatewayOptions

from ..speaker_support import T0, command, speaker
from ..streams_support import wait_for

TOPICS = Topics("u.citywatch.")
TP = TopicPartition(TOPICS.loudspeaker, 0)


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class FakeConsumer:
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


class Sent:
    is_done = True
    exception = None

    def failed(self) -> bool:
        return False


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def send(self, topic: str, key: bytes, value: bytes) -> Sent:
        self.sent.append((topic, value))
        return Sent()

    def flush(self, timeout: float) -> None:
        return None


def gateway(driver: FakeDriver) -> tuple[Gateway, FakeConsumer]:
    cfg = Config.model_validate(
        {
            "version": 1,
            "site": {"name": "test district"},
            "categories": {
                "out_of_store_business": {"code": "200504", "name": "店外经营", "labels": ["chair"]}
            },
            "speakers": [speaker("spk-a").model_dump()],
        }
    )
    gw = Gateway(
        cfg,
        GatewayOptions("unused:9092", TOPICS),
        engine=FakeEngine(),
        driver_factory=lambda s: driver,
        clock=lambda: T0,
    )
    consumer = FakeConsumer()
    gw._consumer = consumer
    gw._producer = FakeProducer()
    return gw, consumer


def round_trip(gw: Gateway) -> None:
    gw._publish()
    gw._commit()


def test_a_redelivered_command_still_queued_is_committed_only_after_its_ack() -> None:
    gate = threading.Event()
    driver = FakeDriver(gate=gate)
    gw, consumer = gateway(driver)
    worker: Any = gw._workers["spk-a"]
    worker.start()
    try:
        rec = Rec(TP.topic, TP.partition, 0, command("c1", "spk-a", now=T0).to_bytes())
        gw._take(rec)
        assert driver.entered.wait(10)  # playing, held at the gate
        gw.lost([TP])  # thrown out of the group, then given the partition back:
        gw.assigned([TP])
        gw._take(rec)  # the record comes again from the last commit
        round_trip(gw)
        # not acknowledged yet: a crash now must redeliver it
        assert {c[TP] for c in consumer.commits} == {0}
        gate.set()
        assert wait_for(lambda: worker.idle() and not gw._acks.empty(), 10)
        round_trip(gw)
    finally:
        gate.set()
        worker.stop(5)
    assert consumer.commits[-1] == {TP: 1}
    assert [cid for cid, _ in driver.played] == ["c1"]
    assert gw.stats.acks["played"] == 1


def test_a_partition_kept_across_a_rebalance_is_committed_at_its_acks() -> None:
    gate = threading.Event()
    driver = FakeDriver(gate=gate)
    gw, consumer = gateway(driver)
    worker: Any = gw._workers["spk-a"]
    worker.start()
    try:
        gw._take(Rec(TP.topic, TP.partition, 0, command("c1", "spk-a", now=T0).to_bytes()))
        assert driver.entered.wait(10)
        gw.revoked([TP])  # the consumer keeps its position: the record does not come again
        gw.assigned([TP])
        gate.set()
        assert wait_for(lambda: worker.idle() and not gw._acks.empty(), 10)
        round_trip(gw)
    finally:
        gate.set()
        worker.stop(5)
    assert consumer.commits[-1] == {TP: 1}


def test_a_partition_gone_to_another_member_is_forgotten() -> None:
    gw, consumer = gateway(FakeDriver())
    gw._take(Rec(TP.topic, TP.partition, 5, b"not json"))  # dead-lettered
    gw.revoked([TP])
    gw.assigned([])
    consumer.commits.clear()
    round_trip(gw)
    assert consumer.commits == []
    assert gw._offsets.committable() == {}


class Slow:
    """A send the broker answers only when told to."""

    def __init__(self) -> None:
        self.is_done = False
        self.exception: Exception | None = None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None


@dataclass
class SlowProducer:
    sent: list[tuple[bytes, Slow]] = field(default_factory=list)

    def send(self, topic: str, key: bytes, value: bytes) -> Slow:
        future = Slow()
        self.sent.append((value, future))
        return future

    def flush(self, timeout: float) -> None:
        if not all(f.is_done for _, f in self.sent):
            raise KafkaTimeoutError("Timeout waiting for future")


def test_a_slow_broker_leaves_an_ack_pending_neither_lost_nor_sent_twice() -> None:
    gw, consumer = gateway(FakeDriver())
    producer = SlowProducer()
    gw._producer = producer
    gw._take(Rec(TP.topic, TP.partition, 0, b"not json"))  # a dead letter to publish
    round_trip(gw)  # the flush times out: nothing is done yet
    round_trip(gw)
    assert len(producer.sent) == 1 and {c[TP] for c in consumer.commits} == {0}  # not past it
    producer.sent[0][1].is_done = True  # answered
    round_trip(gw)
    assert len(producer.sent) == 1 and consumer.commits[-1] == {TP: 1}
    assert gw.stats.deadletters == 1


def test_a_refused_send_is_sent_again() -> None:
    gw, consumer = gateway(FakeDriver())
    producer = SlowProducer()
    gw._producer = producer
    gw._take(Rec(TP.topic, TP.partition, 0, b"not json"))
    round_trip(gw)
    refused = producer.sent[0][1]
    refused.is_done, refused.exception = True, KafkaTimeoutError("expired in the accumulator")
    round_trip(gw)  # seen refused: back to the outbox
    round_trip(gw)  # sent again
    assert len(producer.sent) == 2 and {c[TP] for c in consumer.commits} == {0}
    producer.sent[1][1].is_done = True
    round_trip(gw)
    assert consumer.commits[-1] == {TP: 1}
