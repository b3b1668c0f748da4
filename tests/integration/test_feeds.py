"""Sensor feeds and camera health through the real ``citywatch worker`` on the embedded broker."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streams.dev.broker import free_port

from ..config_support import feeds_site, write_config
from ..conftest import KafkaEnv
from ..feeds_support import INGEST_TOKEN, TOKENS, VIEWER_TOKEN, camera_status, sensor_reading
from ..streams_support import Collector, presence, produce, start_worker, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOIN_TIMEOUT = 90  # the first records wait for the worker's group join (slow on a busy machine)


def post(port: int, body: bytes, token: str = INGEST_TOKEN) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sensor-readings",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except OSError:
        return 0, {}


def find(alerts: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    hits = [
        a
        for a in alerts
        if all((a.get(k) if k != "category" else a[k]["key"]) == v for k, v in match.items())
    ]
    return hits[-1] if hits else None


def states_of(alerts: list[dict[str, Any]], incident_id: str) -> list[str]:
    out: list[str] = []
    for a in alerts:
        if a["incident_id"] == incident_id and (not out or out[-1] != a["state"]):
            out.append(a["state"])
    return out


def update(case_id: str, status: str) -> tuple[str, dict[str, Any]]:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return case_id, {
        "v": 1,
        "case_id": case_id,
        "unit_id": "unit-a",
        "status": status,
        "note": status,
        "at": at,
    }


def test_sensor_scenarios_http_ingest_and_dead_letters(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    port = free_port()
    log = tmp_path / "worker.log"
    config = write_config(tmp_path / "feeds.yaml", feeds_site())
    worker = start_worker(config, kafka.env(), tmp_path / "faust", log, web_port=port, tokens=TOKENS)
    tail = Collector(kafka.bootstrap, [t.alerts, t.dispatch, t.deadletter])
    try:
        assert wait_for(lambda: post(port, b"[]")[0] == 400, 60), log.read_text()[-3000:]
        # -- HTTP: only an ingest (or admin) token may post; bad requests get 400 with a reason
        now = time.time()
        good = json.dumps(sensor_reading("pm-a", "pm25", 1.0, "µg/m³", now)).encode()
        assert post(port, good, token=VIEWER_TOKEN)[0] == 403
        assert post(port, good, token="not-a-known-token")[0] == 401  # noqa: S106
        bad_value = sensor_reading("pm-a", "pm25", 1.0, "µg/m³", now) | {"value": "high"}
        for body, words in [
            (b"{not json", "not UTF-8 JSON"),
            (json.dumps(bad_value).encode(), "field 'value'"),
            (
                json.dumps([sensor_reading("pm-zz", "pm25", 1, "µg/m³", now)]).encode(),
                "reading 0: sensor 'pm-zz'",
            ),
            (json.dumps(sensor_reading("pm-a", "noise", 1, "dB", now)).encode(), "measures 'pm25'"),
        ]:
            status, answer = post(port, body)
            assert status == 400 and words in answer["error"], (body, status, answer)

        # -- Kafka: PM2.5 15-minute mean above 75 -> air_quality incident -> dispatched to the grid's unit
        t0 = time.time() - 30
        produce(
            kafka.bootstrap,
            t.sensor_readings,
            [("pm-a", sensor_reading("pm-a", "pm25", 120.0, "µg/m³", t0 + i)) for i in range(3)],
        )
        # -- garbage on the topic ends in the dead-letter topic; the agent carries on
        produce(
            kafka.bootstrap,
            t.sensor_readings,
            [
                ("pm-a", b"\xff not json"),
                ("pm-a", {"v": 1, "sensor_id": "pm-a", "kind": "pm25", "unit": "µg/m³"}),
                ("ghost", sensor_reading("ghost", "pm25", 1.0, "µg/m³", t0)),
            ],
        )
        # -- HTTP: a full bin (fill >= 90 %) -> bin_overflow, dispatched at once (grace 0)
        status, answer = post(
            port, json.dumps([sensor_reading("bin-a", "bin_fill", 90, "%", time.time())]).encode()
        )
        assert (status, answer) == (202, {"accepted": 1})

        assert wait_for(lambda: len(tail.values(t.dispatch)) >= 2, JOIN_TIMEOUT), log.read_text()[-3000:]
        cases = {c["category"]["key"]: c for c in tail.values(t.dispatch)}
        assert set(cases) == {"air_quality", "bin_overflow"}
        air = cases["air_quality"]
        assert air["unit_id"] == "unit-a" and air["grid_id"] == "grid-a" and air["sensor_id"] == "pm-a"
        assert air["camera_id"] is None and air["location"]["address"] == "和平路12号"
        alerts = tail.values(t.alerts)
        opened = find(alerts, sensor_id="pm-a", category="air_quality", state="open")
        assert opened is not None and opened["camera_id"] is None
        assert "pm25-mean: mean 120.0 µg/m³ over 900s > 75" in opened["history"][0]["note"]

        # hysteresis: zeros bring the mean of 3 x 120 down to 90, 72 (below 75, above the clear
        # value 60: still holding) and 60 (cleared); readings are judged in order, so the clear
        # note names 60, not 72
        produce(
            kafka.bootstrap,
            t.sensor_readings,
            [("pm-a", sensor_reading("pm-a", "pm25", 0.0, "µg/m³", t0 + 3 + i)) for i in range(5)],
        )

        def note_seen() -> bool:
            a = find(tail.values(t.alerts), incident_id=air["incident_id"])
            return a is not None and any(h["note"].startswith("back to normal") for h in a["history"])

        assert wait_for(note_seen, 20), log.read_text()[-3000:]
        history = find(tail.values(t.alerts), incident_id=air["incident_id"])["history"]  # type: ignore[index]
        back = [h["note"] for h in history if h["note"].startswith("back to normal")]
        assert back == ["back to normal (pm25-mean: mean 60.0 µg/m³ over 900s > 75)"], back
        # the patrol resolves the case; the sensor reads clear through verification -> closed
        produce(kafka.bootstrap, t.dispatch_updates, [update(air["case_id"], "resolved")])
        assert wait_for(
            lambda: find(tail.values(t.alerts), incident_id=air["incident_id"], state="closed"), 20
        )
        assert states_of(tail.values(t.alerts), air["incident_id"]) == [
            "open",
            "dispatched",
            "resolved",
            "verifying",
            "verified",
            "closed",
        ]

        # -- stale: bin-a (stale_after_s 4) says nothing more -> sensor_stale; a reading closes it
        assert wait_for(lambda: find(tail.values(t.alerts), sensor_id="bin-a", category="sensor_stale"), 20)
        stale = find(tail.values(t.alerts), sensor_id="bin-a", category="sensor_stale")
        assert (
            stale is not None
            and stale["state"] == "open"
            and "no reading since" in stale["history"][0]["note"]
        )
        assert (
            post(port, json.dumps(sensor_reading("bin-a", "bin_fill", 20, "%", time.time())).encode())[0]
            == 202
        )
        assert wait_for(
            lambda: find(tail.values(t.alerts), incident_id=stale["incident_id"], state="closed"), 20
        )

        dead = tail.values(t.deadletter)
        assert len(dead) == 3, dead
        errors = " | ".join(d["error"] for d in dead)
        assert "not UTF-8 JSON" in errors and "field 'value'" in errors and "sensor 'ghost'" in errors
        assert {d["topic"] for d in dead} == {t.sensor_readings}
    finally:
        tail.close()
        stop(worker)


def test_camera_offline_mid_incident_holds_it_until_back(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    log = tmp_path / "worker.log"
    worker = start_worker(
        write_config(tmp_path / "feeds.yaml", feeds_site()), kafka.env(), tmp_path / "faust", log
    )
    tail = Collector(kafka.bootstrap, [t.alerts, t.deadletter])
    try:
        now = time.time()
        produce(kafka.bootstrap, t.camera_status, [("cam-a", camera_status("cam-a", "online", 25, now))])
        produce(
            kafka.bootstrap,
            t.detections,
            [("cam-a", r) for r in presence("cam-a", "storefront", "bench", now, 3)],
        )
        assert wait_for(lambda: find(tail.values(t.alerts), camera_id="cam-a", state="open"), JOIN_TIMEOUT), (
            log.read_text()[-3000:]
        )
        violation = find(tail.values(t.alerts), camera_id="cam-a", state="open")
        assert violation is not None and violation["category"]["key"] == "out_of_store_business"
        vid = violation["incident_id"]

        # the camera goes offline for longer than the blip tolerance (2 s): camera_offline + held;
        # its reason quotes the camera's URL with a password (as a source's error may)
        leaky = "lost rtsp://admin:Secr3t@10.0.0.5/101: no frame"
        produce(
            kafka.bootstrap,
            t.camera_status,
            [("cam-a", camera_status("cam-a", "offline", 0, time.time(), reason=leaky))],
        )
        assert wait_for(
            lambda: find(tail.values(t.alerts), camera_id="cam-a", category="camera_offline"), 20
        ), log.read_text()[-3000:]

        def held() -> bool:
            a = find(tail.values(t.alerts), incident_id=vid)
            return a is not None and a.get("held") is True

        assert wait_for(held, 20)
        # while held, the camera reports the zone clear: the incident is not auto-cleared
        clear = {
            "v": 1,
            "camera_id": "cam-a",
            "zone_id": "storefront",
            "category": "out_of_store_business",
            "state": "cleared",
            "since": violation["opened_at"],
            "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z",
            "labels": ["bench"],
        }
        produce(kafka.bootstrap, t.violations, [("cam-a", clear)])

        def clear_recorded() -> bool:
            a = find(tail.values(t.alerts), incident_id=vid)
            return a is not None and "held: not cleared until released" in a["history"][-1]["note"]

        assert wait_for(clear_recorded, 20)
        assert states_of(tail.values(t.alerts), vid) == ["open"]

        # back online: the camera-offline incident closes, the violation is released, its clear applied
        produce(
            kafka.bootstrap, t.camera_status, [("cam-a", camera_status("cam-a", "online", 25, time.time()))]
        )
        assert wait_for(lambda: find(tail.values(t.alerts), incident_id=vid, state="closed"), 20), [
            (a["state"], a["held"], a["history"][-1])
            for a in tail.values(t.alerts)
            if a["incident_id"] == vid
        ] + tail.values(t.deadletter)
        offline = find(tail.values(t.alerts), camera_id="cam-a", category="camera_offline")
        assert offline is not None
        assert wait_for(
            lambda: find(tail.values(t.alerts), incident_id=offline["incident_id"], state="closed"), 20
        )
        assert states_of(tail.values(t.alerts), offline["incident_id"]) == ["open", "cleared", "closed"]
        final = find(tail.values(t.alerts), incident_id=vid, state="closed")
        assert final is not None
        notes = [(h["by"], h["state"], h["note"]) for h in final["history"]]
        health = [n for n in notes if n[0] == "health"]
        assert len(health) == 2 and health[0][2].startswith("held: camera offline since")
        assert "rtsp://***@10.0.0.5/101" in health[0][2]  # the place, not the password
        assert all("Secr3t" not in json.dumps(a) for a in tail.values(t.alerts))
        assert health[1][2].startswith("released: camera online")
        after_release = notes[notes.index(health[1]) + 1 :]
        assert after_release == [
            ("rules", "cleared", "camera saw the zone clear while held"),
            ("rules", "closed", "cleared after release"),
        ]
        assert tail.values(t.deadletter) == []
    finally:
        tail.close()
        stop(worker)


def test_future_readings_and_statuses_are_refused_and_the_window_cap_holds(
    kafka: KafkaEnv, tmp_path: Path
) -> None:
    t = kafka.topics
    port = free_port()
    log = tmp_path / "worker.log"
    district = feeds_site()
    district["sensors"][1]["max_window_readings"] = 5  # bin-a's window holds at most 5 readings
    config = write_config(tmp_path / "feeds.yaml", district)
    worker = start_worker(config, kafka.env(), tmp_path / "faust", log, web_port=port, tokens=TOKENS)
    tail = Collector(kafka.bootstrap, [t.alerts, t.deadletter])
    try:
        assert wait_for(lambda: post(port, b"[]")[0] == 400, 60), log.read_text()[-3000:]
        now = time.time()
        # -- HTTP: a reading dated 2099 is refused, naming the reading and why; nothing of the batch is taken
        future = sensor_reading("pm-a", "pm25", 500.0, "µg/m³", now) | {
            "measured_at": "2099-01-01T00:00:00.000Z"
        }
        status, answer = post(
            port, json.dumps([sensor_reading("pm-a", "pm25", 1.0, "µg/m³", now), future]).encode()
        )
        assert status == 400, answer
        assert answer["error"].startswith("reading 1: sensor pm-a: measured_at 2099-01-01T00:00:00.000Z")
        assert "max_clock_skew_s" in answer["error"]
        # -- Kafka: the same reading, and a camera-status dated 2099, are dead-lettered with the reason
        produce(kafka.bootstrap, t.sensor_readings, [("pm-a", future)])
        ahead = camera_status("cam-a", "offline", 0, now) | {"at": "2099-01-01T00:00:00.000Z"}
        produce(kafka.bootstrap, t.camera_status, [("cam-a", ahead)])
        assert wait_for(lambda: len(tail.values(t.deadletter)) >= 2, JOIN_TIMEOUT), log.read_text()[-3000:]
        dead = {d["topic"]: d["error"] for d in tail.values(t.deadletter)}
        assert "measured_at 2099-01-01T00:00:00.000Z" in dead[t.sensor_readings]
        assert "ahead" in dead[t.sensor_readings] and "max_clock_skew_s" in dead[t.sensor_readings]
        assert dead[t.camera_status].startswith("camera cam-a: camera-status dated ahead")

        # -- the window cap: a batch of 6 is refused whole; 5 are taken; then the window is full
        def bin_reading(i: int) -> dict[str, Any]:
            return sensor_reading("bin-a", "bin_fill", 10, "%", now - 50 + i)

        status, answer = post(port, json.dumps([bin_reading(i) for i in range(6)]).encode())
        assert status == 400 and "max_window_readings = 5" in answer["error"], answer
        assert post(port, json.dumps([bin_reading(i) for i in range(5)]).encode()) == (202, {"accepted": 5})
        accepted_late = 0
        extra = iter(range(5, 40))

        def refused_now() -> bool:
            nonlocal accepted_late
            status, _ = post(port, json.dumps([bin_reading(next(extra))]).encode())
            accepted_late += status == 202
            return status == 400

        assert wait_for(refused_now, 20), log.read_text()[-3000:]

        # readings taken before the worker had counted the window are refused by the agent itself
        def full() -> list[dict[str, Any]]:
            return [d for d in tail.values(t.deadletter) if "window of sensor readings is full" in d["error"]]

        assert wait_for(lambda: len(full()) == accepted_late, 20), (accepted_late, tail.values(t.deadletter))
        # the refused readings opened nothing: pm-a's 500 from 2099 would have opened air_quality,
        # cam-a's offline status camera_offline
        keys = {a["category"]["key"] for a in tail.values(t.alerts)}
        assert not keys & {"air_quality", "camera_offline"}, keys
        assert worker.poll() is None
    finally:
        tail.close()
        stop(worker)
