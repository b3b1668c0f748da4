"""What the worker does when Kafka goes away and comes back (the I/O edge of the worker).

    every PROBE_EVERY_S: a metadata request with a short timeout (a fresh connection)
      no answer twice in a row ──▶ kafka unreachable: /healthz says "degraded" (503)
      answer, and topics that were there are missing or have a new topic id (a topic
      recreated under the old name, by anyone: an operator, `citywatch broker`, a producer's
      auto-creation), or (a broker without topic ids, after an outage) an input partition
      ends below what this worker read there ─▶ the broker lost its topics (a restarted
          broker with memory storage): recreate them, re-write this worker's tables to the new
          changelogs, forget the old topics' offsets (recovery's and the consumer's), read
          the inputs from their new beginning, say so in the log and /healthz ("lost")
    send_acked(topic, ...)   ──▶ returns once the broker acknowledged the record, or raises
                                 BrokerUnavailableError after ACK_TIMEOUT_S (HTTP: 503)

Faust's recovery consistency check compares a changelog's high-water mark with the
offset this worker read up to before; after the broker lost its topics the new
changelog is shorter and the check raised ConsistencyError, which stopped the
worker. The check guards RocksDB files against a rewound topic; with the memory
store the offsets come only from this process, so ``install`` turns it off.

Topic ids decide it whoever recreated a topic and whenever the probe looks: missing topics
alone did not (the worker's own producer recreates a changelog by writing to it), and
comparing offsets did not once a rebalance had made the consumer forget what it read.

``BrokerHealth.observe`` and ``rewound_partitions`` are the pure part: a probe's
result and its time in, the decision (lost topics, changes of reachability) out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafka.partitioner import murmur2

from streams import kafka_logs, kafka_security
from streams.contract.errors import BrokerUnavailableError

if TYPE_CHECKING:
    import faust

    from streams.worker import Worker

logger = logging.getLogger(__name__)

PROBE_EVERY_S = 3.0  # how often /healthz's view of Kafka is refreshed
PROBE_TIMEOUT_S = 2.0
UNREACHABLE_AFTER = 2  # consecutive unanswered probes (one slow answer on a busy box is no outage)
ACK_TIMEOUT_S = 5.0  # how long a request waits for the broker's acknowledgement
LOST_KEPT = 10  # notes of lost state kept for /healthz
# after an outage, how long input partitions are compared with what was read there (the
# embedded broker reports end offsets short of the last batch, so never outside this window)
REWIND_WINDOW_S = 90.0


@dataclass(frozen=True)
class Observation:
    """What one probe changed."""

    became_unreachable: bool = False
    became_reachable: bool = False
    missing: tuple[str, ...] = ()  # expected topics the broker does not have
    replaced: tuple[str, ...] = ()  # expected topics with another topic id than before
    lost: bool = False  # topics it had are missing or replaced: it lost its topics
    check_rewind: bool = False  # back after an outage: compare the inputs' ends with what was read


@dataclass
class BrokerHealth:
    """The worker's view of Kafka, refreshed by the probe (pure: times are passed in)."""

    reachable: bool | None = None  # None until the first probe
    checked_at: float | None = None
    reachable_since: float | None = None
    unreachable_since: float | None = None
    had_topics: bool = False  # every expected topic was there at least once
    rewind_window_until: float | None = None  # set when Kafka answers again after an outage
    lost: list[str] = field(default_factory=list)  # what the worker lost, newest last
    topic_ids: dict[str, str] = field(default_factory=dict)  # expected topic -> its id when last seen
    failed_probes: int = 0  # consecutive probes without an answer
    first_failure_at: float | None = None  # ... the first of them

    def observe(
        self, now: float, topics: Mapping[str, str | None] | Iterable[str] | None, expected: Iterable[str]
    ) -> Observation:
        """One probe at ``now``: the broker's topics (names, or names with their topic ids;
        None for a broker that reports none), or None when it did not answer."""
        self.checked_at = now
        if topics is None:
            self.failed_probes += 1
            if self.failed_probes == 1:
                self.first_failure_at = now
            if self.failed_probes < UNREACHABLE_AFTER or self.reachable is False:
                return Observation()
            self.reachable, self.unreachable_since = False, self.first_failure_at
            return Observation(became_unreachable=True)
        self.failed_probes = 0
        was = self.reachable
        self.reachable = True
        if was is not True:
            self.reachable_since, self.unreachable_since = now, None
        if was is False:
            self.rewind_window_until = now + REWIND_WINDOW_S
        ids = topics if isinstance(topics, Mapping) else dict.fromkeys(topics)
        expected = list(expected)
        missing = tuple(t for t in expected if t not in ids)
        replaced = self._note_ids(expected, ids)
        lost = (bool(missing) and self.had_topics) or bool(replaced)
        if not missing:
            self.had_topics = True
        until = self.rewind_window_until
        check = until is not None and now <= until
        if until is not None and not check:
            self.rewind_window_until = None
        return Observation(
            became_reachable=was is False, missing=missing, replaced=replaced, lost=lost, check_rewind=check
        )

    def _note_ids(self, expected: list[str], ids: Mapping[str, str | None]) -> tuple[str, ...]:
        """Remember the expected topics' ids; return those whose id changed since last seen."""
        replaced = []
        for name in expected:
            if name not in ids:
                self.topic_ids.pop(name, None)  # gone: whoever creates it next makes a new one
                continue
            now_id = ids[name]
            if not now_id or set(now_id) <= set("0-"):  # the broker does not report topic ids
                continue
            before = self.topic_ids.get(name)
            if before is not None and before != now_id:
                replaced.append(name)
            self.topic_ids[name] = now_id
        return tuple(replaced)

    def repaired(self) -> None:
        """The lost state was dealt with: no more comparing until the next outage."""
        self.rewind_window_until = None

    def note_lost(self, note: str) -> None:
        self.lost.append(note)
        del self.lost[:-LOST_KEPT]

    def report(self, last_activity_at: float | None) -> dict[str, Any]:
        """The ``kafka`` object of /healthz; ``ok`` is false while Kafka does not answer."""
        return {
            "ok": self.reachable is not False,
            "reachable": self.reachable,
            "checked_at": _iso(self.checked_at),
            "unreachable_since": _iso(self.unreachable_since),
            "last_activity_at": _iso(last_activity_at),
            "lost": list(self.lost),
        }


def _iso(t: float | None) -> str | None:
    from streams.contract.timeutil import to_iso

    return None if t is None else to_iso(t)


def describe_topics(bootstrap: str, timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, str | None] | None:
    """Every topic's name and topic id over a fresh connection (blocking), or None when the
    broker does not answer in time."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=ms,
            bootstrap_timeout_ms=ms,
            client_id="citywatch-probe",
            **kafka_security.kafka_python(),
        )
    except KafkaConfigurationError:
        raise  # a mistake here, not an unreachable broker
    except (KafkaError, OSError):
        return None
    try:
        return {t["name"]: t.get("topic_id") for t in admin.describe_topics()}
    except (KafkaError, OSError):
        return None
    finally:
        with contextlib.suppress(Exception):  # closing a client whose connection broke
            admin.close()


async def probe_topics(bootstrap: str, timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, str | None] | None:
    """``describe_topics`` off the event loop, given up after ``timeout_s`` (and a second)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(describe_topics, bootstrap, timeout_s), timeout_s + 1)
    except TimeoutError:
        return None


async def send_acked(topic: faust.TopicT, key: bytes, value: bytes, timeout_s: float = ACK_TIMEOUT_S) -> None:
    """Send one record and wait for the broker's acknowledgement.

    Raises ``BrokerUnavailableError`` when the broker does not acknowledge it
    within ``timeout_s``: the caller must not report the record as accepted.
    """
    from aiokafka.errors import KafkaError

    async def send() -> None:
        pending = await topic.send(key=key, value=value)
        await pending

    try:
        await asyncio.wait_for(send(), timeout_s)
    except TimeoutError:
        raise BrokerUnavailableError(
            f"Kafka did not acknowledge the record within {timeout_s:g}s (is the broker up?); "
            "it was not accepted: send it again later"
        ) from None
    except KafkaError as exc:
        raise BrokerUnavailableError(
            f"Kafka refused the record ({exc}); it was not accepted: send it again later"
        ) from None


async def send_all_acked(
    topic: faust.TopicT, records: list[tuple[bytes, bytes]], timeout_s: float = ACK_TIMEOUT_S
) -> None:
    """``send_acked`` for a batch: every record is acknowledged within one timeout, or none counts."""
    await asyncio.gather(*(send_acked(topic, k, v, timeout_s) for k, v in records))


def rewound_partitions(
    tps: Iterable[Any],
    read: Mapping[Any, int | None],
    committed: Mapping[Any, int | None],
    ends: Mapping[Any, int | None],
) -> list[Any]:
    """Partitions whose end offset is below what this worker read or committed there.

    A Kafka partition never shrinks; one that did is a new topic under the old name.
    Faust's read offset is the last offset read, or after a seek the next one to read,
    so only an end below it counts (an end equal to it is a partition read to its end).
    """
    out = []
    for tp in tps:
        end = ends.get(tp)
        if end is None:
            continue
        last_read, next_committed = read.get(tp), committed.get(tp)
        below_read = last_read is not None and end < last_read
        below_committed = next_committed is not None and end < next_committed
        if below_read or below_committed:
            out.append(tp)
    return out


def _partition(key: Any, partitions: int) -> int:
    # the tables are keyed like their source topics, partitioned by Kafka's default partitioner
    return int(murmur2(str(key).encode()) & 0x7FFFFFFF) % partitions


class BrokerWatch:
    """Probes Kafka for the worker and repairs what a broker that lost its topics broke."""

    def __init__(self, worker: Worker, bootstrap: str, *, every_s: float = PROBE_EVERY_S) -> None:
        self.worker = worker
        self.bootstrap = bootstrap
        self.every_s = every_s
        self.health = BrokerHealth()
        # called after the lost topics were repaired (the worker's restore from the case record)
        self.after_lost: list[Callable[[], Awaitable[None]]] = []

    def expected_topics(self) -> list[str]:
        app = self.worker.app
        changelogs = [tbl.changelog_topic.get_topic_name() for tbl in app.tables.values()]
        return [*self.worker.topics.all(), *changelogs]

    def report(self) -> dict[str, Any]:
        last = self.worker.stats.last_detection_at or None
        return self.health.report(last)

    async def run(self) -> None:
        """Probe forever; never let a probe's failure end the loop."""
        while True:
            try:
                await self.probe_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("kafka probe failed; trying again in %gs", self.every_s)
            await asyncio.sleep(self.every_s)

    async def probe_once(self) -> Observation:
        topics = await probe_topics(self.bootstrap)
        expected = self.expected_topics()
        seen = self.health.observe(time.time(), topics, expected)
        if seen.became_unreachable:
            logger.warning("kafka at %s does not answer: /healthz is degraded until it does", self.bootstrap)
        if seen.became_reachable:
            logger.warning("kafka at %s answers again", self.bootstrap)
        if topics is None:
            return seen
        rewound = await self._rewound() if seen.check_rewind else []
        if seen.missing or seen.replaced or rewound:
            await self._repair(
                list(seen.missing), list(seen.replaced), rewound, lost=seen.lost or bool(rewound)
            )
        return seen

    async def _rewound(self) -> list[Any]:
        """Input partitions whose end is below what this worker read or committed there."""
        consumer: Any = self.worker.app.consumer
        changelogs = {tbl.changelog_topic.get_topic_name() for tbl in self.worker.app.tables.values()}
        tps = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
        if not tps:
            return []
        try:
            ends = await asyncio.wait_for(consumer.highwaters(*tps), PROBE_TIMEOUT_S)
        except Exception as exc:  # the broker went away again, or a rebalance: next probe
            logger.debug("kafka probe: end offsets unavailable (%s)", exc)
            return []
        return rewound_partitions(tps, consumer._read_offset, consumer._committed_offset, ends)

    async def _repair(
        self, missing: list[str], replaced: list[str], rewound: list[Any], *, lost: bool
    ) -> None:
        from streams.kafka_io import ensure_topics

        partitions = self.worker.partitions
        if missing:
            await asyncio.to_thread(ensure_topics, self.bootstrap, missing, partitions)
        if not lost:
            logger.info("created missing topics %s", missing)
            return
        # the broker lost everything: every changelog is new, whoever created it
        changelogs = {tbl.changelog_topic.get_topic_name(): tbl for tbl in self.worker.app.tables.values()}
        self._forget_recovery_offsets(list(changelogs))
        reread = await self._read_inputs_again(set(changelogs))
        rewritten = sum(self._rewrite(table) for table in changelogs.values())
        note = (
            f"broker lost its topics ({len(missing)} recreated, {len(replaced)} found recreated, "
            f"{len(rewound)} partitions found "
            f"rewound): table state for {len(changelogs) * partitions} changelog partitions was "
            f"lost on the broker and {rewritten} table records were re-written from this "
            f"worker's memory; {reread} input partitions are read again from their new beginning; "
            "input records the worker had not read yet, committed offsets and the history of "
            "output topics are gone"
        )
        self.health.note_lost(f"{_iso(time.time())} {note}")
        self.health.repaired()
        logger.warning("%s", note)
        for then in self.after_lost:
            await then()

    def _forget_recovery_offsets(self, changelogs: list[str]) -> None:
        """Recovery would seek past the new, shorter changelogs: start them from the beginning."""
        tables: Any = self.worker.app.tables  # the TableManager (its type stub lacks .recovery)
        recovery = tables.recovery
        names = set(changelogs)
        for offsets in (
            recovery.active_offsets,
            recovery.standby_offsets,
            recovery.active_highwaters,
            recovery.standby_highwaters,
        ):
            for tp in [tp for tp in offsets if tp.topic in names]:
                offsets[tp] = -1

    async def _read_inputs_again(self, changelogs: set[str]) -> int:
        """Forget what the consumer read from the old topics and read the new ones from offset 0.

        Faust drops every record below the offset it last read in a partition (a
        redelivery, it assumes), so the new topics' records would be skipped until
        their offsets passed the old ones.
        """
        consumer: Any = self.worker.app.consumer
        count = 0
        for tp in sorted(consumer.assignment()):
            if tp.topic in changelogs:
                continue  # recovery reads those (offsets forgotten above)
            for offsets in (
                consumer._gap,
                consumer._acked,
                consumer._acked_index,
                consumer._read_offset,
                consumer._committed_offset,
            ):
                offsets.pop(tp, None)
            await consumer.seek(tp, 0)
            count += 1
        return count

    def _rewrite(self, table: Any) -> int:
        """Re-send every record of ``table`` this worker holds to its (new) changelog."""
        partitions = self.worker.partitions
        count = 0
        for key, value in list(table.data.items()):
            table.send_changelog(_partition(key, partitions), key, value)
            count += 1
        return count


def install(worker: Worker, bootstrap: str) -> BrokerWatch:
    """Watch Kafka from this worker: /healthz's ``kafka`` report, lost topics repaired."""
    app = worker.app
    app.conf.recovery_consistency_check = False  # see the module docstring
    watch = BrokerWatch(worker, bootstrap)
    worker.health["kafka"] = watch.report

    @app.task  # type: ignore[untyped-decorator]
    async def watch_kafka() -> None:
        repeats = kafka_logs.RepeatFilter()  # on the handlers Faust set up by now
        for handler in logging.getLogger().handlers:
            handler.addFilter(repeats)
        kafka_logs.install(logging.getLogger().handlers)
        await watch.run()

    return watch
