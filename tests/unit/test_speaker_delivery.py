"""Pure delivery decisions and the per-speaker workers (fake engine and drivers)."""

from __future__ import annotations

import base64
import json
import queue
import threading

import pytest

from streams.contract.records import DeadLetter, LoudspeakerAck, decode
from streams.contract.timeutil import from_iso
from streams.speaker.delivery import (
    Acknowledge,
    DeadLetterIt,
    Deliver,
    OffsetTracker,
    RecentIds,
    Skip,
    expiry_reason,
    route,
)
from streams.speaker.fakes import FakeDriver, FakeEngine
from streams.speaker.worker import SpeakerWorker

from ..speaker_support import T0, command, speaker

CONFIGURED = {"spk-a", "spk-b"}


def route_raw(raw: bytes | None, *, wanted: set[str] | None = None, seen: RecentIds | None = None) -> object:
    return route(
        topic="x.loudspeaker",
        partition=2,
        offset=41,
        raw=raw,
        configured=CONFIGURED,
        wanted=wanted,
        seen=seen if seen is not None else RecentIds(),
        now=T0,
    )


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe not json", "not UTF-8 JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (json.dumps({"v": 1, "command_id": "c"}).encode(), "field 'speaker_id'"),
        (command().to_bytes().replace(b'"v":1', b'"v":2'), "version 2 is not supported"),
        (command().to_bytes().replace(b'"not_after":"', b'"not_after":"yesterday'), "field 'not_after'"),
        (None, "empty value"),
    ],
)
def test_malformed_records_are_dead_lettered(raw: bytes | None, error: str) -> None:
    decision = route_raw(raw)
    assert isinstance(decision, DeadLetterIt)
    dl = decision.record
    assert (dl.topic, dl.partition, dl.offset) == ("x.loudspeaker", 2, 41)
    assert error in dl.error
    assert base64.b64decode(dl.raw) == (raw or b"")
    assert decode(DeadLetter, dl.to_bytes()) == dl  # a valid contract record


def test_a_good_command_is_delivered_once() -> None:
    seen = RecentIds()
    first = route_raw(command("c1").to_bytes(), seen=seen)
    assert isinstance(first, Deliver)
    assert first.command.command_id == "c1"
    again = route_raw(command("c1").to_bytes(), seen=seen)
    assert isinstance(again, Skip)
    assert "already" in again.reason


def test_unknown_speaker_gets_a_failed_ack_with_the_fix() -> None:
    decision = route_raw(command("c1", "spk-zz").to_bytes())
    assert isinstance(decision, Acknowledge)
    ack = decision.ack
    assert (ack.status, ack.speaker_id, ack.incident_id) == ("failed", "spk-zz", "inc-c1")
    assert "'spk-zz' is not defined under speakers:" in ack.reason
    assert "spk-a, spk-b" in ack.reason
    assert ack.started_at is not None
    assert from_iso(ack.started_at) == T0


def test_another_gateways_speaker_is_skipped() -> None:
    assert isinstance(route_raw(command("c1", "spk-b").to_bytes(), wanted={"spk-a"}), Skip)
    assert isinstance(route_raw(command("c2", "spk-a").to_bytes(), wanted={"spk-a"}), Deliver)


@pytest.mark.parametrize(("offset_s", "expired"), [(-10, False), (0, False), (0.001, True), (90, True)])
def test_expiry(offset_s: float, expired: bool) -> None:
    cmd = command(now=T0, ttl_s=60)
    reason = expiry_reason(cmd, T0 + 60 + offset_s)
    assert (reason is not None) == expired
    if reason:
        assert cmd.not_after in reason


def test_recent_ids_forget_the_oldest() -> None:
    ids = RecentIds(capacity=3)
    for i in range(5):
        ids.add(f"c{i}")
    assert len(ids) == 3
    assert "c0" not in ids and "c1" not in ids
    assert all(f"c{i}" in ids for i in (2, 3, 4))


def test_offsets_commit_only_past_finished_records() -> None:
    t = OffsetTracker()
    for off in (10, 11, 12):
        t.start("p0", off)
    t.start("p1", 5)
    assert t.committable() == {"p0": 10, "p1": 5}
    t.committed({"p0": 10, "p1": 5})
    t.finish("p0", 12)  # out of order: 10 and 11 still playing
    t.finish("p1", 5)
    assert t.committable() == {"p1": 6}
    t.committed({"p1": 6})
    t.finish("p0", 10)
    assert t.committable() == {"p0": 11}
    t.finish("p0", 11)
    assert t.committable() == {"p0": 13}
    assert t.in_flight() == 0
    t.forget(["p0"])
    assert t.committable() == {}


class Collector:
    def __init__(self) -> None:
        self.acks: queue.Queue[tuple[LoudspeakerAck, object]] = queue.Queue()

    def __call__(self, ack: LoudspeakerAck, token: object) -> None:
        self.acks.put((ack, token))

    def take(self, n: int) -> list[tuple[LoudspeakerAck, object]]:
        return [self.acks.get(timeout=10) for _ in range(n)]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_worker_plays_in_order_and_expires_what_waited_too_long() -> None:
    gate = threading.Event()
    driver = FakeDriver(gate=gate)
    clock = Clock(T0)
    got = Collector()
    worker = SpeakerWorker(speaker(), driver, FakeEngine(), got, clock=clock).start()
    try:
        worker.submit(command("c1", ttl_s=60), token=1)
        worker.submit(command("c2", ttl_s=60), token=2)
        worker.submit(command("c3", ttl_s=600), token=3)
        worker.submit(command("c4", ttl_s=600), token=4)
        assert driver.entered.wait(10)
        assert not worker.idle()
        clock.now = T0 + 120  # c1 is already playing; c2 will be past its not_after
        gate.set()
        acks = got.take(4)
    finally:
        worker.stop(5)
    assert [(a.command_id, a.status, tok) for a, tok in acks] == [
        ("c1", "played", 1),
        ("c2", "expired", 2),
        ("c3", "played", 3),
        ("c4", "played", 4),
    ]
    assert [cid for cid, _ in driver.played] == ["c1", "c3", "c4"]
    c1 = acks[0][0]
    assert c1.model_extra is not None
    assert c1.model_extra["audio_source"] == "tts:cmn"
    assert c1.model_extra["audio_s"] > 1.0
    assert driver.played[0][1][:4] == b"RIFF"
    assert "passed 60.0 s" in acks[1][0].reason
    assert worker.idle()


def test_one_stuck_speaker_does_not_block_another() -> None:
    stuck = threading.Event()
    got = Collector()
    clock = Clock(T0)
    slow = SpeakerWorker(speaker("spk-a"), FakeDriver(gate=stuck), FakeEngine(), got, clock=clock).start()
    fast = SpeakerWorker(speaker("spk-b"), FakeDriver(), FakeEngine(), got, clock=clock).start()
    try:
        slow.submit(command("a1", "spk-a"))
        for i in range(3):
            fast.submit(command(f"b{i}", "spk-b"))
        first = got.take(3)
        assert [a.command_id for a, _ in first] == ["b0", "b1", "b2"]
        stuck.set()
        [(last, _)] = got.take(1)
        assert last.command_id == "a1"
    finally:
        stuck.set()
        slow.stop(5)
        fast.stop(5)


def test_driver_failure_is_a_failed_ack_and_the_worker_carries_on() -> None:
    driver = FakeDriver(fail="speaker offline")
    got = Collector()
    worker = SpeakerWorker(speaker(), driver, FakeEngine(), got, clock=Clock(T0)).start()
    try:
        worker.submit(command("c1"))
        [(ack, _)] = got.take(1)
        assert (ack.status, ack.reason) == ("failed", "speaker offline")
        assert ack.started_at and ack.finished_at
        assert from_iso(ack.finished_at) >= from_iso(ack.started_at)
        driver.fail = None
        worker.submit(command("c2"))
        [(ack2, _)] = got.take(1)
        assert ack2.status == "played"
    finally:
        worker.stop(5)
