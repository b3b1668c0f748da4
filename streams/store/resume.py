"""Where a reader of the history topics starts: at the store's committed offsets.

The store (consumer group ``<prefix>store``) commits a partition's offset only after its
transaction committed, so the case record holds every record before that offset. A reader
that starts from the database (the board, a patrol) reads each partition from there; a
partition the store never committed is read from its beginning, which changes nothing the
database already told (board and patrol apply records idempotently, older ones never over
newer).

``store_offsets`` asks Kafka (one helper for every reader); ``plan_starts`` is the pure choice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from streams.contract.errors import BrokerError
from streams.contract.topics import Topics
from streams.kafka_io import committed_offsets
from streams.store.role import StoreOptions

logger = logging.getLogger(__name__)

Partition = tuple[str, int]  # (topic, partition): the same for kafka-python and aiokafka


def store_group(topics: Topics) -> str:
    """The store's consumer group (its default: ``<prefix>store``)."""
    return StoreOptions(bootstrap="", topics=topics).group()


def store_offsets(bootstrap: str, topics: Topics, names: Iterable[str]) -> dict[Partition, int]:
    """The store group's committed offsets on the topics ``names``; empty (and logged) when
    Kafka cannot say, so the caller reads from the beginning."""
    group = store_group(topics)
    try:
        found = committed_offsets(bootstrap, group, list(names))
    except BrokerError as exc:
        logger.warning("%s; reading from the beginning", exc)
        return {}
    return {(tp.topic, tp.partition): offset for tp, offset in found.items()}


@dataclass(frozen=True)
class Starts:
    """Where each partition starts, and which of them start at the store's offset."""

    offsets: dict[Partition, int]
    from_store: frozenset[Partition]

    def summary(self) -> str:
        n, stored = len(self.offsets), len(self.from_store)
        if stored == 0:
            return f"all {n} partitions from the beginning"
        if stored == n:
            return f"all {n} partitions from the store's offsets"
        return f"{stored} of {n} partitions from the store's offsets, {n - stored} from the beginning"


def plan_starts(
    partitions: Iterable[Partition], committed: Mapping[Partition, int], beginnings: Mapping[Partition, int]
) -> Starts:
    """The store's offset where it has one (not before the partition's first record: what
    retention deleted is gone for every reader), else the partition's beginning.

    No end offset is held against it: the embedded broker reports them short. An offset past
    the partition's end (the broker lost the topic) is what the store resumes from too; the
    readers' consumers reset such an offset to the beginning (``auto_offset_reset``)."""
    offsets: dict[Partition, int] = {}
    stored: set[Partition] = set()
    for tp in partitions:
        first = max(0, beginnings.get(tp, 0))
        mark = committed.get(tp)
        if mark is not None:
            offsets[tp] = max(mark, first)
            stored.add(tp)
        else:
            offsets[tp] = first
    return Starts(offsets, frozenset(stored))
