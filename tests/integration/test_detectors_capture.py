"""Capture on the embedded broker: a camera that drops and comes back, and Kafka going down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from ultralytics.utils import ASSETS

from detectors.capture import run_capture
from detectors.pipeline import RunLimits, StatusReporter
from detectors.publish import Ack, Headers, KafkaPublisher
from detectors.reader import CameraReader
from detectors.sampling import Sampler
from detectors.sources import open_source
from streams.backoff import Backoff
from streams.contract.records import CameraStatus, decode
from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics, read_topic

from ..conftest import KafkaEnv
from ..mjpeg_server import MjpegCamera

pytestmark = pytest.mark.integration


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def capturing(
    reader: CameraReader, publisher: KafkaPublisher, topics: Topics, wake: threading.Event, fps: float
) -> Iterator[dict[str, int]]:
    """Run the capture loop in a thread; yields a live counter of frames handed to the publisher
    (``counter["held"]`` set to 1: frames are skipped, as a sampler skips them, until set to 0)."""
    limits = RunLimits()
    counter = {"sent": 0, "held": 0}

    class Counting(Sampler):
        def take(self, media_t: float, *, picked: bool = False) -> bool:
            ok = super().take(media_t, picked=picked) and not counter["held"]
            counter["sent"] += ok
            return ok

    status = StatusReporter({reader.camera_id: reader}, publisher, topics, interval_s=0.5)
    samplers = {reader.camera_id: Counting(fps)}
    thread = threading.Thread(
        target=run_capture,
        args=({reader.camera_id: reader}, samplers, publisher, topics, status, limits, wake),
    )
    reader.start()
    thread.start()
    try:
        yield counter
    finally:
        limits.stop.set()
        thread.join(30)
        reader.stop()
    assert not thread.is_alive()


def statuses(bootstrap: str, topic: str) -> list[CameraStatus]:
    return [
        decode(CameraStatus, m.value or b"")
        for m in read_topic(bootstrap, topic, from_beginning=True, timeout_s=3)
    ]


def test_lost_stream_reports_offline_then_reconnects(kafka: KafkaEnv) -> None:
    camera = MjpegCamera(fps=10).start()
    url = camera.url
    wake = threading.Event()
    reader = CameraReader("cam-net", lambda: open_source(url), backoff=Backoff(0.2, 2, 1.0), wake=wake)
    publisher = KafkaPublisher(kafka.bootstrap)
    try:
        with capturing(reader, publisher, kafka.topics, wake, fps=5):
            wait_for(lambda: reader.health().state == "online" and reader.health().fps > 3, 20, "the stream")
            camera.stop()
            wait_for(lambda: "cannot open" in reader.health().reason, 20, "the reader to see the camera gone")
            time.sleep(1.5)  # offline for a while: several failed reconnects with backoff
            camera = MjpegCamera(port=camera.port, fps=10).start()
            wait_for(lambda: reader.health().state == "online", 20, "the reconnection")
            time.sleep(1.0)
        assert publisher.flush(20)
    finally:
        camera.stop()
        publisher.close()

    states = [s for s, _ in reader.transitions]
    first_offline = states.index("offline")
    assert "online" in states[:first_offline] and "online" in states[first_offline:]
    reasons = [r for s, r in reader.transitions if s == "offline"]
    assert any("retrying in" in r for r in reasons)
    seen = [s.status for s in statuses(kafka.bootstrap, kafka.topics.camera_status)]
    on = seen.index("online")
    off = seen.index("offline", on)
    assert "online" in seen[off:], seen
    frames = list(read_topic(kafka.bootstrap, kafka.topics.frames, from_beginning=True, timeout_s=3))
    assert len(frames) >= 5
    headers = dict(frames[0].headers)
    assert headers["camera_id"] == b"cam-net" and frames[0].value and frames[0].value[:2] == b"\xff\xd8"
    assert {"seq", "captured_at"} <= set(headers)


class AckCounting(KafkaPublisher):
    """The real publisher, counting the records the broker acknowledged."""

    acked = 0

    def send(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None, on_ack: Ack | None = None
    ) -> None:
        def counted(ok: bool) -> None:
            self.acked += ok
            if on_ack is not None:
                on_ack(ok)

        super().send(topic, key, value, headers, counted)


def test_capture_never_blocks_while_kafka_is_down(tmp_path: object) -> None:
    port = free_port()
    topics = Topics("down.citywatch.")
    broker = EmbeddedBroker(port=port).start()
    ensure_topics(broker.bootstrap, [topics.frames, topics.camera_status], partitions=1)
    wake = threading.Event()
    bus = str(ASSETS / "bus.jpg")
    reader = CameraReader("cam-bus", lambda: open_source(bus), wake=wake)  # a still played at 10 fps
    publisher = AckCounting(broker.bootstrap, max_records=15, delivery_timeout_s=3)
    try:
        with capturing(reader, publisher, topics, wake, fps=10) as counter:
            # acknowledged by the broker (an empty buffer at one instant is rare on a loaded machine)
            wait_for(lambda: publisher.acked >= 10, 60, "first frames delivered")
            broker.stop()
            down_at = counter["sent"]
            down_seq = reader.last_seq
            # capture keeps going at its rate with nobody taking the records
            wait_for(lambda: counter["sent"] >= down_at + 40, 20, "capture to carry on while Kafka is down")
            assert not publisher.health().ok
            assert "unreachable" in publisher.health().reason
            assert publisher.dropped > 0 and publisher.buffered <= 15
            # no new frames while the broker restarts: on a loaded machine the first records
            # after it can take seconds, and newer frames would (rightly) push the outage's out
            counter["held"] = 1
            last_before_restart = counter["sent"]
            restart_seq = reader.last_seq
            broker = EmbeddedBroker(port=port).start()  # memory storage: the topics are new
            ensure_topics(broker.bootstrap, [topics.frames, topics.camera_status], partitions=1)
            wait_for(lambda: publisher.health().ok, 30, "the publisher to recover")
            assert publisher.flush(30)  # the buffered outage frames are delivered
            counter["held"] = 0
            wait_for(lambda: counter["sent"] >= last_before_restart + 10, 20, "more frames")
            time.sleep(1.0)
        assert publisher.flush(20)

        frames = list(read_topic(broker.bootstrap, topics.frames, from_beginning=True, timeout_s=3))
        seqs = [int(dict(f.headers)["seq"]) for f in frames]
        assert len(frames) >= 10
        # of the >= 40 frames captured while Kafka was down, only about a buffer's worth (15,
        # plus the few in flight when it went) survived, and those are the newest
        outage = [s for s in seqs if down_seq < s <= restart_seq]
        assert restart_seq - down_seq >= 40
        assert 0 < len(outage) <= 15 + 8 + 2, (down_seq, restart_seq, sorted(seqs))
        survivors = sorted(outage)
        assert survivors[-1] >= restart_seq - 3, survivors  # the newest frame made it
        assert survivors[len(survivors) // 2] > (down_seq + restart_seq) / 2, survivors  # mostly the newest
        seen = [s.status for s in statuses(broker.bootstrap, topics.camera_status)]
        assert "degraded" in seen, seen  # buffered while down, delivered afterwards
        assert seen[-1] == "online", seen
    finally:
        publisher.close()
        broker.stop()
