"""The loudspeaker gateway outlives a broker that restarts empty (memory storage): it reconnects,
joins its group again and speaks the commands of the new topics from their beginning (their
offsets start again at 0, below what it read and committed before)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.config import load_config
from streams.contract.records import LoudspeakerAck, decode
from streams.contract.timeutil import now
from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics, read_topic
from streams.speaker.gateway import Gateway, GatewayOptions

from ..speaker_support import command
from ..streams_support import wait_for
from .test_speaker_gateway import write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.sysdeps("espeak-ng")]

BACK_TIMEOUT = 90  # a group join waits for the rebalance timeout


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port=free_port())
    try:
        yield broker
    finally:
        broker.stop()


def send(bootstrap: str, topic: str, ids: list[str]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap)
    t = now()
    for command_id in ids:
        p.send(topic, key=b"spk-b", value=command(command_id, "spk-b", now=t).to_bytes())
    p.flush()
    p.close()


def played(bootstrap: str, topic: str) -> list[str]:
    records = read_topic(bootstrap, topic, from_beginning=True, timeout_s=1)
    return [decode(LoudspeakerAck, m.value or b"").command_id for m in records]


def test_gateway_speaks_again_after_the_broker_restarted_empty(
    own_broker: EmbeddedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streams")  # the gateway's assignments, for a failure's message
    topics = Topics(f"k{uuid.uuid4().hex[:8]}.citywatch.")
    own_broker.start()
    wanted = [topics.loudspeaker, topics.loudspeaker_acks, topics.deadletter]
    ensure_topics(own_broker.bootstrap, wanted, partitions=1)
    cfg = load_config(write_config(tmp_path))
    options = GatewayOptions(
        own_broker.bootstrap, topics, group_id="speaker-restart", speakers=frozenset({"spk-b"})
    )
    gateway = Gateway(cfg, options)
    stop = threading.Event()
    runner = threading.Thread(target=gateway.run, args=(stop,), kwargs={"duration_s": 300})
    runner.start()
    try:
        before = [f"before-{n}" for n in range(4)]
        send(own_broker.bootstrap, topics.loudspeaker, before)
        assert wait_for(lambda: played(own_broker.bootstrap, topics.loudspeaker_acks) == before, BACK_TIMEOUT)
        assert wait_for(lambda: gateway.stats.acks["played"] == 4, 30)

        own_broker.stop()
        own_broker.start()  # the same port, memory storage: no topics, no group, no offsets
        ensure_topics(own_broker.bootstrap, wanted, partitions=1)
        after = ["after-0"]  # offset 0 of the new topic: below the 4 read before
        send(own_broker.bootstrap, topics.loudspeaker, after)
        assert wait_for(
            lambda: played(own_broker.bootstrap, topics.loudspeaker_acks) == after, BACK_TIMEOUT
        ), f"{gateway.stats.summary()}\n{caplog.text[-6000:]}"
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()
    assert gateway.stats.acks["played"] == 5
