"""`citywatch patrol` and `citywatch broadcast` on the embedded broker: the automatic
patrol closes the loop with a real worker, the interactive one is driven through its
stdin, and operator broadcasts go through the worker's policy."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest

from streams.contract.timeutil import to_iso

from ..config_support import streams_site, write_config
from ..conftest import KafkaEnv
from ..streams_support import (
    CLOSED_LOOP,
    Collector,
    Feed,
    alert_states,
    produce,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.integration]

JOIN_TIMEOUT = 60  # the first records wait for the worker's group join


def citywatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


class Lines:
    """A process's stdout lines, read in a thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._q: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self._q.put(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if needle in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} within {timeout}s; got:\n" + "\n".join(self.seen))


def incident_with(alerts: list[dict[str, Any]], camera: str, state: str) -> dict[str, Any] | None:
    return next((a for a in alerts if a["camera_id"] == camera and a["state"] == state), None)


@pytest.mark.slow
def test_auto_patrol_closes_the_loop_with_a_real_worker(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    config = write_config(tmp_path / "streams.yaml")
    worker = start_worker(config, kafka.env(), tmp_path / "faust", tmp_path / "worker.log")
    patrol = subprocess.Popen(
        citywatch(
            "patrol",
            "--config",
            str(config),
            "--unit",
            "unit-a",
            "--auto",
            "--accept-after",
            "0.5",
            "--arrive-after",
            "0.5",
            "--resolve-after",
            "4",
            "--max-cases",
            "1",
            "--duration",
            "180",
        ),
        env=kafka.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert patrol.stdout is not None
    out = Lines(patrol.stdout)
    collector = Collector(kafka.bootstrap, [t.alerts, t.dispatch, t.dispatch_updates])
    cam = Feed(kafka.bootstrap, t.detections, "cam-a")
    try:
        out.wait("unit unit-a: 0 open case(s)", 30)
        # a bench on the walkway: warned, still there after the 3 s grace -> dispatched to unit-a
        cam.present("storefront", "bench", 6)
        alerts = lambda: collector.values(t.alerts)  # noqa: E731
        assert wait_for(lambda: incident_with(alerts(), "cam-a", "warned"), JOIN_TIMEOUT), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        cam.present("storefront", "bench", 5)
        assert wait_for(lambda: collector.values(t.dispatch), 30)
        [case] = collector.values(t.dispatch)
        new = out.wait("NEW #1", 15)
        assert case["case_id"] in new and "店外经营" in new and "和平路12号 (老王便利店)" in new
        # the patrol reports arrival; the walkway is cleared before it reports resolved
        assert wait_for(lambda: incident_with(alerts(), "cam-a", "arrived"), 15)
        cam.absent(4)
        assert patrol.wait(60) == 0, "\n".join(out.seen)
        assert wait_for(lambda: incident_with(alerts(), "cam-a", "closed"), 30), [
            (a["state"], a["history"][-1]["note"]) for a in alerts()
        ]
        assert alert_states(alerts(), case["incident_id"]) == CLOSED_LOOP
        updates = collector.values(t.dispatch_updates)
        assert [(u["_key"], u["unit_id"], u["status"]) for u in updates] == [
            (case["case_id"], "unit-a", s) for s in ("accepted", "arrived", "resolved")
        ]
        for word in ("accepted", "arrived", "resolved"):
            out.wait(f"SENT #1 {case['case_id']} {word}", 1)
    finally:
        collector.close()
        stop(patrol)
        stop(worker)


def dispatch_record(case_id: str, unit: str, at: float) -> dict[str, Any]:
    return {
        "v": 1,
        "case_id": case_id,
        "incident_id": "inc-1",
        "unit_id": unit,
        "grid_id": "grid-a",
        "category": {"key": "illegal_parking", "code": "200505", "name": "机动车乱停放"},
        "location": {"address": "兴华街1号", "grid_id": "grid-a"},
        "evidence": ["var/evidence/cam-b/before.jpg"],
        "created_at": to_iso(at),
        "due_at": to_iso(at + 1800),
        "state": "dispatched" if unit == "unit-a" else "overdue",
        "level": "street" if unit == "unit-a" else "district",
    }


def test_interactive_patrol_through_stdin(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    config = write_config(tmp_path / "streams.yaml")
    now = time.time()
    # an old case, already closed: not listed; an open one: listed on start
    produce(kafka.bootstrap, t.dispatch, [("unit-a", dispatch_record("case-old", "unit-a", now - 600))])
    closed = {"incident_id": "inc-0", "case_id": "case-old", "state": "closed", "history": []}
    produce(kafka.bootstrap, t.alerts, [("inc-0", _alert(closed, now - 500))])
    produce(kafka.bootstrap, t.dispatch, [("unit-a", dispatch_record("case-1", "unit-a", now - 60))])
    patrol = subprocess.Popen(
        citywatch("patrol", "--config", str(config), "--unit", "unit-a"),
        env=kafka.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert patrol.stdin is not None and patrol.stdout is not None
    out = Lines(patrol.stdout)
    collector = Collector(kafka.bootstrap, [t.dispatch_updates])

    def type_line(text: str) -> None:
        assert patrol.stdin is not None
        patrol.stdin.write(text.encode() + b"\n")
        patrol.stdin.flush()

    try:
        out.wait("unit unit-a: 1 open case(s)", 30)
        listed = out.wait("#1 机动车乱停放", 1)
        assert "case-1" in listed and "evidence: var/evidence/cam-b/before.jpg" in listed
        type_line("a 1")
        out.wait("SENT #1 case-1 accepted", 10)
        type_line("r 1 车已驶离")
        out.wait("SENT #1 case-1 resolved — 车已驶离", 10)
        type_line("a 7")
        out.wait("no open case '7'", 10)
        assert wait_for(lambda: len(collector.values(t.dispatch_updates)) == 2, 10)
        sent = collector.values(t.dispatch_updates)
        assert [(u["_key"], u["case_id"], u["unit_id"], u["status"], u["note"]) for u in sent] == [
            ("case-1", "case-1", "unit-a", "accepted", ""),
            ("case-1", "case-1", "unit-a", "resolved", "车已驶离"),
        ]
        assert all(abs(time.time() - _epoch(u["at"])) < 30 for u in sent)
        # a new case arrives live, then is escalated to the district: it leaves the list
        produce(kafka.bootstrap, t.dispatch, [("unit-a", dispatch_record("case-2", "unit-a", time.time()))])
        out.wait("NEW #2", 15)
        produce(
            kafka.bootstrap, t.dispatch, [("unit-d", dispatch_record("case-2", "unit-d", time.time() + 1))]
        )
        gone = out.wait("GONE #2", 15)
        assert "re-sent to unit-d (district)" in gone
        type_line("l")
        out.wait("#1 机动车乱停放 @ 兴华街1号 | resolved", 10)
        type_line("q")
        assert patrol.wait(15) == 0
        assert not any("case-old" in line for line in out.seen)
    finally:
        collector.close()
        stop(patrol)


def _alert(partial: dict[str, Any], at: float) -> dict[str, Any]:
    return {
        "v": 1,
        "category": {"key": "illegal_parking", "code": "200505", "name": "机动车乱停放"},
        "camera_id": "cam-b",
        "zone_id": "kerb",
        "location": {"address": "兴华街1号"},
        "opened_at": to_iso(at),
        "updated_at": to_iso(at),
        **partial,
    }


def _epoch(text: str) -> float:
    from streams.contract.timeutil import from_iso

    return from_iso(text)


def test_patrol_refuses_an_unknown_unit(tmp_path: Path) -> None:
    config = write_config(tmp_path / "streams.yaml")
    done = subprocess.run(
        citywatch("patrol", "--config", str(config), "--unit", "unit-x"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "unit 'unit-x' is not in the configuration; known units: unit-a, unit-d" in done.stderr


def quiet_now_config(path: Path) -> Path:
    """The streams district with spk-a rate-limited (10 min) and spk-b in quiet hours around now."""
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (
        (local - timedelta(hours=1)).strftime("%H:%M"),
        (local + timedelta(hours=1)).strftime("%H:%M"),
    )
    district = streams_site()
    spk_a, spk_b = district["speakers"]
    assert spk_a["id"] == "spk-a" and spk_b["id"] == "spk-b"
    spk_a["min_interval_s"] = 600
    spk_b["quiet_hours"] = f"{start}-{end}"
    return write_config(path, district)


@pytest.mark.slow
def test_operator_broadcasts_go_through_the_policy(kafka: KafkaEnv, tmp_path: Path) -> None:
    t = kafka.topics
    config = quiet_now_config(tmp_path / "quiet.yaml")
    worker = start_worker(config, kafka.env(), tmp_path / "faust", tmp_path / "worker.log")
    collector = Collector(kafka.bootstrap, [t.loudspeaker, t.broadcast_requests])

    def broadcast(*args: str, wait: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            citywatch("broadcast", "--config", str(config), "--by", "zhang", "--wait", str(wait), *args),
            env=kafka.env(),
            capture_output=True,
            text=True,
            timeout=wait + 60,
            check=False,
        )

    try:
        first = broadcast("--speaker", "spk-a", "--text", "请将物品放回店内", wait=JOIN_TIMEOUT + 30)
        assert first.returncode == 0, (
            first.stdout + first.stderr + (tmp_path / "worker.log").read_text()[-2000:]
        )
        request_line, decision = first.stdout.splitlines()
        assert request_line.startswith("request req-") and "to spk-a by zhang" in request_line
        assert decision.startswith("sent: within policy (command cmd-"), decision
        # the test plays the gateway: the command was played, the speaker is free again
        [command] = collector_wait(collector, t.loudspeaker, 1)
        assert (command["source"], command["text"], command["requested_by"]) == (
            "operator",
            "请将物品放回店内",
            "zhang",
        )
        played = to_iso(time.time())
        ack = {
            "v": 1,
            "command_id": command["command_id"],
            "speaker_id": "spk-a",
            "incident_id": None,
            "status": "played",
            "reason": "",
            "started_at": played,
            "finished_at": played,
        }
        produce(kafka.bootstrap, t.loudspeaker_acks, [("spk-a", ack)])
        time.sleep(1.0)  # the ack is read before the next request (different topics)
        # within spk-a's 10 minute interval: an operator still gets through
        second = broadcast("--speaker", "spk-a", "--text", "请将物品放回店内")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "sent: operator overrode rate limit: last broadcast" in second.stdout
        assert "minimum interval 600s" in second.stdout
        # spk-b is in its quiet hours: suppressed without --force, sent with it
        quiet = broadcast("--camera", "cam-b", "--template", "illegal_parking")
        assert quiet.returncode == 3, quiet.stdout + quiet.stderr
        assert (
            "suppressed: quiet hours" in quiet.stdout
            and "an operator needs force and a reason" in quiet.stdout
        )
        forced = broadcast(
            "--camera", "cam-b", "--template", "illegal_parking", "--force", "--reason", "车辆堵塞消防通道"
        )
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "sent: forced in quiet hours: 车辆堵塞消防通道" in forced.stdout
        commands = collector_wait(collector, t.loudspeaker, 3)
        assert [c["speaker_id"] for c in commands] == ["spk-a", "spk-a", "spk-b"]
        assert commands[2]["text"] == "请注意：此处禁止机动车乱停放，请立即整改。"
        requests = collector.values(t.broadcast_requests)
        assert len({r["request_id"] for r in requests}) == 4  # every operator request is a new act
    finally:
        collector.close()
        stop(worker)


def test_broadcast_times_out_without_a_worker(kafka: KafkaEnv, tmp_path: Path) -> None:
    config = write_config(tmp_path / "streams.yaml")
    done = subprocess.run(
        citywatch("broadcast", "--config", str(config), "--speaker", "spk-a", "--text", "hi", "--wait", "2"),
        env=kafka.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "no decision within 2s" in done.stdout
    [request] = [json.loads(line) for line in _tail(kafka, kafka.topics.broadcast_requests)]
    assert request["speaker_id"] == "spk-a" and request["text"] == "hi" and request["_key"] == "spk-a"


def _tail(kafka: KafkaEnv, topic: str) -> list[str]:
    with Collector(kafka.bootstrap, [topic]) as c:
        wait_for(lambda: c.values(topic), 10)
        return [json.dumps(v) for v in c.values(topic)]


def collector_wait(collector: Collector, topic: str, n: int, timeout: float = 15) -> list[dict[str, Any]]:
    assert wait_for(lambda: len(collector.values(topic)) >= n, timeout), collector.values(topic)
    return collector.values(topic)
