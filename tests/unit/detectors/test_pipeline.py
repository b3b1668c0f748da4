"""A camera's pipeline on fake boxes: records match the contract, zones, labels, frames."""

from __future__ import annotations

import numpy as np

from detectors.detect import RawFrame, decode_frame, newest_per_camera
from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline, normalised, published_labels
from detectors.types import Boxes, Frame
from streams.config import parse_config
from streams.contract.records import Detection, decode

CONFIG = """
version: 1
site: {name: t}
categories:
  out_of_store_business: {code: "200504", name: 店外经营, labels: [chair, bench]}
grids: [{id: g, unit: u}]
units: [{id: u}]
cameras:
  - id: cam-1
    source: x.mp4
    location: {address: a}
    grid: g
    zones:
      - {id: walkway, polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories: [out_of_store_business]}
"""


class StaticTracker:
    def __init__(self) -> None:
        self.seen = 0

    def update(self, boxes: Boxes) -> list[int | None]:
        self.seen += 1
        return [i + 1 for i in range(len(boxes))]


def boxes(rows: list[tuple[str, float, list[float]]]) -> Boxes:
    return Boxes(
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[1] for r in rows], np.float32),
        np.zeros(len(rows), np.float32),
        tuple(r[0] for r in rows),
    )


def test_published_labels_default_to_categories_plus_person() -> None:
    cfg = parse_config(CONFIG)
    assert published_labels(cfg) == {"chair", "bench", "person"}


def test_record_is_a_valid_detection_with_zones() -> None:
    cfg = parse_config(CONFIG)
    pipe = CameraPipeline(cfg.cameras[0], cfg, StaticTracker(), model_name="yolo11n")
    frame = Frame("cam-1", 42, np.zeros((100, 200, 3), np.uint8), 1_790_000_000.123, 0.0, 0.0)
    got = boxes([("chair", 0.9, [20, 60, 60, 95]), ("person", 0.8, [100, 10, 140, 40])])
    rec = pipe.record(
        frame, got, inference_ms=12.5, decision=GateDecision(True, 0.5, "motion"), now=1_790_000_000.2
    )
    wire = decode(Detection, rec.to_bytes())
    assert wire.frame_size == [200, 100]
    assert wire.captured_at == "2026-09-21T14:13:20.123Z"
    assert [(o.label, o.zones, o.track_id) for o in wire.objects] == [
        ("chair", ["walkway"], 1),
        ("person", [], 2),
    ]
    assert wire.objects[0].box == [0.1, 0.6, 0.3, 0.95]
    assert wire.model_extra is not None and wire.model_extra["inference_ms"] == 12.5


def test_empty_frame_still_gives_a_record() -> None:
    cfg = parse_config(CONFIG)
    pipe = CameraPipeline(cfg.cameras[0], cfg, StaticTracker(), model_name="yolo11n")
    frame = Frame("cam-1", 1, np.zeros((100, 200, 3), np.uint8), 1_790_000_000.0, 0.0, 0.0)
    rec = pipe.record(
        frame, Boxes.empty(), inference_ms=1.0, decision=GateDecision(True, 0, "recheck"), now=1e9
    )
    assert rec.objects == [] and rec.snapshot is None


def test_boxes_are_clipped_to_the_frame() -> None:
    assert normalised([-5, -1, 250, 120], (200, 100)) == [0.0, 0.0, 1.0, 1.0]


def test_newest_frame_per_camera_wins() -> None:
    raws = [RawFrame("a", b"1", {}), RawFrame("b", b"2", {}), RawFrame("a", b"3", {})]
    fresh, skipped = newest_per_camera(raws)
    assert [(r.camera_id, r.value) for r in fresh] == [("a", b"3"), ("b", b"2")]
    assert skipped == 1


def test_bad_frames_are_named() -> None:
    import cv2

    ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    good = RawFrame("a", jpeg.tobytes(), {"seq": b"3", "captured_at": b"2026-01-01T00:00:00.000Z"})
    assert decode_frame(good).seq == 3
    for raw, message in [
        (RawFrame("a", b"not a jpeg", {}), "not a JPEG"),
        (RawFrame("a", b"", {}), "not a JPEG"),
        (RawFrame("a", None, {}), "not a JPEG"),  # type: ignore[arg-type]  # a tombstone
        (RawFrame("a", jpeg.tobytes(), {"seq": b"x"}), "header"),
        (RawFrame("a", jpeg.tobytes(), {"seq": b"9" * 5000, "captured_at": b"x"}), "header"),
    ]:
        try:
            decode_frame(raw)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError("decode_frame accepted a bad frame")


def test_the_cameras_stats_count_the_sampling_slots_the_loop_missed() -> None:
    cfg = parse_config(CONFIG)  # detect_fps 2 (the default)
    pipe = CameraPipeline(cfg.cameras[0], cfg, StaticTracker(), model_name="yolo11n", gate=False)
    image = np.zeros((100, 200, 3), np.uint8)
    # the loop took frames at 0, 0.5 and then only at 2.0: slots 1.0 and 1.5 passed without one
    for seq, t in enumerate((0.0, 0.5, 2.0)):
        assert pipe.admit(Frame("cam-1", seq, image, 1e9 + t, t, t)) is not None
    assert (pipe.stats.sampled, pipe.stats.missed) == (3, 2)
