"""Evidence snapshots: annotated JPEGs of zones where relevant objects are, and their retention.

``SnapshotPolicy`` (pure) decides when a camera's frame is due; ``annotate``
draws boxes, labels, zone outlines, camera and time; ``EvidenceStore`` writes
and prunes files under ``evidence.dir``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.types import Image
from streams.config import Zone
from streams.config.models import Evidence
from streams.records import DetectedObject
from streams.timeutil import to_iso

logger = logging.getLogger(__name__)


class SnapshotPolicy:
    """At most one snapshot per zone every ``interval_s``, only while relevant objects are in it.

    ``relevant`` maps zone id -> labels that matter there (its categories' labels).
    """

    def __init__(self, interval_s: float, relevant: Mapping[str, frozenset[str]]) -> None:
        self.interval_s = interval_s
        self.relevant = relevant
        self._last: dict[str, float] = {}

    def due(self, objects: Iterable[DetectedObject], t: float) -> list[str]:
        """Zones due for a snapshot at time ``t``; calling it marks them as snapshotted."""
        occupied: set[str] = set()
        for obj in objects:
            for zone_id in obj.zones:
                if obj.label in self.relevant.get(zone_id, frozenset()):
                    occupied.add(zone_id)
        due = sorted(z for z in occupied if t - self._last.get(z, float("-inf")) >= self.interval_s)
        for zone_id in due:
            self._last[zone_id] = t
        return due


_GREEN = (60, 200, 60)
_RED = (40, 40, 230)
_YELLOW = (0, 220, 255)


def annotate(
    image: Image,
    objects: Sequence[DetectedObject],
    zones: Sequence[Zone],
    highlight: Iterable[str],
    caption: str,
) -> Image:
    """A copy of ``image`` with zone outlines (highlighted ones in red), boxes, labels and a caption."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(w, h) / 360))
    hot = set(highlight)
    for zone in zones:
        pts = np.array([[round(x * w), round(y * h)] for x, y in zone.polygon], np.int32)
        colour = _RED if zone.id in hot else _YELLOW
        cv2.polylines(out, [pts], True, colour, thick + 1)
        cv2.putText(out, zone.id, tuple(pts[0] + [4, 18 * thick]), 0, 0.5 * thick, colour, thick)
    for obj in objects:
        x1, y1, x2, y2 = (round(v * s) for v, s in zip(obj.box, (w, h, w, h), strict=True))
        colour = _RED if set(obj.zones) & hot else _GREEN
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        tid = "" if obj.track_id is None else f"#{obj.track_id} "
        cv2.putText(
            out, f"{tid}{obj.label} {obj.score:.2f}", (x1, max(12, y1 - 4)), 0, 0.4 * thick, colour, thick
        )
    cv2.rectangle(out, (0, 0), (w, 22 * thick), (0, 0, 0), -1)
    cv2.putText(out, caption, (6, 16 * thick), 0, 0.5 * thick, (255, 255, 255), thick)
    return out


class EvidenceStore:
    """Writes evidence JPEGs as DIR/CAMERA/YYYYMMDD/CAMERA-SEQ-TIME.jpg and enforces retention."""

    def __init__(self, cfg: Evidence, *, prune_every_s: float = 300.0) -> None:
        self.root = Path(cfg.dir)
        self.quality = cfg.jpeg_quality
        self.retention_s = cfg.retention_days * 86400.0
        self.max_bytes = int(cfg.max_mb * 1024 * 1024)
        self.prune_every_s = prune_every_s
        self._next_prune = 0.0

    def save(self, camera_id: str, seq: int, captured_at: float, picture: Image) -> str:
        stamp = to_iso(captured_at)
        day = stamp[:10].replace("-", "")
        folder = self.root / camera_id / day
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{camera_id}-{seq:08d}-{stamp[11:23].replace(':', '').replace('.', '')}.jpg"
        path = folder / name
        ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise OSError(f"JPEG encoding failed for {path}")
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + self.prune_every_s
            self.prune(now)
        return str(path)

    def prune(self, now: float) -> int:
        """Delete files older than the retention, then the oldest beyond the size limit."""
        files: list[tuple[float, int, Path]] = []
        for path in self.root.rglob("*.jpg"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        files.sort()
        removed = 0
        total = sum(size for _, size, _ in files)
        for mtime, size, path in files:
            if now - mtime <= self.retention_s and total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            removed += 1
        if removed:
            logger.info("evidence: removed %d old files under %s", removed, self.root)
        return removed
