"""The publishing seam: records to Kafka without ever blocking the camera path.

``KafkaPublisher.send`` only appends to a bounded in-memory buffer (oldest
dropped first when full); a sender thread moves records into kafka-python,
keeping few in flight so that, while Kafka is unreachable, records wait here
where the drop-oldest rule applies. Failures mark the publisher degraded; it
reconnects and drains the buffer by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from detectors.health import PublisherHealth
from streams.backoff import Backoff
from streams.contract.errors import BrokerError

logger = logging.getLogger(__name__)

Ack = Callable[[bool], None]
Headers = list[tuple[str, bytes]]


class Publisher(Protocol):
    def send(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None, on_ack: Ack | None = None
    ) -> None:
        """Queue one record; never blocks. ``on_ack(True)`` once the broker acknowledged it,
        ``on_ack(False)`` if it was dropped."""
        ...

    def health(self) -> PublisherHealth: ...

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued record is acknowledged or dropped; False on timeout."""
        ...

    def close(self, timeout_s: float = 5.0) -> None: ...


@dataclass
class Outgoing:
    topic: str
    key: str
    value: bytes
    headers: Headers = field(default_factory=list)
    on_ack: Ack | None = None
    order: int = -1  # place in the order of sending, given by the buffer: retries keep it

    @property
    def size(self) -> int:
        return len(self.value) + len(self.key) + sum(len(k) + len(v) for k, v in self.headers)


class BoundedBuffer:
    """FIFO with a record and a byte limit; pushing onto a full buffer drops the oldest."""

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._items: deque[Outgoing] = deque()  # ascending ``order``
        self.bytes = 0
        self.dropped = 0
        self._next_order = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: Outgoing) -> list[Outgoing]:
        """Append; return the records dropped to make room (oldest first)."""
        item.order = self._next_order
        self._next_order += 1
        self._items.append(item)
        self.bytes += item.size
        dropped = []
        while len(self._items) > 1 and (len(self._items) > self.max_records or self.bytes > self.max_bytes):
            old = self._items.popleft()
            self.bytes -= old.size
            dropped.append(old)
        self.dropped += len(dropped)
        return dropped

    def requeue(self, item: Outgoing) -> bool:
        """Put a record that failed back in its place in the order of sending; False (dropped)
        if the buffer is full.

        Several records in flight fail one after another; each goes back before every
        record sent after it, so a retry sends them in their first order (FIFO), not
        reversed as a plain push to the head would."""
        if len(self._items) >= self.max_records or self.bytes + item.size > self.max_bytes:
            self.dropped += 1
            return False
        # failed records are older than every record still waiting, so the walk is short
        # (at most the records in flight)
        at = 0
        while at < len(self._items) and self._items[at].order < item.order:
            at += 1
        self._items.insert(at, item)
        self.bytes += item.size
        return True

    def pop(self) -> Outgoing | None:
        if not self._items:
            return None
        item = self._items.popleft()
        self.bytes -= item.size
        return item


def _call(ack: Ack | None, ok: bool) -> None:
    if ack is not None:
        try:
            ack(ok)
        except Exception:
            logger.exception("acknowledgement callback failed")


class KafkaPublisher:
    """kafka-python producer behind a bounded, drop-oldest buffer (see module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        max_records: int = 500,
        max_bytes: int = 64 * 1024 * 1024,
        max_in_flight: int = 8,
        client_id: str = "citywatch-detectors",
        delivery_timeout_s: float = 6.0,
        producer_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._producer_factory = producer_factory  # default: a kafka-python producer (tests pass a fake)
        self._buffer = BoundedBuffer(max_records, max_bytes)
        self._max_in_flight = max_in_flight
        self._client_id = client_id
        self._delivery_timeout_ms = int(delivery_timeout_s * 1000)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._failing = False
        self._last_error = ""
        self._closing = False
        self._producer: Any = None
        self._backoff = Backoff(0.2, 2.0, 5.0)
        self._thread = threading.Thread(target=self._run, name="kafka-publisher", daemon=True)
        self._thread.start()

    # -- API -----------------------------------------------------------------
    def send(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None, on_ack: Ack | None = None
    ) -> None:
        item = Outgoing(topic, key, value, list(headers or []), on_ack)
        with self._cond:
            dropped = self._buffer.push(item)
            self._cond.notify_all()
        for old in dropped:
            _call(old.on_ack, False)
        if dropped:
            logger.debug(
                "dropped %d oldest records: Kafka at %s is not taking them", len(dropped), self.bootstrap
            )

    def health(self) -> PublisherHealth:
        with self._cond:
            if not self._failing:
                return PublisherHealth(True)
            return PublisherHealth(
                False,
                f"Kafka at {self.bootstrap} unreachable ({self._last_error}): "
                f"{len(self._buffer)} records buffered, {self._buffer.dropped} dropped",
            )

    @property
    def buffered(self) -> int:
        with self._cond:
            return len(self._buffer)

    @property
    def dropped(self) -> int:
        with self._cond:
            return self._buffer.dropped

    def flush(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._buffer) or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        self.flush(timeout_s)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=timeout_s + 5)
        if self._producer is not None:
            try:
                self._producer.close(timeout=2)
            except Exception:  # closing a producer of a dead broker may raise; nothing to do
                logger.debug("producer close failed", exc_info=True)
            self._producer = None

    # -- sender thread -------------------------------------------------------
    def _fail(self, error: str) -> None:
        with self._cond:
            first = not self._failing
            self._failing = True
            self._last_error = error
        if first:
            logger.warning(
                "Kafka at %s: %s; buffering records (oldest dropped when full)", self.bootstrap, error
            )

    def _ok(self) -> None:
        with self._cond:
            if self._failing:
                logger.info("Kafka at %s reachable again", self.bootstrap)
            self._failing = False
            self._backoff.reset()

    def _connect(self) -> bool:
        from streams.kafka_io import producer

        if self._producer_factory is not None:
            self._producer = self._producer_factory()
            return True
        try:
            self._producer = producer(
                self.bootstrap,
                client_id=self._client_id,
                acks=1,
                enable_idempotence=False,
                linger_ms=0,
                max_block_ms=1000,
                request_timeout_ms=min(3000, self._delivery_timeout_ms - 500),
                delivery_timeout_ms=self._delivery_timeout_ms,
                reconnect_backoff_ms=100,
                reconnect_backoff_max_ms=1000,
                max_request_size=16 * 1024 * 1024,
            )
            return True
        except BrokerError as exc:
            self._fail(f"cannot connect: {exc}")
            return False

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (not len(self._buffer) or self._in_flight >= self._limit()):
                    self._cond.wait(0.2)
                if self._closing:
                    return
            if self._producer is None and not self._connect():
                self._pause()
                continue
            with self._cond:
                item = self._buffer.pop()
                if item is None:
                    continue
                self._in_flight += 1
            self._hand_to_kafka(item)

    def _limit(self) -> int:
        # while Kafka fails, one record probes at a time; the rest wait in the buffer,
        # where the drop-oldest rule applies (not in kafka-python's own queue)
        return 1 if self._failing else self._max_in_flight

    def _pause(self) -> None:
        delay = self._backoff.next()
        with self._cond:
            if not self._closing:
                self._cond.wait(delay)

    def _hand_to_kafka(self, item: Outgoing) -> None:
        from kafka.errors import KafkaError

        try:
            future = self._producer.send(
                item.topic, key=item.key.encode("utf-8"), value=item.value, headers=item.headers or None
            )
        except KafkaError as exc:
            self._requeue(item, f"{type(exc).__name__}: {exc}")
            self._pause()
            return
        future.add_callback(lambda _meta: self._acked(item))
        future.add_errback(lambda exc: self._requeue(item, str(exc) or type(exc).__name__))

    def _acked(self, item: Outgoing) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
        self._ok()
        _call(item.on_ack, True)

    def _requeue(self, item: Outgoing, error: str) -> None:
        self._fail(error)
        with self._cond:
            self._in_flight -= 1
            kept = self._buffer.requeue(item)
            self._cond.notify_all()
        if not kept:
            _call(item.on_ack, False)
