"""kafka-python helpers shared by the CLI tools and the detectors."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams import kafka_security
from streams.backoff import Backoff
from streams.contract.errors import BrokerError
from streams.contract.topics import DEFAULT_PARTITIONS, Topics
from streams.kafka_reach import check_reachable, explain

logger = logging.getLogger(__name__)


def ensure_topics(
    bootstrap: str,
    topics: list[str] | None = None,
    partitions: int = DEFAULT_PARTITIONS,
) -> list[str]:
    """Create the given topics (default: every contract topic) if missing; return the created."""
    wanted = topics if topics is not None else Topics.current().all()
    check_reachable(bootstrap)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="citywatch-admin", **kafka_security.kafka_python()
        )
    except (KafkaError, OSError) as exc:
        raise explain(bootstrap, exc) from None
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            # a race with another creator is fine
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(t, partitions, 1) for t in missing], timeout_ms=10_000)
            logger.info("created topics %s with %d partitions", missing, partitions)
        return missing
    finally:
        admin.close()


C = TypeVar("C", KafkaProducer, KafkaConsumer)


def _connected(client: type[C], settings: dict[str, Any]) -> C:
    """``client(**settings)`` with this process's TLS/SASL settings; a broker that does not
    answer is a ``BrokerError`` naming the setting to fix."""
    check_reachable(str(settings["bootstrap_servers"]))
    try:
        return client(**{**kafka_security.kafka_python(), **settings})
    except (KafkaError, OSError) as exc:
        raise explain(str(settings["bootstrap_servers"]), exc) from None


def producer(bootstrap: str, **overrides: Any) -> KafkaProducer:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": 1,
        "linger_ms": 0,
        "client_id": "citywatch",
    }
    settings.update(overrides)
    return _connected(KafkaProducer, settings)


def group_consumer(bootstrap: str, group_id: str, client_id: str, **overrides: Any) -> KafkaConsumer:
    """A consumer in ``group_id`` that commits by hand, from the oldest record of a new group.
    Its metadata is refreshed every 5 s (kafka-python's default: 5 min): a subscribed topic that
    is created, or created again after a broker lost it, is assigned within seconds."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "heartbeat_interval_ms": 1_000,
        "fetch_max_wait_ms": 200,
        "metadata_max_age_ms": 5_000,
    }
    settings.update(overrides)
    return _connected(KafkaConsumer, settings)


class PollGuard:
    """A hand-run poll loop's ``poll`` that never ends the loop: a poll that raises (the
    coordinator moved, a rebalance or an offset fetch failed, the broker went away, a client
    bug) is logged, waited out with backoff (0.5 s doubling to ``cap_s``, or until ``stop``)
    and answered with no records; the next good poll resets the wait. A raising poll hands out
    no records, so nothing is skipped: the consumer's positions move only with records returned.
    ``ok`` says whether the latest poll answered (a role's health counts only those rounds)."""

    def __init__(self, role: str, stop: threading.Event, cap_s: float = 10.0) -> None:
        self.role = role
        self.stop = stop
        self.failures = 0  # polls that raised, in all
        self.ok = True
        self._backoff = Backoff(0.5, 2.0, cap_s)

    def poll(self, consumer: Any, timeout_ms: int) -> dict[Any, list[Any]]:
        try:
            polled = consumer.poll(timeout_ms=timeout_ms)
        except Exception as exc:  # one failed round must not end the role
            self.failures += 1
            self.ok = False
            delay = self._backoff.next()
            if isinstance(exc, KafkaError):
                logger.warning("%s: poll failed (%s: %s); polling again in %.1f s", self.role,
                               type(exc).__name__, exc, delay)  # fmt: skip
            else:
                logger.exception("%s: poll failed unexpectedly; polling again in %.1f s", self.role, delay)
            self.stop.wait(delay)
            return {}
        self.ok = True
        self._backoff.reset()
        return dict(polled)


def close_quietly(role: str, close: Callable[[], Any]) -> None:
    """Close a client on the way out; a failure is logged, never raised over the reason for
    leaving (the exception that ended the loop, or a clean stop)."""
    try:
        close()
    except Exception as exc:  # leaving anyway
        logger.warning("%s: closing a Kafka client failed (%s: %s)", role, type(exc).__name__, exc)


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON line form used by ``citywatch tail`` and read by ``citywatch replay``."""
        value: Any
        if self.value is None:
            value = None
        else:
            try:
                value = json.loads(self.value)
            except (ValueError, RecursionError):  # not JSON, or hostile JSON (too deep, huge numbers)
                value = {"base64": base64.b64encode(self.value).decode("ascii")}
        out: dict[str, Any] = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": self.key,
            "value": value,
        }
        if self.headers:
            out["headers"] = {k: v.decode("utf-8", "replace") for k, v in self.headers}
        return out


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = False,
    max_records: int | None = None,
    timeout_s: float | None = None,
    poll_ms: int = 200,
    on_ready: Callable[[dict[TopicPartition, int]], None] | None = None,
) -> Iterator[Message]:
    """Yield records of ``topic`` (all partitions, no consumer group).

    Stops after ``max_records``, or after ``timeout_s`` seconds without a new
    record. Never decides "read everything" from end offsets, which the
    embedded broker may report short of the last batch. ``on_ready`` is called
    with the end offsets once every partition has its start: any record sent
    after that is read.
    """
    consumer = standalone_consumer(bootstrap, "citywatch-tail")
    try:
        ends = assign_all(consumer, [topic], from_beginning=from_beginning, timeout_s=timeout_s)
        if on_ready is not None:
            on_ready(ends)
        count = 0
        last = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=poll_ms)
            got = False
            for records in batch.values():
                for r in records:
                    got = True
                    yield Message(
                        r.topic,
                        r.partition,
                        r.offset,
                        r.key.decode("utf-8", "replace") if r.key is not None else None,
                        r.value,
                        r.timestamp,
                        tuple((k, v) for k, v in (r.headers or [])),
                    )
                    count += 1
                    if max_records is not None and count >= max_records:
                        return
            now = time.monotonic()
            if got:
                last = now
            elif timeout_s is not None and now - last >= timeout_s:
                return
    finally:
        consumer.close()


def _wait_for_partitions(consumer: KafkaConsumer, topic: str, timeout_s: float | None) -> set[int]:
    deadline = None if timeout_s is None else time.monotonic() + max(timeout_s, 1.0)
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return set(parts)
        if deadline is not None and time.monotonic() >= deadline:
            raise BrokerError(
                f"topic {topic!r} does not exist; create the contract topics with "
                "`citywatch broker` (embedded) or check the name and CITYWATCH_TOPIC_PREFIX"
            )
        time.sleep(0.2)


def standalone_consumer(bootstrap: str, client_id: str, **overrides: Any) -> KafkaConsumer:
    """A consumer outside any consumer group that commits nothing (start it with ``assign_all``)."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "enable_auto_commit": False,
        "group_id": None,
        "client_id": client_id,
        "fetch_max_wait_ms": 100,
    }
    settings.update(overrides)
    return _connected(KafkaConsumer, settings)


Starts = Callable[[dict[TopicPartition, int], dict[TopicPartition, int]], dict[TopicPartition, int]]


def assign_all(
    consumer: KafkaConsumer,
    topics: list[str],
    *,
    from_beginning: bool,
    timeout_s: float | None = 10.0,
    starts: Starts | None = None,
) -> dict[TopicPartition, int]:
    """Assign every partition of ``topics`` (no consumer group) at explicit offsets: the
    beginning offsets, or the end offsets, or what ``starts(beginnings, ends)`` chooses (a
    partition it leaves out starts at its beginning). The one way every reader here starts.

    Waits up to ``timeout_s`` (None: for ever) for each topic's partitions. Returns the
    end offsets seen at assignment, so a caller can tell when it has caught up with what
    was there. Explicit offsets, never seek_to_end() or seek_to_beginning(): on an empty
    partition of the embedded broker seek_to_end() left the consumer deaf.
    """
    tps = [TopicPartition(t, p) for t in topics for p in sorted(_wait_for_partitions(consumer, t, timeout_s))]
    consumer.assign(tps)
    ends = {tp: max(0, int(o or 0)) for tp, o in consumer.end_offsets(tps).items()}
    if starts is None and not from_beginning:
        chosen = ends
    else:
        beginnings = {tp: max(0, int(o or 0)) for tp, o in consumer.beginning_offsets(tps).items()}
        chosen = beginnings if starts is None else {**beginnings, **starts(beginnings, ends)}
    for tp in tps:
        consumer.seek(tp, max(0, int(chosen.get(tp) or 0)))
    return ends


def committed_offsets(bootstrap: str, group: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The offsets ``group`` has committed on ``topics`` (partitions it never committed are
    left out). ``BrokerError`` when Kafka cannot say."""
    wanted = set(topics)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="citywatch-offsets", **kafka_security.kafka_python()
        )
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {bootstrap} ({exc}) to read group {group}'s offsets"
        ) from None
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    except KafkaError as exc:
        raise BrokerError(f"Kafka at {bootstrap} did not say group {group}'s offsets ({exc})") from None
    finally:
        admin.close()
    return {
        TopicPartition(tp.topic, tp.partition): int(meta.offset)
        for tp, meta in committed.items()
        if tp.topic in wanted and meta.offset is not None and meta.offset >= 0
    }
