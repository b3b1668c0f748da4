"""The roles' health decision and report (pure parts; the server itself is tested on the
embedded broker in tests/integration/test_role_health.py)."""

from __future__ import annotations

import pytest

from streams.role_health import RoleHealth, assess, consumer_lag


@pytest.mark.parametrize(
    ("age_s", "reachable", "expected"),
    [
        (1.0, True, []),
        (1.0, None, []),  # not probed yet
        (1.0, False, ["kafka"]),
        (61.0, True, ["activity"]),
        (61.0, False, ["kafka", "activity"]),
        (60.0, True, []),
    ],
)
def test_assess(age_s: float, reachable: bool | None, expected: list[str]) -> None:
    assert (
        assess(1000.0, last_activity=1000.0 - age_s, kafka_reachable=reachable, stale_after_s=60.0)
        == expected
    )


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


def test_report_turns_503_without_activity_and_back() -> None:
    clock = Clock()
    health = RoleHealth("store", "127.0.0.1:1", stale_after_s=30.0, clock=clock)
    assert health.report()[0] == 200  # just started
    clock.t += 31
    status, body = health.report()
    assert status == 503 and body["degraded"] == ["activity"] and body["last_activity_at"] is None
    health.round()
    status, body = health.report()
    assert status == 200 and body["status"] == "ok" and body["last_activity_at"] is not None


def test_kafka_is_unreachable_after_two_failed_probes() -> None:
    clock = Clock()
    health = RoleHealth("speaker", "127.0.0.1:1", clock=clock)
    health.kafka.observe(clock(), None, [])
    assert health.report()[0] == 200  # one slow answer is no outage
    health.kafka.observe(clock(), None, [])
    status, body = health.report()
    assert status == 503 and body["degraded"] == ["kafka"] and body["kafka"]["reachable"] is False


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


class FakeConsumer:
    def __init__(self, parts: dict[tuple[str, int], tuple[int | None, int]]) -> None:
        self.parts = parts

    def assignment(self) -> set[TP]:
        return {TP(t, p) for t, p in self.parts}

    def highwater(self, tp: TP) -> int | None:
        return self.parts[(tp.topic, tp.partition)][0]

    def position(self, tp: TP) -> int:
        return self.parts[(tp.topic, tp.partition)][1]


def test_consumer_lag_sums_known_partitions_by_topic() -> None:
    consumer = FakeConsumer({("a", 0): (10, 4), ("a", 1): (5, 5), ("b", 0): (None, 0), ("c", 0): (3, 7)})
    assert consumer_lag(consumer) == {"a": 6, "c": 0}


def test_lag_is_read_at_most_every_two_seconds() -> None:
    clock = Clock()
    health = RoleHealth("detect", "127.0.0.1:1", clock=clock)
    consumer = FakeConsumer({("a", 0): (10, 4)})
    health.round(consumer)
    assert health.lag == {"a": 6}
    consumer.parts[("a", 0)] = (20, 4)
    health.round(consumer)
    assert health.lag == {"a": 6}
    clock.t += 2
    health.round(consumer)
    assert health.lag == {"a": 16}


def test_the_roles_health_does_not_import_faust() -> None:
    """faust reads sys.argv at import: a detector role's --loop would become its event loop."""
    import subprocess
    import sys

    code = "import sys, streams.role_health, streams.role_metrics; sys.exit('faust' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_topics_are_reported() -> None:
    clock = Clock()
    health = RoleHealth("capture", "127.0.0.1:1", ["p.frames", "p.camera-status"], clock=clock)
    health.kafka.observe(clock(), {"p.frames"}, health.expected)
    assert health.report()[1]["kafka"]["missing_topics"] == ["p.camera-status"]
