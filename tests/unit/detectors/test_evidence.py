"""Evidence: when a snapshot is due, the annotated picture, retention."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from detectors.evidence import EvidenceStore, SnapshotPolicy, annotate
from streams.config import Zone
from streams.config.models import Evidence
from streams.records import DetectedObject

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


def test_annotate_draws_on_a_copy() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    zones = [Zone(id="walkway", polygon=[[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories=["c"])]
    out = annotate(image, [obj("chair", ["walkway"])], zones, ["walkway"], "cam-1 2026-01-01T00:00:00.000Z")
    assert not image.any()
    assert out.shape == image.shape and out.any()


def test_store_writes_jpeg_and_prunes_by_age_and_size(tmp_path: Path) -> None:
    store = EvidenceStore(Evidence(dir=str(tmp_path), retention_days=1, max_mb=1))
    pic = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    path = Path(store.save("cam-1", 7, 1_790_000_000.0, pic))
    assert path.is_file() and path.read_bytes()[:2] == b"\xff\xd8"
    assert path.parent.parent.name == "cam-1"
    now = time.time()
    old = tmp_path / "cam-1" / "old.jpg"
    old.write_bytes(b"x" * 100)
    os.utime(old, (now - 2 * 86400, now - 2 * 86400))
    assert store.prune(now) == 1
    assert not old.exists() and path.exists()
    # beyond max_mb: the oldest go first
    for i in range(3):
        f = tmp_path / "cam-2" / f"{i}.jpg"
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"x" * 400_000)
        os.utime(f, (now - 100 + i, now - 100 + i))
    store.prune(now)
    left = sorted(p.name for p in (tmp_path / "cam-2").iterdir())
    assert left == ["1.jpg", "2.jpg"]
