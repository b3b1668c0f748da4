"""The Faust worker on the embedded broker: a scripted scenario end to end, a
worker killed and restarted mid-scenario, and garbage on every input topic."""

from __future__ import annotations

import json
import signal
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from streams.contract.ids import make_id
from streams.contract.timeutil import to_iso
from streams.worker.context import APPLIED_BY

from ..config_support import category, streams_site, write_config
from ..conftest import KafkaEnv
from ..streams_support import (
    CLOSED_LOOP,
    Collector,
    Feed,
    alert_states,
    presence,
    produce,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOIN_TIMEOUT = 60  # the first records wait for the worker's group join


def incident_with(alerts: list[dict[str, Any]], camera: str, state: str) -> dict[str, Any] | None:
    for a in alerts:
        if a["camera_id"] == camera and a["state"] == state:
            return a
    return None


def update(
    case_id: str, status: str, at: float | None = None, unit: str = "unit-a"
) -> tuple[str, dict[str, Any]]:
    return case_id, {
        "v": 1,
        "case_id": case_id,
        "unit_id": unit,
        "status": status,
        "note": f"patrol {status}",
        "at": to_iso(at if at is not None else time.time()),
    }


@pytest.fixture
def worker_env(kafka: KafkaEnv, tmp_path: Path) -> dict[str, Any]:
    return {
        "config": write_config(tmp_path / "streams.yaml"),
        "env": kafka.env(),
        "datadir": tmp_path / "faust",
        "log": tmp_path / "worker.log",
    }


def test_scripted_scenario_gives_the_exact_sequence(kafka: KafkaEnv, worker_env: dict[str, Any]) -> None:
    t = kafka.topics
    worker = start_worker(**worker_env)
    collector = Collector(
        kafka.bootstrap, [t.alerts, t.loudspeaker, t.dispatch, t.broadcast_decisions, t.deadletter]
    )
    cam_a = Feed(kafka.bootstrap, t.detections, "cam-a")
    cam_b = Feed(kafka.bootstrap, t.detections, "cam-b")
    try:
        # cam-a: a bench on the walkway (dwell 2 s) -> open, warned
        # cam-b: a car at the kerb -> open, warned, then it leaves -> cleared, closed. Its frames
        # are one timeline: the car is seen for 2.5 s, then the camera sees the kerb clear
        # (clear 2 s) at 4.5 s, before grace (3 s from the warning at 2 s) runs out at 5 s.
        cam_a.present("storefront", "bench", 6)
        cam_b.present("kerb", "car", 2.5)
        cam_b.absent(3)
        assert wait_for(lambda: incident_with(collector.values(t.alerts), "cam-a", "warned"), JOIN_TIMEOUT), (
            worker_env["log"].read_text()[-3000:]
        )
        # cam-a's bench stays past the 3 s grace -> dispatched
        cam_a.present("storefront", "bench", 5)
        assert wait_for(lambda: collector.values(t.dispatch), 30)
        [case] = collector.values(t.dispatch)
        assert case["unit_id"] == "unit-a" and case["level"] == "street" and case["_key"] == "unit-a"
        # the patrol accepts, arrives, clears the walkway and resolves; the camera then sees it clear
        produce(kafka.bootstrap, t.dispatch_updates, [update(case["case_id"], "accepted")])
        produce(kafka.bootstrap, t.dispatch_updates, [update(case["case_id"], "arrived")])
        cleared_at = cam_a.absent(4)
        produce(kafka.bootstrap, t.dispatch_updates, [update(case["case_id"], "resolved", at=cleared_at)])
        assert wait_for(lambda: incident_with(collector.values(t.alerts), "cam-a", "closed"), 30), "\n".join(
            str((a["camera_id"], a["state"], a["history"][-1]["note"])) for a in collector.values(t.alerts)
        )
        assert wait_for(lambda: incident_with(collector.values(t.alerts), "cam-b", "closed"), 10)
        alerts = collector.values(t.alerts)
        a_id = case["incident_id"]
        b_id = next(a["incident_id"] for a in alerts if a["camera_id"] == "cam-b")
        assert alert_states(alerts, a_id) == CLOSED_LOOP
        assert alert_states(alerts, b_id) == ["open", "warned", "cleared", "closed"]
        assert {a["incident_id"] for a in alerts} == {a_id, b_id}
        commands = collector.values(t.loudspeaker)
        assert sorted(c["speaker_id"] for c in commands) == ["spk-a", "spk-b"]
        assert {c["incident_id"] for c in commands} == {a_id, b_id}
        shop = next(c for c in commands if c["speaker_id"] == "spk-a")
        assert shop["text"] == "老王便利店请注意：请将店外经营物品放回店内，不要占道经营。"
        assert len(collector.values(t.dispatch)) == 1
        decisions = collector.values(t.broadcast_decisions)
        assert [d["decision"] for d in decisions] == ["sent", "sent"]
        final = next(a for a in alerts if a["incident_id"] == a_id and a["state"] == "closed")
        notes = [h["note"] for h in final["history"]]
        assert "patrol resolved" in notes and "verified by camera" in notes
        assert collector.values(t.deadletter) == []
    finally:
        collector.close()
        stop(worker)


def test_a_completed_dwell_is_warned_in_one_step_and_its_violation_still_published(
    kafka: KafkaEnv, worker_env: dict[str, Any]
) -> None:
    """The detection that completes the dwell opens the incident and asks for the warning in
    the same step (one hop to the policy); its violation record is published beside, marked
    as applied by the worker group. Incident inputs (the policy's outcome) and a violation
    from another producer still reach the incident."""
    t = kafka.topics
    worker = start_worker(**worker_env)
    collector = Collector(kafka.bootstrap, [t.violations, t.alerts, t.loudspeaker, t.deadletter])
    cam_b = Feed(kafka.bootstrap, t.detections, "cam-b")
    try:
        cam_b.present("kerb", "car", 2.5)
        assert wait_for(lambda: collector.values(t.loudspeaker), JOIN_TIMEOUT), worker_env["log"].read_text()[
            -3000:
        ]
        [command] = collector.values(t.loudspeaker)
        assert wait_for(lambda: collector.values(t.violations), 10)
        [started] = collector.values(t.violations)
        [marks] = collector.headers(t.violations)
        assert (
            started["state"] == "started" and started["camera_id"] == "cam-b" and started["_key"] == "cam-b"
        )
        assert marks == {APPLIED_BY: f"{t.prefix}worker".encode()}
        incident_id = make_id("inc", "cam-b", "kerb", "illegal_parking", started["since"])
        assert (command["speaker_id"], command["incident_id"]) == ("spk-b", incident_id)
        # the policy's outcome comes back as an incident input: the incident is warned
        assert wait_for(lambda: "warned" in alert_states(collector.values(t.alerts), incident_id), 30)

        # a violation from another producer (no mark), with a snapshot of its own: the
        # incident takes the evidence, whatever state the grace deadline has moved it to
        seen = {k: v for k, v in started.items() if not k.startswith("_")}
        photo = "snapshots/cam-b/from-another-producer.jpg"
        produce(
            kafka.bootstrap,
            t.violations,
            [("cam-b", {**seen, "state": "ongoing", "at": to_iso(time.time()), "evidence": [photo]})],
        )

        def with_photo() -> bool:
            return any(photo in a["evidence"] for a in collector.values(t.alerts))

        assert wait_for(with_photo, 30), [(a["state"], a["evidence"]) for a in collector.values(t.alerts)]
        alerts = collector.values(t.alerts)
        assert alert_states(alerts, incident_id)[:2] == ["open", "warned"]
        assert {a["incident_id"] for a in alerts} == {incident_id}
        assert [v["state"] for v in collector.values(t.violations)] == ["started", "ongoing"]
        assert collector.headers(t.violations)[1] == {}
        assert len(collector.values(t.loudspeaker)) == 1
        assert collector.values(t.deadletter) == []
    finally:
        collector.close()
        stop(worker)


def test_worker_killed_mid_scenario_keeps_its_incidents(kafka: KafkaEnv, worker_env: dict[str, Any]) -> None:
    t = kafka.topics
    worker = start_worker(**worker_env)
    collector = Collector(kafka.bootstrap, [t.alerts, t.loudspeaker, t.dispatch, t.violations])
    cam_a = Feed(kafka.bootstrap, t.detections, "cam-a")
    try:
        cam_a.present("storefront", "bench", 12)
        assert wait_for(lambda: collector.values(t.dispatch), JOIN_TIMEOUT), worker_env["log"].read_text()[
            -3000:
        ]
        stop(worker, sig=signal.SIGKILL)
        # the bench is still there while no worker runs; then a new worker takes over
        cam_a.present("storefront", "bench", 2)
        worker = start_worker(**worker_env)
        [case] = collector.values(t.dispatch)
        cleared_at = cam_a.absent(4)
        produce(kafka.bootstrap, t.dispatch_updates, [update(case["case_id"], "resolved", at=cleared_at)])
        assert wait_for(lambda: incident_with(collector.values(t.alerts), "cam-a", "closed"), JOIN_TIMEOUT), (
            "\n".join(
                str((a["state"], a["history"][-1]["at"], a["history"][-1]["note"]))
                for a in collector.values(t.alerts)
            )
            + "\n".join(str((v["state"], v["at"], v.get("seq"))) for v in collector.values(t.violations))
        )
        alerts = collector.values(t.alerts)
        # one incident, one command, one case: the restart re-processed records but created no twins
        assert {a["incident_id"] for a in alerts} == {case["incident_id"]}
        assert len({c["command_id"] for c in collector.values(t.loudspeaker)}) == 1
        assert len({c["case_id"] for c in collector.values(t.dispatch)}) == 1
        assert alert_states(alerts, case["incident_id"])[-4:] == [
            "resolved",
            "verifying",
            "verified",
            "closed",
        ]
    finally:
        collector.close()
        stop(worker)


def test_garbage_on_every_input_topic_is_dead_lettered(kafka: KafkaEnv, worker_env: dict[str, Any]) -> None:
    t = kafka.topics
    garbage = {
        t.detections: [b"not json", json.dumps({"v": 1, "camera_id": "cam-a"}).encode()],
        t.violations: [b"\xff\xfe", json.dumps({"v": 1, "camera_id": "cam-a", "state": "maybe"}).encode()],
        t.broadcast_requests: [b"[]", json.dumps({"v": 1, "speaker_id": "spk-a"}).encode()],
        t.loudspeaker_acks: [b"{", json.dumps({"v": 1, "command_id": "c", "status": "loud"}).encode()],
        t.dispatch_updates: [
            b"null",
            json.dumps(
                {
                    "v": 1,
                    "case_id": "case-none",
                    "unit_id": "u",
                    "status": "accepted",
                    "note": "",
                    "at": "2026-01-01T00:00:00.000Z",
                }
            ).encode(),
        ],
        t.incident_inputs: [
            b"garbage",
            json.dumps({"kind": "warp", "at": "2026-01-01T00:00:00.000Z"}).encode(),
        ],
        t.speaker_intents: [b"garbage"],
    }
    for topic, values in garbage.items():
        produce(kafka.bootstrap, topic, [(f"k-{uuid.uuid4().hex[:4]}", v) for v in values])
    worker = start_worker(**worker_env)
    collector = Collector(kafka.bootstrap, [t.alerts, t.deadletter])
    try:
        now = time.time()
        produce(
            kafka.bootstrap,
            t.detections,
            [("cam-a", r) for r in presence("cam-a", "storefront", "bench", now, 4)],
        )
        expected = sum(len(v) for v in garbage.values())
        assert wait_for(lambda: len(collector.values(t.deadletter)) >= expected, JOIN_TIMEOUT), (
            collector.values(t.deadletter),
            worker_env["log"].read_text()[-3000:],
        )
        dead = collector.values(t.deadletter)
        assert len(dead) == expected
        assert {d["topic"] for d in dead} == set(garbage)
        for d in dead:
            assert d["_key"] == d["topic"]
            assert d["error"] and isinstance(d["partition"], int) and isinstance(d["offset"], int)
        raws = {d["raw"] for d in dead}
        import base64

        assert base64.b64encode(b"not json").decode() in raws
        # nothing else was lost: the valid detections still opened their incident
        assert wait_for(lambda: incident_with(collector.values(t.alerts), "cam-a", "open"), 20)
    finally:
        collector.close()
        stop(worker)


def last_local(hour: int, now: float, tz: str = "Asia/Shanghai") -> float:
    """The most recent ``hour``:00 local time in ``tz`` before ``now``, as event time."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at.timestamp() > now:
        at -= timedelta(days=1)
    return at.timestamp()


def test_a_lawn_incident_is_warned_by_day_and_dispatched_unwarned_at_night(
    kafka: KafkaEnv, tmp_path: Path
) -> None:
    """warn_hours decides from the detections' own times (recorded last night and this morning,
    site time), so the worker gives the same answer whenever the test runs."""
    t = kafka.topics
    site = streams_site()
    site["categories"]["lawn_trampling"] = {
        "code": "200601",
        "name": "践踏草坪 / 占用绿地",
        "labels": ["person", "bicycle"],
        **{k: v for k, v in category("illegal_parking").items() if k.endswith("_s") or k == "inertia"},
        "warn_hours": "07:00-21:00",
        "template": "请勿践踏草坪，爱护绿地。",
    }
    for cam in site["cameras"]:
        cam["zones"][0]["categories"] = ["lawn_trampling"]
    env = {
        "config": write_config(tmp_path / "lawn.yaml", site),
        "env": kafka.env(),
        "datadir": tmp_path / "faust",
        "log": tmp_path / "worker.log",
    }
    worker = start_worker(**env)
    collector = Collector(kafka.bootstrap, [t.alerts, t.loudspeaker, t.dispatch, t.broadcast_decisions])
    now = time.time()
    night, day = last_local(2, now), last_local(10, now)
    try:
        # a bicycle on cam-a's lawn at 02:00 and on cam-b's at 10:00, each past dwell and grace
        produce(
            kafka.bootstrap,
            t.detections,
            [("cam-a", r) for r in presence("cam-a", "storefront", "bicycle", night, 6)]
            + [("cam-b", r) for r in presence("cam-b", "kerb", "bicycle", day, 6)],
        )

        def both_dispatched() -> bool:
            return {c["incident_id"] for c in collector.values(t.dispatch)} >= {
                a["incident_id"] for a in collector.values(t.alerts)
            } and len({a["camera_id"] for a in collector.values(t.alerts)}) == 2

        assert wait_for(both_dispatched, JOIN_TIMEOUT), env["log"].read_text()[-3000:]
        alerts = collector.values(t.alerts)
        night_id = next(a["incident_id"] for a in alerts if a["camera_id"] == "cam-a")
        day_id = next(a["incident_id"] for a in alerts if a["camera_id"] == "cam-b")
        assert wait_for(lambda: collector.values(t.loudspeaker), 10)
        [command] = collector.values(t.loudspeaker)
        assert (command["incident_id"], command["speaker_id"]) == (day_id, "spk-b")
        assert command["text"] == "请勿践踏草坪，爱护绿地。"
        # the night's incident asked nobody to speak and went to the patrol once grace ran out
        assert {d["incident_id"] for d in collector.values(t.broadcast_decisions)} == {day_id}
        notes = [
            h["note"]
            for a in collector.values(t.alerts)
            if a["incident_id"] == night_id
            for h in a["history"]
        ]
        assert "no warning: outside the category's warning hours 07:00-21:00" in notes
        assert "warned" not in alert_states(collector.values(t.alerts), night_id)
        assert wait_for(lambda: "warned" in alert_states(collector.values(t.alerts), day_id), 30)
    finally:
        collector.close()
        stop(worker)
