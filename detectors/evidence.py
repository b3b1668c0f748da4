"""Evidence snapshots: annotated JPEGs of zones where relevant objects are, and their retention.

``SnapshotPolicy`` (pure) decides when a camera's frame is due; ``annotate``
draws boxes, labels and zone outlines on the frame and puts camera and time on
a strip added above it (nothing of the scene is covered); ``place_labels``
(pure) keeps box labels apart; ``EvidenceStore`` writes and prunes the camera
evidence under ``evidence.dir`` (and, with ``keep_original``, the untouched
frame beside it as ``<name>.orig.jpg``).

Camera evidence is ``DIR/CAMERA/YYYYMMDD/CAMERA-SEQ-TIME.jpg``. Pruning (age,
then ``max_mb``) considers only files of that layout, so what others keep under
the same directory (the web's patrol photos in ``DIR/patrol/``, the cameras' live
pictures in ``DIR/live/``) has its own budget and is never deleted here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.types import Image
from streams.config import Zone
from streams.config.models import Evidence
from streams.config.verify_camera import RESERVED_CAMERA_IDS
from streams.contract.records import DetectedObject
from streams.contract.timeutil import to_iso

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
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 (pixels, x2/y2 exclusive)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _first_free(x: int, y: int, size: tuple[int, int], placed: Sequence[Rect], height: int) -> Rect | None:
    """The first place at or below ``y`` (column ``x``) where a label covers no placed label."""
    lw, lh = size
    rect = (x, y, x + lw, y + lh)
    while rect[3] <= height:
        hit = [other for other in placed if _overlaps(rect, other)]
        if not hit:
            return rect
        below = max(other[3] for other in hit)  # > rect's top: every step moves down
        rect = (x, below, x + lw, below + lh)
    return None


def place_labels(
    boxes: Sequence[Rect], sizes: Sequence[tuple[int, int]], width: int, height: int
) -> list[Rect]:
    """Where each box's label goes: just above its box (inside the box's top when there is no
    room above), moved down past labels already placed so none covers another (from the top
    when the bottom is reached), always inside ``width`` x ``height``. ``sizes`` are the
    labels' (w, h) in pixels. Pure."""
    placed: list[Rect] = []
    for (x1, y1, _x2, _y2), (lw, lh) in zip(boxes, sizes, strict=True):
        lw, lh = min(lw, width), min(lh, height)
        x = min(max(0, x1), width - lw)
        y = min(y1 - lh if y1 >= lh else max(0, y1), height - lh)
        rect = (
            _first_free(x, y, (lw, lh), placed, height)
            or _first_free(x, 0, (lw, lh), placed, height)
            or (x, y, x + lw, y + lh)  # no free place in its column: at its box, still inside the frame
        )
        placed.append(rect)
    return placed


def banner_height(width: int, height: int) -> int:
    """Height of the caption strip added above a frame of this size."""
    return 22 * max(1, round(min(width, height) / 360))


def annotate(
    image: Image,
    objects: Sequence[DetectedObject],
    zones: Sequence[Zone],
    highlight: Iterable[str],
    caption: str,
) -> Image:
    """The frame with zone outlines (highlighted ones in red), boxes and labels, below an added
    strip with the caption: the result is ``banner_height`` rows taller than ``image``, and
    nothing but the drawings covers the scene. ``image`` itself is not changed."""
    h, w = image.shape[:2]
    thick = max(1, round(min(w, h) / 360))
    strip = banner_height(w, h)
    out = np.zeros((h + strip, w, 3), np.uint8)
    scene = out[strip:]
    scene[:] = image
    hot = set(highlight)
    for zone in zones:
        pts = np.array([[round(x * w), round(y * h)] for x, y in zone.polygon], np.int32)
        colour = _RED if zone.id in hot else _YELLOW
        cv2.polylines(scene, [pts], True, colour, thick + 1)
        cv2.putText(scene, zone.id, tuple(pts[0] + [4, 18 * thick]), _FONT, 0.5 * thick, colour, thick)
    boxes: list[Rect] = []
    texts: list[str] = []
    colours: list[tuple[int, int, int]] = []
    sizes: list[tuple[int, int]] = []
    scale = 0.4 * thick
    for obj in objects:
        x1, y1, x2, y2 = (round(v * s) for v, s in zip(obj.box, (w, h, w, h), strict=True))
        colour = _RED if set(obj.zones) & hot else _GREEN
        cv2.rectangle(scene, (x1, y1), (x2, y2), colour, thick)
        tid = "" if obj.track_id is None else f"#{obj.track_id} "
        text = f"{tid}{obj.label} {obj.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
        boxes.append((x1, y1, x2, y2))
        texts.append(text)
        colours.append(colour)
        sizes.append((tw + 4, th + base + 4))
    # labels last, on a filled background, so that no box line or other label hides them
    for text, colour, (lx1, ly1, lx2, ly2) in zip(
        texts, colours, place_labels(boxes, sizes, w, h), strict=True
    ):
        cv2.rectangle(scene, (lx1, ly1), (lx2 - 1, ly2 - 1), colour, -1)
        (_tw, th), _base = cv2.getTextSize(text, _FONT, scale, thick)
        cv2.putText(scene, text, (lx1 + 2, ly1 + 2 + th), _FONT, scale, _BLACK, thick)
    cv2.putText(out, caption, (6, strip - 6 * thick), _FONT, 0.5 * thick, _WHITE, thick)
    return out


_DAY = re.compile(r"^\d{8}$")
# folders under evidence.dir that other parts of citywatch own: the web's patrol photos, the
# cameras' live pictures (detectors/live.py, overwritten in place); no camera may have these ids
OTHERS = RESERVED_CAMERA_IDS


class EvidenceStore:
    """Writes evidence JPEGs as DIR/CAMERA/YYYYMMDD/CAMERA-SEQ-TIME.jpg (and CAMERA-SEQ-TIME.orig.jpg
    with ``keep_original``) and enforces retention on those files only."""

    def __init__(self, cfg: Evidence, *, prune_every_s: float = 300.0) -> None:
        self.root = Path(cfg.dir)
        self.quality = cfg.jpeg_quality
        self.retention_s = cfg.retention_days * 86400.0
        self.max_bytes = int(cfg.max_mb * 1024 * 1024)
        self.keep_original = cfg.keep_original
        self.prune_every_s = prune_every_s
        self._next_prune = 0.0
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(
                f"cannot create the evidence directory {self.root.resolve()} ({exc.strerror}); "
                "set evidence.dir in the configuration to a writable directory"
            ) from None

    def save(
        self, camera_id: str, seq: int, captured_at: float, picture: Image, original: Image | None = None
    ) -> str:
        """Write the annotated ``picture`` (and ``original`` beside it when ``keep_original`` is
        on); return the annotated file's path."""
        stamp = to_iso(captured_at)
        day = stamp[:10].replace("-", "")
        folder = self.root / camera_id / day
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{camera_id}-{seq:08d}-{stamp[11:23].replace(':', '').replace('.', '')}"
        path = folder / f"{stem}.jpg"
        if self.keep_original and original is not None:
            self._write(folder / f"{stem}.orig.jpg", original)
        self._write(path, picture)
        now = time.time()
        if now >= self._next_prune:
            self._next_prune = now + self.prune_every_s
            self.prune(now)
        return str(path)

    def _write(self, path: Path, picture: Image) -> None:
        ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise OSError(f"JPEG encoding failed for {path}")
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)

    def camera_files(self) -> Iterator[Path]:
        """Every file of the camera-evidence layout (pictures, originals, unfinished writes);
        nothing else under the directory."""
        try:
            cameras = list(self.root.iterdir())
        except FileNotFoundError:
            return
        for cam_dir in cameras:
            if cam_dir.name in OTHERS or not cam_dir.is_dir() or cam_dir.is_symlink():
                continue
            own = re.compile(rf"^{re.escape(cam_dir.name)}-\d+-\d+(\.orig)?\.jpg(\.part)?$")
            for day_dir in cam_dir.iterdir():
                if not _DAY.match(day_dir.name) or not day_dir.is_dir() or day_dir.is_symlink():
                    continue
                for path in day_dir.iterdir():
                    if own.match(path.name):
                        yield path

    def prune(self, now: float) -> int:
        """Delete camera evidence older than the retention, then the oldest beyond ``max_mb``;
        then the day folders left empty."""
        files: list[tuple[float, int, Path]] = []
        for path in self.camera_files():
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, path))
        files.sort()
        removed = 0
        total = sum(size for _, size, _ in files)
        emptied: set[Path] = set()
        for mtime, size, path in files:
            if now - mtime <= self.retention_s and total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            removed += 1
            emptied.add(path.parent)
        for folder in emptied:
            with contextlib.suppress(OSError):  # not empty (a newer file), or gone: keep going
                folder.rmdir()
        if removed:
            logger.info("evidence: removed %d old camera evidence files under %s", removed, self.root)
        return removed
