"""Static objects with the real model on the shared street clip, with and without a box put down.

A cardboard box (drawn at test time, never committed) is composited onto the right-hand
pavement of street-shopfronts.mp4 from 3 s to the end; people walk past and next to it. With
tests/data/static-cameras.yaml (learn 2 s, static after 3 s) the camera pipeline must publish a
``static_object`` in zone right-pavement from 6 s on, never before and never in the other zone,
and nothing on the clip without the box. ``citywatch eval`` (the same pipeline, rules and
incidents) must then open the exposed_garbage incident, and none on the plain clip; and
``citywatch edge`` reading the clip at its own pace must publish the box on the broker. The clip
is 10 s, taken at 10 fps and 960x540, sampled at 2 fps: about 20 model calls per run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streams.config import load_config
from streams.contract.records import Detection, decode
from streams.contract.timeutil import from_iso
from streams.dev.eval_clip import clip_frames
from streams.kafka_io import read_topic

from ..conftest import MEDIA, REPO, KafkaEnv

cv2 = pytest.importorskip("cv2")

pytestmark = [pytest.mark.integration, pytest.mark.model]

DATA = REPO / "tests" / "data"
CONFIG = DATA / "static-cameras.yaml"
CAMERA = "cam-street-static"
STREET = MEDIA / "street-shopfronts.mp4"
SIZE = (960, 540)
EVERY = 3  # 30 fps -> 10 fps
PUT_DOWN_S = 3.0
AT = (0.74, 0.76)  # where the box's top-left corner goes, normalised (the right-hand pavement)


def cardboard(w: int = 70, h: int = 56) -> np.ndarray:
    """A closed cardboard box seen from above and in front (BGR): lit lid, shaded side, tape."""
    box = np.zeros((h, w, 3), np.uint8)
    lid = h // 3
    box[:lid] = (95, 150, 200)
    box[lid:] = (55, 100, 145)
    box[:lid, w // 2 - 3 : w // 2 + 3] = (170, 200, 215)
    box[lid - 2 : lid + 2] = (35, 60, 90)
    return box


def street(with_box: bool) -> Iterator[tuple[float, np.ndarray]]:
    if not STREET.is_file():
        pytest.skip(f"shared footage {STREET} is missing")
    crop = cardboard()
    x, y = int(AT[0] * SIZE[0]), int(AT[1] * SIZE[1])
    for i, (t, image) in enumerate(clip_frames(STREET)):
        if i % EVERY:
            continue
        picture = np.ascontiguousarray(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA))
        if with_box and t >= PUT_DOWN_S:
            picture[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        yield t, picture


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import published_labels

    det = UltralyticsDetector(load_config(CONFIG).model, published_labels(load_config(CONFIG)))
    det.warmup()
    return det


def sightings(detector, with_box: bool) -> list[tuple[float, list[dict[str, object]]]]:  # type: ignore[no-untyped-def]
    """(media time, the static objects of its record) for every frame the model saw."""
    from detectors.pipeline import CameraPipeline
    from detectors.tracking import ByteTracker
    from detectors.types import Frame

    cfg = load_config(CONFIG)
    camera = cfg.camera(CAMERA)
    pipeline = CameraPipeline(camera, cfg, ByteTracker(2, high=cfg.model.conf), model_name="yolo11n")
    assert pipeline.static is not None
    out = []
    for seq, (t, image) in enumerate(street(with_box)):
        frame = Frame(CAMERA, seq, image, 1_790_000_000.0 + t, 0.0, t)
        decision = pipeline.admit(frame)
        if decision is None:
            continue
        (boxes,) = detector.detect([image])
        record = pipeline.record(frame, boxes, inference_ms=0.0, decision=decision, now=frame.captured_at)
        wire = json.loads(record.to_bytes())
        out.append((t, [o for o in wire["objects"] if o["label"] == "static_object"]))
    return out


def test_a_box_put_down_is_published_in_its_zone_after_static_after_s(detector) -> None:  # type: ignore[no-untyped-def]
    seen = sightings(detector, with_box=True)
    static_after = load_config(CONFIG).camera(CAMERA).static_objects.static_after_s
    due = PUT_DOWN_S + static_after
    assert not [objs for t, objs in seen if t < due - 0.01 and objs], seen
    after = [(t, objs) for t, objs in seen if t >= due - 0.01]
    assert len(after) >= 6, seen  # from 6 s to 10 s at 2 fps
    for t, objs in after:
        assert [o["zones"] for o in objs] == [["right-pavement"]], (t, objs)
        x1, y1, x2, y2 = objs[0]["box"]
        assert x1 <= AT[0] + 0.02 <= x2 and y1 <= AT[1] + 0.02 <= y2, (t, objs)  # around the box
        assert 0.005 < objs[0]["area"] < 0.03, (t, objs)  # the box is 0.0076 of the frame
        assert objs[0]["first_seen"] == "2026-09-21T14:13:23.000Z"  # when it was put down
    assert len({objs[0]["track_id"] for _, objs in after}) == 1  # one object, one id


def test_the_clip_without_the_box_publishes_no_static_object(detector) -> None:  # type: ignore[no-untyped-def]
    seen = sightings(detector, with_box=False)
    assert len(seen) >= 18, seen  # the model saw the whole clip
    assert not [objs for _, objs in seen if objs], seen


def write_clip(path: Path, with_box: bool) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0 / EVERY, SIZE)
    assert writer.isOpened(), f"cannot write {path}"
    try:
        for _, image in street(with_box):
            writer.write(image)
    finally:
        writer.release()
    return path


def citywatch_eval(clip: Path, truth: Path) -> tuple[dict[str, str], str]:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "streams.cli", "--log-level", "WARNING", "eval"),
            *("--config", str(CONFIG), "--camera", CAMERA, "--clip", str(clip), "--truth", str(truth)),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), proc.stdout[-3000:]
    return dict(kv.split("=", 1) for kv in last.split()[1:]), proc.stdout


@pytest.mark.parametrize("with_box", [True, False], ids=["box", "no-box"])
def test_citywatch_eval_opens_the_garbage_incident_only_for_the_box(tmp_path: Path, with_box: bool) -> None:
    clip = write_clip(tmp_path / "street.mp4", with_box)
    truth = tmp_path / "truth.jsonl"
    line = {"zone_id": "right-pavement", "category": "exposed_garbage", "start_s": PUT_DOWN_S, "end_s": 10.1}
    truth.write_text(json.dumps(line) + "\n" if with_box else "", encoding="utf-8")
    got, out = citywatch_eval(clip, truth)
    assert got["false_per_hour"] == "0", out
    assert got["recall"] == ("1" if with_box else "n/a"), out
    if with_box:
        assert got["precision"] == "1", out


def test_citywatch_edge_publishes_the_box_on_the_broker(kafka: KafkaEnv, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "street.mp4", with_box=True)
    text = CONFIG.read_text(encoding="utf-8").replace("source: street-shopfronts.mp4", f"source: {clip}")
    text = text.replace("dir: var/eval/evidence", f"dir: {tmp_path / 'evidence'}")
    config = tmp_path / "cameras.yaml"
    config.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "edge", "--config", str(config), "--duration", "60"],
        env=kafka.env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = sorted(
        (
            decode(Detection, m.value or b"")
            for m in read_topic(kafka.bootstrap, kafka.topics.detections, from_beginning=True, timeout_s=3)
        ),
        key=lambda r: r.seq,
    )
    assert records, "no detection records"
    start = from_iso(records[0].captured_at)
    static_after = load_config(CONFIG).camera(CAMERA).static_objects.static_after_s
    found = [(r, o) for r in records for o in r.objects if o.label == "static_object"]
    assert found, [r.objects for r in records]
    for record, obj in found:
        assert obj.zones == ["right-pavement"], obj
        extra = obj.model_extra or {}
        first = from_iso(extra["first_seen"])
        # seen after the learning period, reported only once it stayed static_after_s
        assert first >= start + 2.0 and from_iso(record.captured_at) - first >= static_after - 1e-3, obj
    assert len({o.track_id for _, o in found}) == 1
