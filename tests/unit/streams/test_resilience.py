"""The worker's view of Kafka (pure), acknowledged sends with fakes, and /healthz and the
broadcast form when Kafka does not answer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from streams.contract.errors import BrokerUnavailableError, WebError
from streams.kafka_logs import RepeatFilter
from streams.worker.resilience import (
    LOST_KEPT,
    REWIND_WINDOW_S,
    BrokerHealth,
    Observation,
    rewound_partitions,
    send_acked,
    send_all_acked,
)

from ...web_support import bearer, make_state, run_client

EXPECTED = ["t.alerts", "t.detections", "t.worker-incidents-changelog"]


def test_reachability_changes_are_reported_once() -> None:
    h = BrokerHealth()
    assert h.report(None)["ok"] is True and h.reachable is None  # not probed yet: not degraded
    seen = h.observe(10.0, set(EXPECTED), EXPECTED)
    assert (seen.became_reachable, seen.became_unreachable, seen.missing, seen.lost) == (
        False,
        False,
        (),
        False,
    )
    assert h.observe(11.0, None, EXPECTED) == Observation()  # one unanswered probe is no outage
    assert h.reachable is True and h.observe(12.0, set(EXPECTED), EXPECTED) == Observation()
    assert not h.observe(13.0, None, EXPECTED).became_unreachable
    seen = h.observe(16.0, None, EXPECTED)  # the second in a row
    assert seen.became_unreachable and h.unreachable_since == 13.0
    assert h.observe(17.0, None, EXPECTED).became_unreachable is False  # still down: said once
    assert h.unreachable_since == 13.0
    report = h.report(12.0)
    assert report["ok"] is False and report["reachable"] is False
    assert report["checked_at"] == "1970-01-01T00:00:17.000Z"
    assert report["last_activity_at"] == "1970-01-01T00:00:12.000Z"
    seen = h.observe(19.0, set(EXPECTED), EXPECTED)
    assert seen.became_reachable and not seen.lost
    assert h.report(None)["ok"] is True and h.unreachable_since is None


def test_topics_missing_after_they_were_there_means_the_broker_lost_them() -> None:
    h = BrokerHealth()
    first = h.observe(1.0, {"t.alerts"}, EXPECTED)  # a first start: missing, nothing lost
    assert first.missing == ("t.detections", "t.worker-incidents-changelog") and not first.lost
    assert h.observe(2.0, set(EXPECTED), EXPECTED).missing == ()
    h.observe(3.0, None, EXPECTED)
    h.observe(3.5, None, EXPECTED)
    back = h.observe(4.0, {"t.alerts", "t.detections"}, EXPECTED)  # contract topics recreated, changelog not
    assert back.became_reachable and back.lost and back.missing == ("t.worker-incidents-changelog",)


def test_a_topic_with_a_new_id_means_the_broker_lost_it_whoever_recreated_it() -> None:
    h = BrokerHealth()
    ids = {name: f"id-{name}-1" for name in EXPECTED}
    assert not h.observe(1.0, ids, EXPECTED).lost
    assert not h.observe(2.0, ids, EXPECTED).lost  # the same topics: nothing lost
    # restarted between two probes, every topic recreated before the probe looked again
    again = {name: f"id-{name}-2" for name in EXPECTED}
    seen = h.observe(5.0, again, EXPECTED)
    assert seen.lost and seen.missing == () and seen.replaced == tuple(EXPECTED)
    assert not h.observe(8.0, again, EXPECTED).lost  # said once
    # a topic found missing and then created by the repair is not lost twice
    h.observe(9.0, {n: i for n, i in again.items() if n != "t.alerts"}, EXPECTED)
    assert not h.observe(10.0, {**again, "t.alerts": "id-t.alerts-3"}, EXPECTED).lost


def test_a_broker_without_topic_ids_is_judged_by_missing_topics_only() -> None:
    h = BrokerHealth()
    zero = "00000000-0000-0000-0000-000000000000"
    assert not h.observe(1.0, dict.fromkeys(EXPECTED, zero), EXPECTED).lost
    assert not h.observe(2.0, dict.fromkeys(EXPECTED), EXPECTED).lost


def test_notes_of_lost_state_are_bounded() -> None:
    h = BrokerHealth()
    for i in range(LOST_KEPT + 5):
        h.note_lost(f"note {i}")
    assert len(h.lost) == LOST_KEPT and h.lost[-1] == f"note {LOST_KEPT + 4}"


class FakeTopic:
    """A Faust topic whose send returns a future that the fake broker settles (or never does)."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[Any]:
        self.sent.append((key, value))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.outcome == "ack":
            fut.set_result("metadata")
        elif self.outcome == "error":
            fut.set_exception(KafkaTimeoutError())
        return fut  # "hang": never settled, like a broker that is gone


def test_send_acked_returns_only_after_the_ack() -> None:
    topic = FakeTopic("ack")
    asyncio.run(send_all_acked(topic, [(b"k1", b"v1"), (b"k2", b"v2")], timeout_s=1.0))  # type: ignore[arg-type]
    assert topic.sent == [(b"k1", b"v1"), (b"k2", b"v2")]


@pytest.mark.parametrize("outcome", ["hang", "error"])
def test_send_acked_raises_when_the_broker_does_not_acknowledge(outcome: str) -> None:
    with pytest.raises(BrokerUnavailableError, match="not accepted"):
        asyncio.run(send_acked(FakeTopic(outcome), b"k", b"v", timeout_s=0.05))  # type: ignore[arg-type]


def test_healthz_is_503_degraded_while_a_report_is_not_ok(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    kafka: dict[str, Any] = {"ok": True, "reachable": True, "lost": []}
    state.health = lambda: {"kafka": dict(kafka)}

    async def scenario(client: Any) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for reachable in (True, False):
            kafka.update(ok=reachable, reachable=reachable)
            res = await client.get("/healthz")
            out.append((res.status, await res.json()))
        return out

    (ok_status, ok_body), (bad_status, bad_body) = run_client(state, scenario)
    assert ok_status == 200 and ok_body["status"] == "ok" and ok_body["kafka"]["reachable"] is True
    assert bad_status == 503 and bad_body["status"] == "degraded" and bad_body["degraded"] == ["kafka"]
    assert bad_body["kafka"]["reachable"] is False


class DownPublisher:
    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None:
        raise WebError("Kafka did not acknowledge the record within 5s; it was not accepted", 503)


def test_a_broadcast_kafka_does_not_acknowledge_is_503_and_not_pending(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    state.publisher = DownPublisher()

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post(
            "/api/broadcasts", json={"speaker_id": "spk-a", "text": "请注意"}, headers=bearer("operator")
        )
        return res.status, await res.json()

    status, body = run_client(state, scenario)
    assert status == 503 and "not accepted" in body["error"]
    assert state.pending_broadcasts == {}


def test_a_partition_that_ends_below_what_was_read_or_committed_was_rewound() -> None:
    tps = ["a", "b", "c", "d", "e", "f"]
    read = {"a": 9, "b": 9, "c": None, "d": None, "f": 12}
    committed = {"a": 10, "b": None, "c": 5, "d": None, "f": 12}
    ends = {"a": 10, "b": 3, "c": 4, "d": 0, "e": None, "f": 12}
    # a: read up to 9, ends at 10 (healthy); b: ends below the read; c: below the committed;
    # f: sought to its committed offset, which is its end (healthy, nothing new yet)
    assert rewound_partitions(tps, read, committed, ends) == ["b", "c"]


def test_inputs_are_compared_with_what_was_read_only_for_a_while_after_an_outage() -> None:
    h = BrokerHealth()
    assert not h.observe(0.0, set(EXPECTED), EXPECTED).check_rewind  # a start is not an outage
    h.observe(3.0, None, EXPECTED)
    h.observe(4.0, None, EXPECTED)
    assert h.observe(6.0, set(EXPECTED), EXPECTED).check_rewind
    assert h.observe(6.0 + REWIND_WINDOW_S, set(EXPECTED), EXPECTED).check_rewind
    assert not h.observe(7.0 + REWIND_WINDOW_S, set(EXPECTED), EXPECTED).check_rewind
    h.observe(200.0, None, EXPECTED)
    h.observe(201.0, None, EXPECTED)
    assert h.observe(203.0, set(EXPECTED), EXPECTED).check_rewind
    h.repaired()
    assert not h.observe(206.0, set(EXPECTED), EXPECTED).check_rewind


def test_repeated_kafka_client_errors_are_logged_once_per_period() -> None:
    f = RepeatFilter(every_s=30.0, kept=2)

    def rec(name: str, msg: str, at: float) -> logging.LogRecord:
        r = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)
        r.created = at
        return r

    conn = "Unable connect to node with id %s"
    assert f.filter(rec("aiokafka.conn", conn, 0.0))
    assert not f.filter(rec("aiokafka.conn", conn, 0.1))
    assert not f.filter(rec("aiokafka.conn", conn, 29.9))
    assert f.filter(rec("aiokafka.conn", conn, 30.0))
    assert f.filter(rec("aiokafka.consumer", "Failed fetch messages from %s", 0.2))  # another message
    assert f.filter(rec("streams.app", conn, 0.3)) and f.filter(
        rec("streams.app", conn, 0.4)
    )  # not the client's
    assert f.suppressed == 2
    for i in range(10):
        f.filter(rec("aiokafka.conn", f"message {i}", 1.0))
    assert len(f._last) == 2  # bounded
