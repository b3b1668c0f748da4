"""`citywatch replay` on the embedded broker: a recorded scenario replayed twice into
fresh topics, each with a fresh worker, gives the same incidents, commands and cases;
malformed lines are reported by line number and the rest is still sent."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.contract.timeutil import from_iso
from streams.contract.topics import Topics
from streams.kafka_io import ensure_topics

from ..config_support import write_config
from ..conftest import KafkaEnv
from ..streams_support import Collector, alert_states, citywatch, presence, start_worker, stop, wait_for

pytestmark = pytest.mark.integration

T0 = from_iso("2026-05-26T02:00:00.000Z")
JOIN_TIMEOUT = 60


def record_scenario(kafka: KafkaEnv, path: Path) -> int:
    """Produce the scenario with its event times as record times, and record it with `tail`."""
    # both objects stay past dwell (2 s) + grace (3 s): every transition is driven by
    # records or by a deadline that has long passed when the last record arrives
    records = [
        *presence("cam-a", "storefront", "bench", T0, 12),
        *presence("cam-b", "kerb", "car", T0 + 3, 12),
    ]
    records.sort(key=lambda r: from_iso(r["captured_at"]))
    p = KafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=2)
    for r in records:
        p.send(
            kafka.topics.detections,
            key=r["camera_id"].encode(),
            value=json.dumps(r).encode(),
            headers=[("source", b"scenario")],
            timestamp_ms=int(from_iso(r["captured_at"]) * 1000),
        )
    p.flush()
    p.close()
    n = len(records)
    out = citywatch(kafka.env(), "tail", "detections", "--from-beginning", "--max", str(n), "--timeout", "20")
    assert out.returncode == 0, out.stderr
    path.write_text(out.stdout, encoding="utf-8")
    assert len(out.stdout.splitlines()) == n
    return n


def fresh(kafka: KafkaEnv) -> KafkaEnv:
    topics = Topics(f"r{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(kafka.bootstrap, topics.all(), partitions=4)
    return KafkaEnv(kafka.bootstrap, topics)


def replay_once(kafka: KafkaEnv, recording: Path, n: int, tmp: Path) -> dict[str, Any]:
    env = fresh(kafka)
    t = env.topics
    worker = start_worker(write_config(tmp / "streams.yaml"), env.env(), tmp / "faust", tmp / "worker.log")
    collector = Collector(env.bootstrap, [t.alerts, t.loudspeaker, t.dispatch, t.deadletter])
    try:
        out = citywatch(env.env(), "replay", str(recording), "--speed", "20", "--prefix")
        assert out.returncode == 0, out.stderr
        assert f"{n} records sent" in out.stdout and t.detections in out.stdout
        assert wait_for(lambda: len(collector.values(t.dispatch)) >= 2, JOIN_TIMEOUT), (
            tmp / "worker.log"
        ).read_text()[-3000:]
        # the cases are the last thing the scenario makes: give stray outputs a moment to show
        wait_for(lambda: False, 2)
        alerts = collector.values(t.alerts)
        incident_ids = {a["incident_id"] for a in alerts}
        return {
            "incidents": incident_ids,
            "commands": {c["command_id"] for c in collector.values(t.loudspeaker)},
            "cases": {c["case_id"] for c in collector.values(t.dispatch)},
            "states": {i: alert_states(alerts, i) for i in incident_ids},
            "deadletters": collector.values(t.deadletter),
        }
    finally:
        collector.close()
        stop(worker)


@pytest.mark.slow
def test_the_same_recording_gives_the_same_incidents_commands_and_cases(
    kafka: KafkaEnv, tmp_path: Path
) -> None:
    recording = tmp_path / "day.jsonl"
    n = record_scenario(kafka, recording)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = replay_once(kafka, recording, n, tmp_path / "one")
    second = replay_once(kafka, recording, n, tmp_path / "two")
    assert len(first["incidents"]) == 2
    assert len(first["commands"]) == 2
    assert len(first["cases"]) == 2
    assert sorted(first["states"].values()) == [["open", "warned", "dispatched"]] * 2
    assert first["deadletters"] == []
    for part in ("incidents", "commands", "cases", "states"):
        assert first[part] == second[part], part


def test_malformed_lines_are_reported_and_the_rest_is_sent(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    lines = [
        json.dumps(
            {
                "topic": "elsewhere.citywatch.broadcast-requests",
                "partition": 0,
                "offset": 0,
                "timestamp_ms": 1_780_000_000_000,
                "key": "spk-a",
                "value": {"v": 1, "n": 1},
                "headers": {"trace": "abc"},
            }
        ),
        '{"topic": "citywatch.detections", "value": ',
        "",
        json.dumps({"v": 1, "n": 2}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = citywatch(kafka.env(), "replay", str(path), "--fast", "--prefix")
    assert out.returncode == 1
    assert f"{path}:2: not JSON" in out.stderr
    assert f"{path}:4: a bare value" in out.stderr
    assert "2 malformed lines skipped (lines 2, 4)" in out.stderr
    assert "1 records sent" in out.stdout
    got = citywatch(
        kafka.env(), "tail", "broadcast-requests", "--from-beginning", "--max", "1", "--timeout", "20"
    )
    [line] = [json.loads(x) for x in got.stdout.splitlines()]
    assert line["topic"] == t.broadcast_requests
    assert line["key"] == "spk-a" and line["value"] == {"v": 1, "n": 1}
    assert line["headers"] == {"trace": "abc"}
    # bare values go to the topic given with --topic
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"v": 1, "n": 3}) + "\n", encoding="utf-8")
    out = citywatch(kafka.env(), "replay", str(bare), "--topic", "dispatch-updates", "--speed", "0")
    assert out.returncode == 0, out.stderr
    assert f"1  {t.dispatch_updates}" in out.stdout
