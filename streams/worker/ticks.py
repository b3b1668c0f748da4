"""Deadline ticks: a timer asks a key's agent to act on a deadline by sending it
``{"kind": "tick", "at": ...}`` on the agent's own input topic, for the keys of the
partitions this worker owns, once per deadline (``Retick``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
from kafka.partitioner import murmur2

from streams.contract.internal_records import TickInput
from streams.contract.records import parse_object
from streams.contract.timeutil import from_iso, to_iso


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (tables are keyed like their topics)."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def active_partitions(app: faust.App, topic_name: str) -> set[int]:
    """The partitions of ``topic_name`` this worker owns now."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic_name}


@dataclass
class Retick:
    """When each key was last ticked: a key is ticked again only ``every_s`` later, or
    (``any_deadline`` False) as soon as its deadline changed."""

    every_s: float
    any_deadline: bool = False
    last: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (deadline, monotonic)

    def due(self, key: str, deadline: float, mono: float) -> bool:
        last = self.last.get(key)
        if last is not None and (self.any_deadline or last[0] == deadline) and mono - last[1] < self.every_s:
            return False  # already asked; the answer reschedules it
        self.last[key] = (deadline, mono)
        return True

    def forget(self, key: str) -> None:
        self.last.pop(key, None)

    def clear(self) -> None:
        self.last.clear()


async def send_ticks(
    app: faust.App,
    partitions: int,
    topic: faust.TopicT,
    keys: Iterable[str],
    deadline_of: Callable[[str], tuple[float | None, float]],
    retick: Retick,
    send_json: Callable[[faust.TopicT, str, dict[str, Any]], Awaitable[None]],
) -> None:
    """Tick every key of ``keys`` this worker owns whose deadline passed.

    ``deadline_of(key)`` gives the key's deadline and its "now"; it is called only for
    keys this worker owns. The tick carries that "now".
    """
    actives = active_partitions(app, topic.get_topic_name())
    for key in keys:
        if partition_of(key, partitions) not in actives:
            continue
        deadline, now = deadline_of(key)
        if deadline is None or deadline > now or not retick.due(key, deadline, time.monotonic()):
            continue
        await send_json(topic, key, TickInput(kind="tick", at=to_iso(now)).model_dump())


def tick_at(value: bytes | None) -> float:
    """The time a tick of a feeds' ticks topic carries."""
    return from_iso(str(parse_object(value, "tick")["at"]))
