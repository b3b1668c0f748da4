"""Live pictures for the camera wall: their size, sidecar and the files written (detectors/live.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.evidence import EvidenceStore
from detectors.live import LIVE_DIR, LiveSnapshots, live_size, live_status, sidecar, small
from detectors.types import Frame
from streams.config.models import Evidence
from streams.contract.records import DetectedObject


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((640, 360), (640, 360)),
        ((320, 240), (320, 240)),
        ((1920, 1080), (640, 360)),
        ((810, 1080), (640, 853)),
        ((3000, 1), (640, 1)),  # never 0 rows
    ],
)
def test_live_size_is_at_most_640_wide_keeping_the_aspect(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert live_size(*size) == expected


@pytest.mark.parametrize(
    ("reported", "status"),
    [(None, "online"), ("online", "online"), ("degraded", "degraded"), ("offline", "degraded")],
)
def test_the_sidecar_status_is_online_or_degraded(reported: str | None, status: str) -> None:
    assert live_status(reported) == status


def bench(zones: list[str]) -> DetectedObject:
    return DetectedObject(track_id=3, label="bench", score=0.81, box=[0.1, 0.5, 0.3, 0.9], zones=zones)


def test_sidecar_names_the_frame_its_time_fps_status_and_objects() -> None:
    record = sidecar("cam-1", 1779761643.12, (1920, 1080), 1.9876, "online", [bench(["storefront"])])
    assert record == {
        "v": 1,
        "camera_id": "cam-1",
        "captured_at": "2026-05-26T02:14:03.120Z",
        "frame_size": [1920, 1080],
        "fps": 1.99,
        "status": "online",
        "objects": [{"label": "bench", "score": 0.81, "box": [0.1, 0.5, 0.3, 0.9], "zones": ["storefront"]}],
    }


def frame(camera_id: str, mono: float, width: int = 1280, height: int = 720, seq: int = 0) -> Frame:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (0, 0, 255)  # left half red: the picture is the frame, scaled
    return Frame(camera_id, seq, image, captured_at=1779761643.12 + mono, mono=mono, media_t=mono)


def test_small_scales_down_only_wide_frames() -> None:
    wide = frame("cam-1", 0.0).image
    assert small(wide).shape == (360, 640, 3)
    narrow = frame("cam-1", 0.0, 320, 240).image
    assert small(narrow) is narrow


def test_pictures_are_written_every_interval_and_overwritten(tmp_path: Path) -> None:
    live = LiveSnapshots(tmp_path, {"cam-1": 2.0, "cam-2": 5.0})
    written = []
    for i in range(11):  # 0.0 .. 5.0 s, a frame every 0.5 s
        t = i * 0.5
        live.sampled("cam-1", t)
        written.append(live.offer(frame("cam-1", t, seq=i), [bench(["storefront"])], "online"))
    assert [i * 0.5 for i, w in enumerate(written) if w] == [0.0, 2.0, 4.0]
    folder = tmp_path / LIVE_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["cam-1.jpg", "cam-1.json"]  # no temporary files left
    picture = cv2.imread(str(folder / "cam-1.jpg"))
    assert picture.shape == (360, 640, 3)
    assert picture[180, 100, 2] > 200 and picture[180, 540, 2] < 50  # red left, black right
    record = json.loads((folder / "cam-1.json").read_text("utf-8"))
    assert record["captured_at"] == "2026-05-26T02:14:07.120Z"  # the frame at 4.0 s
    assert record["frame_size"] == [1280, 720] and record["status"] == "online"
    assert record["fps"] == pytest.approx(2.0)  # a sampled frame every 0.5 s
    assert record["objects"][0]["zones"] == ["storefront"]
    assert live.written == 3


def test_a_camera_without_an_interval_gets_no_picture(tmp_path: Path) -> None:
    live = LiveSnapshots(tmp_path, {"cam-1": 2.0})
    assert not live.offer(frame("cam-9", 0.0), [], None)
    assert not (tmp_path / LIVE_DIR).exists()


def test_a_failed_write_is_logged_once_and_the_next_due_one_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "evidence"
    blocker.write_text("a file where the evidence directory should be")
    live = LiveSnapshots(blocker, {"cam-1": 1.0})
    assert not live.offer(frame("cam-1", 0.0), [], None)
    assert not live.offer(frame("cam-1", 1.0), [], None)
    assert [r.message for r in caplog.records if "live picture" in r.message] == [
        f"cam-1: cannot write its live picture under {blocker / LIVE_DIR} "
        f"([Errno 20] Not a directory: '{blocker / LIVE_DIR}'); check evidence.dir"
    ]
    blocker.unlink()
    assert live.offer(frame("cam-1", 2.0), [], None)


def test_evidence_retention_leaves_live_pictures_alone(tmp_path: Path) -> None:
    store = EvidenceStore(Evidence(dir=str(tmp_path), retention_days=1, max_mb=1))
    live = LiveSnapshots(tmp_path, {"cam-1": 1.0})
    assert live.offer(frame("cam-1", 0.0), [], None)
    old = store.save("cam-1", 1, 1779761643.12, frame("cam-1", 0.0).image)
    assert sorted(p.name for p in store.camera_files()) == [Path(old).name]
    assert store.prune(now=time.time() + 10 * 86400) == 1  # ten days on (by file time): the evidence goes
    assert sorted(p.name for p in (tmp_path / LIVE_DIR).iterdir()) == ["cam-1.jpg", "cam-1.json"]
