"""The publisher's bounded buffer: oldest dropped first, by count and by bytes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from kafka.errors import KafkaTimeoutError

from detectors.publish import BoundedBuffer, KafkaPublisher, Outgoing


def item(n: int, size: int = 10) -> Outgoing:
    return Outgoing("t", "k", bytes([n % 256]) * size)


def drain(buf: BoundedBuffer) -> list[int]:
    out = []
    while (it := buf.pop()) is not None:
        out.append(it.value[0])
    return out


def test_full_buffer_drops_oldest() -> None:
    buf = BoundedBuffer(max_records=3, max_bytes=10_000)
    dropped = [d.value[0] for i in range(6) for d in buf.push(item(i))]
    assert dropped == [0, 1, 2]
    assert buf.dropped == 3
    assert drain(buf) == [3, 4, 5]
    assert buf.bytes == 0


def test_byte_limit_drops_oldest_but_keeps_the_newest() -> None:
    buf = BoundedBuffer(max_records=100, max_bytes=25)
    for i in range(4):
        buf.push(item(i, size=10))  # each 11 bytes with its key
    assert drain(buf) == [2, 3]
    big = BoundedBuffer(max_records=100, max_bytes=5)
    big.push(item(7, size=50))  # larger than the limit on its own: still kept
    assert drain(big) == [7]


def test_requeue_puts_a_failed_record_back_in_its_place_unless_full() -> None:
    buf = BoundedBuffer(max_records=3, max_bytes=10_000)
    sent = [(buf.push(item(i)) and None) or buf.pop() for i in range(2)]  # two records in flight
    buf.push(item(2))  # one waiting
    assert all(s is not None for s in sent)
    # both in-flight records fail, in the order the broker reports them
    for failed in sent:
        assert failed is not None and buf.requeue(failed)
    assert not buf.requeue(item(9))  # full: dropped
    assert buf.dropped == 1
    assert drain(buf) == [0, 1, 2]


def test_requeue_keeps_fifo_whatever_order_failures_come_in() -> None:
    buf = BoundedBuffer(max_records=100, max_bytes=100_000)
    for i in range(10):
        buf.push(item(i))
    in_flight = [buf.pop() for _ in range(6)]
    for failed in [in_flight[i] for i in (3, 0, 5, 1, 4, 2)]:
        assert failed is not None and buf.requeue(failed)
    assert drain(buf) == list(range(10))


class FakeFuture:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.done = False
        self._ok: list[Callable[[object], None]] = []
        self._err: list[Callable[[Exception], None]] = []

    def add_callback(self, fn: Callable[[object], None]) -> None:
        if self.done and self.error is None:
            fn(None)
        else:
            self._ok.append(fn)

    def add_errback(self, fn: Callable[[Exception], None]) -> None:
        if self.done and self.error is not None:
            fn(self.error)
        else:
            self._err.append(fn)

    def succeed(self) -> None:
        self.done = True
        for fn in self._ok:
            fn(None)

    def fail(self, error: Exception) -> None:
        self.done, self.error = True, error
        for fn in self._err:
            fn(error)


class BlipProducer:
    """A producer whose first ``batch`` records all fail together (a broker blip), in the order
    they were sent; every later record is acknowledged at once."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.pending: list[FakeFuture] = []
        self.delivered: list[bytes] = []
        self.failed = 0
        self.lock = threading.Lock()

    def send(self, topic: str, key: bytes, value: bytes, headers: object = None) -> FakeFuture:
        fut = FakeFuture()
        with self.lock:
            if self.failed < self.batch:
                self.pending.append(fut)
                if len(self.pending) == self.batch:
                    blip, self.pending = self.pending, []
                else:
                    return fut
            else:
                self.delivered.append(value)
                fut.succeed()
                return fut
        self.failed += len(blip)
        for f in blip:
            f.fail(KafkaTimeoutError("broker went away"))
        return fut

    def close(self, timeout: float = 0) -> None:
        pass


def test_publisher_keeps_fifo_order_across_a_failed_batch() -> None:
    producer = BlipProducer(batch=8)
    publisher = KafkaPublisher("fake:9092", max_in_flight=8, producer_factory=lambda: producer)
    acks: list[bool] = []
    try:
        for i in range(8):
            publisher.send("t", "cam-1", bytes([i]), on_ack=acks.append)  # all in flight at once
        for i in range(8, 12):
            publisher.send("t", "cam-1", bytes([i]), on_ack=acks.append)
        assert publisher.flush(30), "the publisher never drained its buffer"
    finally:
        publisher.close(5)
    assert producer.failed == 8
    assert [v[0] for v in producer.delivered] == list(range(12))
    assert acks == [True] * 12
