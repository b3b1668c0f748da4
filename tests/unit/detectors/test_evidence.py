"""Evidence: when a snapshot is due, the annotated picture, retention."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from detectors.evidence import EvidenceStore, SnapshotPolicy, annotate, banner_height, place_labels
from streams.config import Zone
from streams.config.models import Evidence
from streams.contract.records import DetectedObject

RELEVANT = {"walkway": frozenset({"chair", "bench"}), "kerb": frozenset({"car"})}


def obj(label: str, zones: list[str]) -> DetectedObject:
    return DetectedObject(track_id=1, label=label, score=0.9, box=[0.1, 0.5, 0.3, 0.9], zones=zones)


def test_snapshot_only_for_relevant_objects_and_at_most_every_interval() -> None:
    policy = SnapshotPolicy(30, RELEVANT)
    assert policy.due([obj("person", ["walkway"])], 0) == []  # people are context, not evidence
    assert policy.due([obj("chair", [])], 0) == []  # outside every zone
    assert policy.due([obj("chair", ["walkway"])], 1) == ["walkway"]
    assert policy.due([obj("chair", ["walkway"])], 20) == []
    assert policy.due([obj("chair", ["walkway"]), obj("car", ["kerb"])], 25) == ["kerb"]
    assert policy.due([obj("chair", ["walkway"])], 31) == ["walkway"]


def frame(h: int = 240, w: int = 320) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)


CAPTION = "cam-1 2026-01-01T00:00:00.000Z  zones: walkway"


def test_annotate_puts_the_caption_on_an_added_strip_and_leaves_the_scene_untouched() -> None:
    image = frame()
    before = image.copy()
    out = annotate(image, [], [], [], CAPTION)
    strip = banner_height(320, 240)
    assert strip > 0 and out.shape == (240 + strip, 320, 3)
    assert np.array_equal(out[strip:], image)  # the whole scene, pixel for pixel
    assert out[:strip].any()  # the caption is on the strip
    assert np.array_equal(image, before)  # drawn on a copy


def test_annotate_covers_nothing_of_the_scene_but_its_drawings() -> None:
    image = frame(480, 640)
    zones = [Zone(id="walkway", polygon=[[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories=["c"])]
    out = annotate(image, [obj("chair", ["walkway"])], zones, ["walkway"], CAPTION)
    strip = banner_height(640, 480)
    scene = out[strip:]
    assert scene.shape == image.shape
    # the top of the frame (where the caption used to be drawn) has no drawing: identical
    assert np.array_equal(scene[:200], image[:200])
    assert not np.array_equal(scene, image)  # boxes and zones are drawn below


@pytest.mark.parametrize(
    ("boxes", "width", "height"),
    [
        ([(50, 100, 150, 200)] * 6, 320, 240),  # six objects on one spot
        ([(0, 0, 100, 100), (10, 2, 90, 90)], 320, 240),  # at the top: labels go inside the box
        ([(300, 230, 320, 240)], 320, 240),  # at the bottom-right corner
        ([(100, 60, 200, 120), (110, 62, 210, 130), (95, 58, 190, 125)], 320, 240),  # overlapping boxes
    ],
)
def test_labels_never_cover_each_other_and_stay_inside(
    boxes: list[tuple[int, int, int, int]], width: int, height: int
) -> None:
    sizes = [(80, 16)] * len(boxes)
    rects = place_labels(boxes, sizes, width, height)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert (x2 - x1, y2 - y1) == sizes[i]
        for other in rects[:i]:
            assert not (x1 < other[2] and other[0] < x2 and y1 < other[3] and other[1] < y2), (rects, i)


def test_a_lone_label_sits_just_above_its_box() -> None:
    assert place_labels([(50, 100, 150, 200)], [(80, 16)], 320, 240) == [(50, 84, 130, 100)]


def test_labels_beyond_the_room_stay_inside_the_frame() -> None:
    rects = place_labels([(0, 0, 20, 20)] * 40, [(60, 16)] * 40, 100, 64)  # 40 labels, room for 4
    assert all(r[0] >= 0 and r[2] <= 100 and r[1] >= 0 and r[3] <= 64 for r in rects)


def camera_file(root: Path, cam: str, name: str, size: int, mtime: float) -> Path:
    f = root / cam / "20260101" / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"x" * size)
    os.utime(f, (mtime, mtime))
    return f


def test_store_writes_jpeg_and_prunes_by_age_and_size(tmp_path: Path) -> None:
    store = EvidenceStore(Evidence(dir=str(tmp_path), retention_days=1, max_mb=1))
    pic = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    path = Path(store.save("cam-1", 7, 1_790_000_000.0, pic))
    assert path.is_file() and path.read_bytes()[:2] == b"\xff\xd8"
    assert path.parent.parent.name == "cam-1"
    assert not list(tmp_path.rglob("*.part"))
    assert not list(tmp_path.rglob("*.orig.jpg"))  # keep_original is off by default
    now = time.time()
    old = camera_file(tmp_path, "cam-1", "cam-1-00000001-000000000.jpg", 100, now - 2 * 86400)
    assert store.prune(now) == 1
    assert not old.exists() and path.exists()
    assert not old.parent.exists()  # its emptied day folder goes too
    # beyond max_mb: the oldest go first
    for i in range(3):
        camera_file(tmp_path, "cam-2", f"cam-2-0000000{i}-000000000.jpg", 400_000, now - 100 + i)
    store.prune(now)
    left = sorted(p.name for p in (tmp_path / "cam-2" / "20260101").iterdir())
    assert left == ["cam-2-00000001-000000000.jpg", "cam-2-00000002-000000000.jpg"]


def test_keep_original_writes_the_untouched_frame_beside_the_annotated_one(tmp_path: Path) -> None:
    store = EvidenceStore(Evidence(dir=str(tmp_path), keep_original=True, jpeg_quality=100))
    ys, xs = np.mgrid[0:240, 0:320]
    image = np.dstack([xs * 255 // 320, ys * 255 // 240, (xs + ys) * 255 // 560]).astype(np.uint8)  # smooth
    picture = annotate(image, [obj("chair", ["walkway"])], [], ["walkway"], CAPTION)
    path = Path(store.save("cam-1", 7, 1_790_000_000.0, picture, original=image))
    orig = path.with_name(path.stem + ".orig.jpg")
    assert path.is_file() and orig.is_file()
    import cv2

    back = cv2.imread(str(orig))
    assert back.shape == image.shape  # the frame itself, no strip
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 3  # JPEG of the same pixels
    annotated = cv2.imread(str(path))
    assert annotated.shape == picture.shape


def test_pruning_touches_only_camera_evidence(tmp_path: Path) -> None:
    """A flood of patrol photos (any type) never deletes camera evidence, and camera evidence of
    every type the detector writes (pictures, originals, unfinished writes) is pruned."""
    store = EvidenceStore(Evidence(dir=str(tmp_path), retention_days=1, max_mb=1))
    now = time.time()
    ancient = now - 30 * 86400
    patrol = []
    for i in range(20):  # 20 MB of old photos, far beyond the camera budget
        for suffix in (".jpg", ".png"):
            f = tmp_path / "patrol" / f"case-{i}" / f"case-{i}-20260101T000000{suffix}"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"p" * 500_000)
            os.utime(f, (ancient, ancient))
            patrol.append(f)
    stray = tmp_path / "cam-1" / "notes.jpg"  # not of the camera layout: not ours
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"s")
    os.utime(stray, (ancient, ancient))
    recent = camera_file(tmp_path, "cam-1", "cam-1-00000009-120000000.jpg", 1000, now - 60)
    old = [
        camera_file(tmp_path, "cam-1", "cam-1-00000001-000000000.jpg", 1000, ancient),
        camera_file(tmp_path, "cam-1", "cam-1-00000001-000000000.orig.jpg", 1000, ancient),
        camera_file(tmp_path, "cam-1", "cam-1-00000002-000000000.jpg.part", 1000, ancient),
    ]
    assert store.prune(now) == 3
    assert all(f.exists() for f in patrol)
    assert stray.exists() and recent.exists()
    assert not any(f.exists() for f in old)
    # over budget: camera evidence goes, oldest first; patrol photos are not counted
    big = [
        camera_file(tmp_path, "cam-2", f"cam-2-0000000{i}-000000000{sfx}", 400_000, now - 100 + i)
        for i, sfx in enumerate([".jpg", ".orig.jpg", ".jpg"])
    ]
    assert store.prune(now) == 1
    assert not big[0].exists() and big[1].exists() and big[2].exists()
    assert all(f.exists() for f in patrol) and recent.exists()


def test_store_creates_its_directory_with_parents_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = EvidenceStore(Evidence(dir="var/deep/evidence"))
    assert (tmp_path / "var" / "deep" / "evidence").is_dir()
    assert store.prune(time.time()) == 0
