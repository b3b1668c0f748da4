"""`citywatch edge` with the real model on the embedded broker: records read back from the topics."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ultralytics.utils import ASSETS

from streams.contract.records import CameraStatus, Detection, decode
from streams.kafka_io import read_topic

from ..conftest import MEDIA, KafkaEnv

pytestmark = [pytest.mark.integration, pytest.mark.model]

HEAD = """
version: 1
site: {{name: test}}
model: {{name: yolo11n, imgsz: {imgsz}, conf: {conf}}}
evidence: {{dir: {evidence}, retention_days: 1, max_mb: 50}}
categories:
  out_of_store_business: {{code: "200504", name: 店外经营, labels: [bench, chair, potted plant]}}
  illegal_parking: {{code: "200505", name: 机动车乱停放, labels: [car, truck, bus]}}
grids: [{{id: g1, unit: u1}}]
units: [{{id: u1}}]
cameras:
"""


def write_config(tmp_path: Path, cameras: str, *, imgsz: int, conf: float = 0.25) -> Path:
    path = tmp_path / "cameras.yaml"
    path.write_text(HEAD.format(imgsz=imgsz, conf=conf, evidence=tmp_path / "evidence") + cameras, "utf-8")
    return path


def citywatch(kafka: KafkaEnv, *args: str, timeout: float = 240, cwd: Path | None = None) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=kafka.env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def read_all(kafka: KafkaEnv, topic: str) -> list[dict[str, Any]]:
    return [
        json.loads(m.value or b"")
        for m in read_topic(kafka.bootstrap, topic, from_beginning=True, timeout_s=3)
    ]


def camera(camera_id: str, source: Path, detect_fps: int, zone: str, **extra: object) -> str:
    """One camera of cameras.yaml at grid g1, with one zone (YAML flow mapping) and extra keys."""
    lines = [f"  - id: {camera_id}", f"    source: {source}", "    location: {address: test}", "    grid: g1"]
    lines += [f"    detect_fps: {detect_fps}", *(f"    {k}: {v}" for k, v in extra.items())]
    return "\n".join(["", *lines, "    zones:", f"      - {zone}", ""])


BUS_CAMERA = camera(
    "cam-bus",
    ASSETS / "bus.jpg",
    5,
    "{id: bus-lane, polygon: [[0, 0.15], [1, 0.15], [1, 0.75], [0, 0.75]], categories: [illegal_parking], "
    "labels: [bus]}",
    stationary_recheck_s=1,
    snapshot_interval_s=60,
)


def test_bus_still_yields_bus_in_its_zone(kafka: KafkaEnv, tmp_path: Path) -> None:
    cameras = BUS_CAMERA
    config = write_config(tmp_path, cameras, imgsz=320)
    citywatch(kafka, "edge", "--config", str(config), "--duration", "5")

    records = [decode(Detection, v) for v in read_all(kafka, kafka.topics.detections)]
    assert records, "no detection records"
    for rec in records:
        buses = [o for o in rec.objects if o.label == "bus"]
        assert buses and buses[0].zones == ["bus-lane"], rec
        # the people stand below the zone, and the zone only takes buses anyway
        assert all(o.zones == [] for o in rec.objects if o.label == "person")
        assert rec.frame_size == [810, 1080] and rec.model == "yolo11n"
    # a still picture: inferred first, then only at each stationary recheck (1 s at 5 fps)
    assert len(records) <= 8
    assert {r.model_extra["trigger"] for r in records if r.model_extra} <= {"first", "recheck"}
    # one evidence picture (the zone held a bus), named in the record that took it
    snapshots = [r.snapshot for r in records if r.snapshot]
    assert len(snapshots) == 1 and Path(snapshots[0]).is_file()
    statuses = [decode(CameraStatus, v) for v in read_all(kafka, kafka.topics.camera_status)]
    assert statuses and statuses[0].status == "online"
    assert statuses[-1].status == "offline" or statuses[-1].status == "online"
    assert_live_picture(tmp_path / "evidence", "cam-bus", records)


def assert_live_picture(evidence: Path, camera_id: str, records: list[Detection]) -> None:
    """The camera's live picture (the frame, at most 640 px wide) and its sidecar, whose objects
    are those of a detection record; nothing else in evidence/live/."""
    import cv2

    live = evidence / "live"
    assert sorted(p.name for p in live.iterdir()) == [f"{camera_id}.jpg", f"{camera_id}.json"]
    picture = cv2.imread(str(live / f"{camera_id}.jpg"))
    assert picture is not None and picture.shape == (853, 640, 3)  # 810 x 1080 scaled to 640 wide
    sidecar = json.loads((live / f"{camera_id}.json").read_text("utf-8"))
    assert sidecar["v"] == 1 and sidecar["camera_id"] == camera_id
    assert sidecar["frame_size"] == [810, 1080] and sidecar["status"] in ("online", "degraded")
    assert sidecar["fps"] >= 0 and sidecar["captured_at"].endswith("Z")
    published = [
        [{"label": o.label, "score": o.score, "box": o.box, "zones": o.zones} for o in r.objects]
        for r in records
    ]
    assert sidecar["objects"] in published
    assert any(o["label"] == "bus" and o["zones"] == ["bus-lane"] for o in sidecar["objects"])


@pytest.mark.skipif(not (MEDIA / "street-shopfronts.mp4").is_file(), reason="needs ../shared/media")
def test_street_clip_tracks_people_and_benches(kafka: KafkaEnv, tmp_path: Path) -> None:
    cameras = camera(
        "cam-street",
        MEDIA / "street-shopfronts.mp4",
        2,
        "{id: walkway, polygon: [[0, 0.2], [1, 0.2], [1, 1], [0, 1]], categories: [out_of_store_business]}",
    )
    # benches are small and far in this view: YOLO11n finds them reliably at 1280
    config = write_config(tmp_path, cameras, imgsz=1280, conf=0.1)
    citywatch(kafka, "edge", "--config", str(config), "--fast", "--max-frames", "12")

    records = sorted(
        (decode(Detection, v) for v in read_all(kafka, kafka.topics.detections)), key=lambda r: r.seq
    )
    assert [r.seq for r in records] == [15 * i for i in range(12)]  # 30 fps sampled at 2 fps
    people = [sum(o.label == "person" for o in r.objects) for r in records]
    assert sum(people) / len(people) >= 10, people
    bench_ids: collections.Counter[int | None] = collections.Counter(
        o.track_id for r in records for o in r.objects if o.label == "bench"
    )
    assert bench_ids, "no bench seen"
    (steady, count), *_ = bench_ids.most_common(1)
    assert steady is not None and count >= 0.75 * len(records), bench_ids
    # people are tracked too: most people of the last frame had an id earlier
    person_ids = [{o.track_id for o in r.objects if o.label == "person"} for r in records]
    earlier = set().union(*person_ids[:-1])
    last = {i for i in person_ids[-1] if i is not None}
    assert len(last & earlier) >= 0.5 * len(last)
    # the zone's min_score (0.25 by default) keeps faint benches out of it
    benches = [o for r in records for o in r.objects if o.label == "bench"]
    assert all(o.zones == (["walkway"] if o.score >= 0.25 else []) for o in benches)
    assert any(o.zones for o in benches)


def test_edge_started_in_an_empty_directory_creates_its_evidence_dir(kafka: KafkaEnv, tmp_path: Path) -> None:
    """A relative evidence.dir is created with its parents under the working directory; the
    evidence keeps the whole frame (caption on an added strip) and, with keep_original, the frame."""
    import cv2

    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "conf" / "cameras.yaml"
    config.parent.mkdir()
    head = HEAD.format(imgsz=320, conf=0.25, evidence="var/deep/evidence")
    head = head.replace("max_mb: 50}", "max_mb: 50, keep_original: true}")
    config.write_text(head + BUS_CAMERA, "utf-8")
    citywatch(kafka, "edge", "--config", str(config), "--max-frames", "3", cwd=run)

    evidence = run / "var" / "deep" / "evidence"
    originals = sorted(evidence.rglob("*.orig.jpg"))
    live = evidence / "live"  # the camera wall's picture, beside the evidence
    annotated = [p for p in evidence.rglob("*.jpg") if p not in originals and p.parent != live]
    assert len(annotated) == 1 and len(originals) == 1, sorted(evidence.rglob("*"))
    assert originals[0].name == annotated[0].name.removesuffix(".jpg") + ".orig.jpg"
    frame = cv2.imread(str(originals[0]))
    picture = cv2.imread(str(annotated[0]))
    assert frame.shape == (1080, 810, 3)  # the untouched frame
    assert picture.shape[1] == 810 and picture.shape[0] > 1080  # the frame below an added strip
    records = [decode(Detection, v) for v in read_all(kafka, kafka.topics.detections)]
    # records name evidence as configured (relative to the working directory, like the web reads it)
    assert [run / r.snapshot for r in records if r.snapshot] == [annotated[0]]
    assert_live_picture(evidence, "cam-bus", records)
