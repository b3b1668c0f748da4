"""`citywatch capture` + `citywatch detect` with the real model on the embedded broker.

Capture puts a still of a bus on the frames topic; detect (a consumer group) turns
frames into detection records. Records are read back from the topics.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import pytest
from kafka import KafkaAdminClient
from ultralytics.utils import ASSETS

from streams.contract.records import Detection, decode
from streams.kafka_io import Message, read_topic

from ..conftest import KafkaEnv
from ..streams_support import stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.model]

CONFIG = """
version: 1
site: {{name: test}}
model: {{name: yolo11n, imgsz: 320, conf: 0.25}}
evidence: {{dir: {evidence}, retention_days: 1, max_mb: 50}}
categories:
  illegal_parking: {{code: "200505", name: 机动车乱停放, labels: [car, truck, bus]}}
grids: [{{id: g1, unit: u1}}]
units: [{{id: u1}}]
cameras:
"""

# a still of a bus: inferred first, then at each stationary recheck; every record holding
# the bus in its zone takes a snapshot (interval below the recheck), so each record names
# the evidence directory, i.e. the worker, that produced it
CAMERA = f"""
  - id: {{camera_id}}
    source: {ASSETS / "bus.jpg"}
    location: {{{{address: test}}}}
    grid: g1
    detect_fps: {{fps}}
    stationary_recheck_s: 1
    snapshot_interval_s: 0.5
    zones:
      - {{{{id: bus-lane, polygon: [[0, 0.15], [1, 0.15], [1, 0.75], [0, 0.75]],
          categories: [illegal_parking], labels: [bus]}}}}
"""


def write_config(path: Path, evidence: Path, camera_ids: list[str], *, fps: float = 5) -> Path:
    cameras = "".join(CAMERA.format(camera_id=c, fps=fps) for c in camera_ids)
    path.write_text(CONFIG.format(evidence=evidence) + cameras, "utf-8")
    return path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", *args]


def citywatch(kafka: KafkaEnv, *args: str, timeout: float = 240) -> None:
    proc = subprocess.run(
        command(*args), env=kafka.env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def frames_by_seq(kafka: KafkaEnv) -> dict[tuple[str, int], Message]:
    """Frames on the frames topic by (camera id from the header, seq)."""
    out = {}
    for m in read_topic(kafka.bootstrap, kafka.topics.frames, from_beginning=True, timeout_s=3):
        headers = dict(m.headers)
        assert m.value and m.value[:2] == b"\xff\xd8", "a frame is not a JPEG picture"
        assert m.key == headers["camera_id"].decode()
        out[(m.key, int(headers["seq"]))] = m
    return out


def detections(kafka: KafkaEnv) -> list[Detection]:
    found = read_topic(kafka.bootstrap, kafka.topics.detections, from_beginning=True, timeout_s=3)
    return [decode(Detection, m.value or b"") for m in found]


def assert_detected_from_frames(rec: Detection, frames: dict[tuple[str, int], Message]) -> None:
    """The record is of a captured frame, with its time, and holds the bus in its zone."""
    frame = frames.get((rec.camera_id, rec.seq))
    assert frame is not None, f"{rec.camera_id} seq {rec.seq}: no such frame on the frames topic"
    assert rec.captured_at == dict(frame.headers)["captured_at"].decode()
    buses = [o for o in rec.objects if o.label == "bus"]
    assert buses and buses[0].zones == ["bus-lane"], rec
    assert all(o.zones == [] for o in rec.objects if o.label != "bus")
    assert rec.frame_size == [810, 1080] and rec.model == "yolo11n"


def test_detect_turns_captured_frames_into_detections(kafka: KafkaEnv, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cameras.yaml", tmp_path / "evidence", ["cam-bus"])
    citywatch(kafka, "capture", "--config", str(config), "--duration", "3")
    frames = frames_by_seq(kafka)
    assert frames and {c for c, _ in frames} == {"cam-bus"}

    # a new group with --from-beginning takes the frames captured before it started
    citywatch(kafka, "detect", "--config", str(config), "--from-beginning", "--duration", "20")

    records = detections(kafka)
    assert records, "no detection records"
    for rec in records:
        assert rec.camera_id == "cam-bus"
        assert_detected_from_frames(rec, frames)
    assert len({r.seq for r in records}) == len(records), "a frame was detected twice"
    assert records[0].model_extra and records[0].model_extra["trigger"] == "first"
    assert records[0].snapshot and Path(records[0].snapshot).is_file()
    # the camera wall's picture of the latest frame, and its sidecar with a record's objects
    live = tmp_path / "evidence" / "live"
    assert sorted(p.name for p in live.iterdir()) == ["cam-bus.jpg", "cam-bus.json"]
    sidecar = json.loads((live / "cam-bus.json").read_text("utf-8"))
    assert sidecar["camera_id"] == "cam-bus" and sidecar["status"] == "online"
    assert sidecar["frame_size"] in [r.frame_size for r in records]
    published = [
        [{"label": o.label, "score": o.score, "box": o.box, "zones": o.zones} for o in r.objects]
        for r in records
    ]
    assert sidecar["objects"] in published
    picture = cv2.imread(str(live / "cam-bus.jpg"))
    assert picture is not None and picture.shape[1] == min(640, sidecar["frame_size"][0])


def group_members(bootstrap: str, group: str) -> int:
    """How many members ``group`` has once it is stable (0 before)."""
    # api_version: the embedded broker answers DescribeGroups v3+ with an authorized
    # operation that kafka-python cannot name; v2 carries the state and the members
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, api_version=(2, 2))
    try:
        described: dict[str, Any] = admin.describe_groups([group])[group]
    finally:
        admin.close()
    return len(described["members"]) if described["group_state"] == "Stable" else 0


def test_two_detect_workers_share_the_cameras(kafka: KafkaEnv, tmp_path: Path) -> None:
    # the frames topic has 4 partitions; these ids go to partitions 0 and 3, which the
    # range and round-robin assignors both give to different members of a two-member group
    cameras = ["cam-north", "cam-south"]
    config = write_config(tmp_path / "cameras.yaml", tmp_path / "evidence", cameras)
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("w1", "w2"):
            # each worker keeps its evidence on its own disk: a record's snapshot says who made it
            own = write_config(tmp_path / f"{name}.yaml", tmp_path / name, cameras)
            with (tmp_path / f"{name}.log").open("wb") as log:
                workers[name] = subprocess.Popen(
                    command(
                        "detect",
                        "--config",
                        str(own),
                        "--group",
                        "share",
                        "--from-beginning",
                        "--duration",
                        "40",
                    ),
                    env=kafka.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        # both in the group before the first frame: no rebalance moves a camera mid-run
        assert wait_for(lambda: group_members(kafka.bootstrap, "share") == 2, 120, interval=1), (
            "the two detect workers did not form a group"
        )
        citywatch(kafka, "capture", "--config", str(config), "--duration", "5")
        for name, proc in workers.items():
            rc = proc.wait(120)
            log = (tmp_path / f"{name}.log").read_text("utf-8")
            assert rc == 0, f"{name}: {log[-3000:]}"
    finally:
        for proc in workers.values():
            stop(proc)

    frames = frames_by_seq(kafka)
    assert {c for c, _ in frames} == set(cameras)
    assert {c: m.partition for (c, _), m in frames.items()} == {"cam-north": 0, "cam-south": 3}
    records = detections(kafka)
    assert {r.camera_id for r in records} == set(cameras)
    workers_of: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        assert_detected_from_frames(rec, frames)
        assert rec.snapshot, rec
        worker = Path(rec.snapshot).relative_to(tmp_path).parts[0]
        workers_of[rec.camera_id].add(worker)
    # each camera's frames were detected once, by one worker, and the workers split the cameras
    twice = [k for k, n in Counter((r.camera_id, r.seq) for r in records).items() if n > 1]
    assert not twice, f"detected more than once: {twice}"
    assert all(len(w) == 1 for w in workers_of.values()), dict(workers_of)
    assert workers_of["cam-north"] != workers_of["cam-south"], dict(workers_of)
