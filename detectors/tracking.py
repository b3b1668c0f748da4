"""One tracker per camera: ByteTrack (Kalman motion + two-stage IoU matching).

The tracker reads ``Boxes`` (our type), never an ultralytics result.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from detectors.types import Boxes


class Tracker(Protocol):
    def update(self, boxes: Boxes) -> list[int | None]:
        """Track id of each box (same order), None where no track is confirmed yet."""
        ...


class ByteTracker:
    """ultralytics' BYTETracker behind our ``Tracker`` seam.

    ``fps`` is the rate the tracker sees frames at (the camera's detect_fps);
    ``lost_s`` is how long a vanished object keeps its id; ``high`` is the score that
    starts a track (the model's ``conf``, so every published object can get an id).
    """

    def __init__(
        self, fps: float, *, lost_s: float = 30.0, high: float = 0.25, low: float | None = None
    ) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=high,
            track_low_thresh=high / 2 if low is None else low,
            new_track_thresh=high,
            track_buffer=max(1, round(lost_s * fps)),
            match_thresh=0.8,
            fuse_score=True,
        )
        self._tracker: Any = BYTETracker(args)  # type: ignore[no-untyped-call]

    def update(self, boxes: Boxes) -> list[int | None]:
        ids: list[int | None] = [None] * len(boxes)
        out = np.asarray(self._tracker.update(boxes))
        for row in out.reshape(-1, out.shape[-1] if out.ndim == 2 else 8):
            idx = int(row[-1])
            if 0 <= idx < len(ids):
                ids[idx] = int(row[4])
        return ids
