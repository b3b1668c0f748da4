"""Live snapshots: each camera's latest frame, small, beside what the detector knows of it.

Every ``live_snapshot_s`` seconds (monotonic time) of a camera, ``LiveSnapshots.offer``
writes ``<evidence.dir>/live/<camera_id>.jpg`` (the frame already decoded, resized to at
most ``MAX_WIDTH`` px wide, JPEG quality ``QUALITY``) and then its sidecar
``<evidence.dir>/live/<camera_id>.json``::

    {"v": 1, "camera_id": "cam-hp-01", "captured_at": "2026-05-26T02:14:03.120Z",
     "frame_size": [1920, 1080], "fps": 2.0, "status": "online",
     "objects": [{"label": "bench", "score": 0.81, "box": [x1, y1, x2, y2], "zones": ["storefront"]}]}

``frame_size`` is the frame's, not the small picture's; boxes are normalised 0..1;
``objects`` are the latest detection's (frames the motion gate skips keep them). Both
files are written to a temporary name and renamed (picture first, so a sidecar never
names a picture older than itself); they are overwritten, never accumulate, and the
evidence retention leaves ``live/`` alone (detectors/evidence.py ``OTHERS``). The web's
camera wall reads them (streams/web/cameras.py).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detectors.health import FpsMeter
from detectors.types import Frame, Image
from streams.contract.records import DetectedObject
from streams.contract.timeutil import to_iso

logger = logging.getLogger(__name__)

LIVE_DIR = "live"  # under evidence.dir
MAX_WIDTH = 640
QUALITY = 70
SIDECAR_VERSION = 1


def live_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """(width, height) of the live picture of a ``width`` x ``height`` frame: the same when it is
    at most ``max_width`` wide, else scaled down to that width keeping its aspect (pure)."""
    if width <= max_width:
        return width, height
    return max_width, max(1, round(height * max_width / width))


def live_status(reported: str | None) -> str:
    """The sidecar's status from the camera-status the detector last reported: online, or
    degraded for anything else (a camera whose frame is here is not offline; the web judges
    offline by the sidecar's age)."""
    return "online" if reported in (None, "online") else "degraded"


def sidecar(
    camera_id: str,
    captured_at: float,
    frame_size: tuple[int, int],
    fps: float,
    status: str,
    objects: Iterable[DetectedObject],
) -> dict[str, Any]:
    """The sidecar of a live picture (pure)."""
    return {
        "v": SIDECAR_VERSION,
        "camera_id": camera_id,
        "captured_at": to_iso(captured_at),
        "frame_size": [int(frame_size[0]), int(frame_size[1])],
        "fps": round(fps, 2),
        "status": status,
        "objects": [
            {"label": o.label, "score": o.score, "box": list(o.box), "zones": list(o.zones)} for o in objects
        ],
    }


def small(image: Image, max_width: int = MAX_WIDTH) -> Image:
    """The frame scaled down to at most ``max_width`` px wide (the frame itself when it is)."""
    h, w = image.shape[:2]
    size = live_size(w, h, max_width)
    if size == (w, h):
        return image
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class LiveSnapshots:
    """Writes each camera's live picture and sidecar every ``intervals[camera_id]`` seconds.

    ``sampled`` counts the frames the camera's sampler took (the sidecar's fps);
    ``offer`` writes when the camera is due. A write that fails is logged (once per
    camera until one succeeds) and never stops the detector."""

    def __init__(self, evidence_dir: str | Path, intervals: Mapping[str, float]) -> None:
        self.folder = Path(evidence_dir) / LIVE_DIR
        self.intervals = dict(intervals)
        self._next: dict[str, float] = {}
        self._fps: dict[str, FpsMeter] = {camera_id: FpsMeter() for camera_id in intervals}
        self._failing: set[str] = set()
        self.written = 0

    def sampled(self, camera_id: str, mono: float) -> None:
        meter = self._fps.get(camera_id)
        if meter is not None:
            meter.tick(mono)

    def due(self, camera_id: str, mono: float) -> bool:
        """Whether a camera's live picture is due at ``mono``; saying yes books the next one."""
        interval = self.intervals.get(camera_id)
        if interval is None or mono < self._next.get(camera_id, float("-inf")):
            return False
        self._next[camera_id] = mono + interval
        return True

    def offer(self, frame: Frame, objects: Iterable[DetectedObject], reported: str | None) -> bool:
        """Write ``frame`` as its camera's live picture if one is due; True when written."""
        camera_id = frame.camera_id
        if not self.due(camera_id, frame.mono):
            return False
        meter = self._fps.get(camera_id)
        fps = meter.fps(frame.mono) if meter is not None else 0.0
        record = sidecar(camera_id, frame.captured_at, frame.size, fps, live_status(reported), objects)
        try:
            ok, data = cv2.imencode(".jpg", small(frame.image), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
            if not ok:
                raise OSError("JPEG encoding failed")
            self.folder.mkdir(parents=True, exist_ok=True)
            _replace(self.folder / f"{camera_id}.jpg", data.tobytes())
            _replace(self.folder / f"{camera_id}.json", json.dumps(record, ensure_ascii=False).encode())
        except OSError as exc:
            if camera_id not in self._failing:
                self._failing.add(camera_id)
                logger.error(
                    "%s: cannot write its live picture under %s (%s); check evidence.dir",
                    camera_id,
                    self.folder,
                    exc,
                )
            return False
        self._failing.discard(camera_id)
        self.written += 1
        return True
