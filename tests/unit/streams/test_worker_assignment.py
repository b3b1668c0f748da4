"""The line a worker logs after each rebalance: its partitions and the cameras they hold."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from aiokafka.structs import TopicPartition

from streams.config import Config
from streams.worker.register import assignment_note
from streams.worker.ticks import partition_of

CFG = cast(
    Config, SimpleNamespace(cameras=[SimpleNamespace(id=c) for c in ("cam-a", "cam-b", "cam-c", "cam-d")])
)


def test_the_note_names_the_partitions_of_the_detections_and_their_cameras() -> None:
    assert [partition_of(c, 4) for c in ("cam-a", "cam-b", "cam-c", "cam-d")] == [1, 2, 0, 2]
    tps: list[Any] = [TopicPartition("p.detections", 2), TopicPartition("p.violations", 1)]
    tps += [TopicPartition("p.detections", 0), TopicPartition("p.worker-rules-changelog", 1)]
    note = assignment_note(CFG, "p.detections", 4, tps)
    assert note == "assigned partitions [0, 2] of 4 (3 cameras: cam-b, cam-c, cam-d)"


def test_a_worker_left_without_partitions_says_so() -> None:
    assert assignment_note(CFG, "p.detections", 4, []) == "assigned partitions [none] of 4 (0 cameras: -)"
