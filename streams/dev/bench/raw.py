"""The ceiling the streams benchmark compares the worker with: a kafka-python consumer
tuned to read as fast as it can (no group, all partitions, large fetches, short fetch
wait), its consume rate and its producer-to-consumer round trip."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafka import KafkaConsumer


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def tuned_consumer(bootstrap: str, *topic_names: str, from_beginning: bool) -> KafkaConsumer:
    """A kafka-python consumer set up to read as fast as it can: the ceiling of this broker."""
    from streams.kafka_io import assign_all, standalone_consumer

    consumer = standalone_consumer(
        bootstrap,
        "citywatch-bench",
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_wait_ms=5,
        max_poll_records=10_000,
    )
    assign_all(consumer, list(topic_names), from_beginning=from_beginning, timeout_s=30)
    return consumer


def raw_consume_rate(bootstrap: str, topic: str, n: int, timeout_s: float) -> float:
    """Records per second of the tuned consumer over ``n`` known records."""
    consumer = tuned_consumer(bootstrap, topic, from_beginning=True)
    try:
        for tp in consumer.assignment():
            consumer.position(tp)  # resolve the start offsets before the clock starts
        got = 0
        deadline = time.monotonic() + timeout_s
        start = last = time.perf_counter()
        while got < n and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=100).values():
                got += len(records)
                last = time.perf_counter()
        if got < n:
            raise RuntimeError(f"the tuned consumer read {got} of {n} records in {timeout_s:g}s")
        # from the first fetch to the last record: one fetch round trip more than the
        # worker's interval (first record processed to last), negligible for large N
        return n / max(last - start, 1e-9)
    finally:
        consumer.close()


def raw_round_trips(bootstrap: str, topic: str, count: int, pace_s: float) -> list[float]:
    """Milliseconds from a kafka-python producer's send to the tuned consumer's receipt."""
    from kafka import KafkaProducer

    from streams.kafka_security import kafka_python

    consumer = tuned_consumer(bootstrap, topic, from_beginning=False)
    producer = KafkaProducer(**kafka_python(), bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    latencies: list[float] = []
    marker = uuid.uuid4().hex.encode()
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set() and len(latencies) < count:
            for records in consumer.poll(timeout_ms=50).values():
                now_ms = time.time() * 1000.0
                latencies.extend(now_ms - r.timestamp for r in records if r.key == marker)

    reader = threading.Thread(target=receive, daemon=True)
    try:
        producer.send(topic, key=b"warmup", value=b"{}").get(10)
        consumer.poll(timeout_ms=200)
        reader.start()
        for _ in range(count):
            producer.send(topic, key=marker, value=b'{"v":1}', timestamp_ms=int(time.time() * 1000))
            producer.flush()
            time.sleep(pace_s)
        reader.join(30)
    finally:
        stop.set()
        if reader.is_alive():
            reader.join(5)
        producer.close()
        consumer.close()
    return latencies
