"""Class-agnostic static objects: what appeared in a zone and stayed there (pure).

The packaged model has no class for piled materials or bags of garbage. This
step finds them the classic way: each zone whose categories count the label
``static_object`` learns a reference picture of itself empty (the median of
the frames of its first ``learn_s`` seconds, or of those after an operator's
``recapture``), and compares every frame it is given with it, block by block
(8x8 pixels of a small grey copy):

- *structure*: a normalised cross-correlation with a noise floor (the structure
  term of SSIM), blind to gain and offset, so light getting brighter or
  darker does not count; flat-on-flat is alike, an edge where there was none
  is not;
- *luminance*: the log ratio of the block's mean to the reference's, after
  dividing out the zone's median ratio (the global light change); only large
  ratios count, so soft shadows do not.

A block that differs is foreground. Boxes of people and vehicles (the model's,
widened by ``mask_margin``) are masked: they explain the change, and are not
counted. Foreground that stays ``static_after_s`` seconds becomes an object:
the connected blocks' box, its area, the time it was first seen, and a track
id kept while it stays in place. The reference adapts slowly (``adapt_s``)
where nothing is foreground or masked, following the day's light. Camera shake
is measured once per frame for the whole camera: phase correlation of the working
copy's middle (cut to powers of two: 256x128 of 320x176; people and vehicles
blanked) against the camera's anchor picture,
rounded to whole pixels (sub-pixel readings are noise, not shake). Each zone
reads its crop that far away (shifts up to ``max_shift`` from where it learnt);
blocks whose pixels the shift takes outside the picture are not compared, not
learnt and not reported. A larger shift, or a frame where most of the zone
changed, is skipped, and after ``relearn_after_s`` of such frames the zone
learns again (the anchor is taken again when every zone is learning).

Times are the frames' ``captured_at`` (epoch seconds, or media time in
``citywatch eval``). Every state is bounded: one reference and one block grid
per zone, at most ``LEARN_FRAMES`` pictures while learning, ``max_objects``
objects per zone, ``MAX_REQUESTS`` pending recaptures. The block pictures (working copy,
per-block dissimilarity, the shift, crops read a shift away) are ``detectors.static_blocks``.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from detectors.fixtures import iou
from detectors.static_blocks import BLOCK, BoolGrid, block_difference, pixels
from detectors.static_blocks import BoxT as BoxT  # re-exported: the step's public names
from detectors.static_blocks import masked_blocks as masked_blocks
from detectors.static_blocks import shift_between as shift_between
from detectors.static_blocks import shifted_crop as shifted_crop
from detectors.static_blocks import working_copy as working_copy
from detectors.types import FloatArray, Image
from detectors.zones import point_in_polygon
from streams.config import Camera, Config, Zone
from streams.config.camera import STATIC_LABEL, StaticObjects
from streams.config.static import static_zones
from streams.contract.errors import UsageError

LEARN_FRAMES = 9  # pictures kept while learning (thinned to every other one when full)
MISSES = 2  # clear looks in a row that end a foreground block (one noisy frame does not)
MAX_REQUESTS = 64  # recaptures pending between two frames
TRACK_BASE = 1_000_000_000  # static objects' track ids start here, far above the model's tracker
TRACK_SPAN = 1_000_000  # ids per zone

Times = npt.NDArray[np.float64]  # epoch seconds need more than float32 (2 min steps)


@dataclass(frozen=True)
class StaticObject:
    """One object that appeared in a zone and stayed."""

    track_id: int
    zone_id: str
    box: BoxT  # normalised to the frame
    area: float  # fraction of the frame
    first_seen: float  # when its first block changed (the frames' time base)
    score: float  # how clearly it differs, 0..1 (0.5: just at the threshold)


def thresholds(sensitivity: float) -> tuple[float, float]:
    """(structure, luminance) dissimilarity above which a block counts as changed."""
    return 0.6 - 0.4 * sensitivity, 0.2 + 0.8 * (1.0 - sensitivity)


@dataclass
class _Track:
    id: int
    box: BoxT
    first_seen: float


class ZoneStatic:
    """One zone's reference, block states and objects (see the module docstring)."""

    def __init__(self, zone: Zone, settings: StaticObjects, index: int) -> None:
        self.zone = zone
        self.settings = settings
        self.t_struct, self.t_lum = thresholds(settings.sensitivity)
        self._id_base = TRACK_BASE + index * TRACK_SPAN
        self._next_id = 0
        self._size = (0, 0)  # working (width, height) the geometry is for
        self._rect = (0, 0, 0, 0)  # block rows y0:y1, columns x0:x1 around the zone
        self._inside: BoolGrid = np.zeros((0, 0), np.bool_)  # blocks of the rect inside the zone
        self.recapture(-math.inf)

    @property
    def learning(self) -> bool:
        return self._reference is None

    def recapture(self, at: float) -> None:
        """Forget the reference and the objects; learn again from frames at or after ``at``."""
        self._reference: FloatArray | None = None
        self._stack: list[FloatArray] = []
        self._unknown: BoolGrid = np.zeros(self._inside.shape, np.bool_)  # never seen unmasked
        self._learn_from: float | None = None
        self._not_before = at
        # per block of the rect: when it became foreground (NaN: it is not), clear looks since
        self._since: Times = np.full(self._inside.shape, np.nan, np.float64)
        self._misses: npt.NDArray[np.uint8] = np.zeros(self._inside.shape, np.uint8)
        self._unsettled_from: float | None = None
        self._last_t: float | None = None
        self._tracks: list[_Track] = []
        # the camera's shift (against its anchor) when the zone began learning: its reference's place
        self._origin: tuple[float, float] | None = None

    def reanchor(self, dx: float, dy: float) -> None:
        """The camera's anchor moved by (dx, dy): keep the reference's place in the new one."""
        if self._origin is not None:
            self._origin = (self._origin[0] - dx, self._origin[1] - dy)

    def _geometry(self, width: int, height: int) -> bool:
        """Block rect and zone mask for this working size; False if the zone covers no block."""
        if self._size == (width, height):
            return self._inside.size > 0
        self._size = (width, height)
        gh, gw = height // BLOCK, width // BLOCK
        grid = np.zeros((gh, gw), np.bool_)
        for by in range(gh):
            for bx in range(gw):
                x, y = (bx + 0.5) * BLOCK / width, (by + 0.5) * BLOCK / height
                grid[by, bx] = point_in_polygon(x, y, self.zone.polygon)
        rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
        if rows.size == 0:
            self._inside = np.zeros((0, 0), np.bool_)
            return False
        self._rect = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        y0, y1, x0, x1 = self._rect
        self._inside = grid[y0:y1, x0:x1]
        self.recapture(self._not_before)  # a new picture size: what was learnt does not fit
        return True

    def update(
        self,
        grey: FloatArray,
        t: float,
        masked: BoolGrid,
        shift: tuple[float, float] = (0.0, 0.0),
        size: tuple[int, int] | None = None,
    ) -> list[StaticObject]:
        """One frame: ``grey`` is the working copy (float32), ``masked`` its block grid of masked
        blocks, ``shift`` the camera's (dx, dy) against its anchor, working pixels, ``size`` the
        copy's (width, height) before it was cut to whole blocks (default: its own). Returns the
        zone's static objects now."""
        width, height = size if size is not None else (grey.shape[1], grey.shape[0])
        if not self._geometry(width, height):
            return []
        if t < self._not_before:
            return []
        if self._origin is None:
            self._origin = shift
        dx, dy = shift[0] - self._origin[0], shift[1] - self._origin[1]
        limit = self.settings.max_shift * width
        if limit <= 0:
            dx = dy = 0.0  # no alignment asked for
        moved = math.hypot(dx, dy) > max(limit, 0.5)
        reference = self._reference
        if reference is None and moved:  # the camera moved while learning: begin again from here
            self._stack, self._learn_from, self._origin = [], None, shift
            dx = dy = 0.0
        elif moved:
            return self._unsettled(t)
        crop, outside = shifted_crop(grey, self._rect, round(dx), round(dy))
        y0, y1, x0, x1 = self._rect
        around = masked[y0:y1, x0:x1] | outside  # pixels the shift brought in from outside: unseen
        if reference is None:
            self._learn(crop, t, around)
            return []
        if self._last_t is not None and t < self._last_t:
            # the clock stepped back: move what was seen onto the new clock, ages kept
            back = self._last_t - t
            self._since -= back
            self._tracks = [_Track(tr.id, tr.box, tr.first_seen - back) for tr in self._tracks]
            self._unsettled_from = None if self._unsettled_from is None else self._unsettled_from - back
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        aligned = crop
        # blocks hidden by people through all the learning: their first clear look is the reference
        seen = self._unknown & ~around
        if seen.any():
            reference[pixels(seen)] = aligned[pixels(seen)]
            self._unknown = np.asarray(self._unknown & ~seen, np.bool_)
        mask = (around | self._unknown) & self._inside
        valid = self._inside & ~mask
        structure, luminance = block_difference(aligned, reference, valid)
        changed = (structure > self.t_struct) | (luminance > self.t_lum)
        zone_blocks = int(np.count_nonzero(valid))
        if zone_blocks and np.count_nonzero(changed & valid) > self.settings.max_changed * zone_blocks:
            return self._unsettled(t)
        self._unsettled_from = None
        self._track_blocks(changed & valid, mask, t)
        self._adapt(reference, aligned, ~changed & ~mask & np.isnan(self._since), dt)
        strength = np.maximum(structure / self.t_struct, luminance / self.t_lum)
        # a masked block is explained by the person or vehicle over it now, whatever it was before
        return self._objects(t, width, height, strength, around)

    def _learn(self, crop: FloatArray, t: float, masked: BoolGrid) -> None:
        """Keep the picture, people and vehicles left out (a person standing through the learning
        would stay in the reference and leave a ghost); the reference is the median."""
        if self._learn_from is None:
            self._learn_from = t
        if len(self._stack) >= LEARN_FRAMES:
            self._stack = self._stack[::2]  # keep the period's spread, not just its start
        self._stack.append(np.where(pixels(masked), np.float32(np.nan), crop).astype(np.float32))
        if t - self._learn_from >= self.settings.learn_s:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # blocks masked in every picture
                median = np.nanmedian(np.stack(self._stack), axis=0)
            gh, gw = self._inside.shape
            self._unknown = np.asarray(
                np.isnan(median).reshape(gh, BLOCK, gw, BLOCK).any(axis=(1, 3)), np.bool_
            )
            self._reference = np.asarray(np.where(np.isnan(median), crop, median), np.float32)
            self._stack = []
            shape = self._inside.shape
            self._since = np.full(shape, np.nan, np.float64)
            self._misses = np.zeros(shape, np.uint8)
            self._last_t = t

    def _unsettled(self, t: float) -> list[StaticObject]:
        """A frame that cannot be compared: skip it; relearn after ``relearn_after_s`` of them."""
        if self._unsettled_from is None:
            self._unsettled_from = t
        elif t - self._unsettled_from >= self.settings.relearn_after_s:
            self.recapture(t)
        return []

    def _track_blocks(self, foreground: BoolGrid, mask: BoolGrid, t: float) -> None:
        since, misses = self._since, self._misses
        since[foreground & np.isnan(since)] = t
        misses[foreground] = 0
        clear = self._inside & ~foreground & ~mask
        misses[clear] = np.minimum(misses[clear] + 1, MISSES)
        since[clear & (misses >= MISSES)] = np.nan

    def _adapt(self, reference: FloatArray, aligned: FloatArray, quiet: BoolGrid, dt: float) -> None:
        """Move ``reference`` towards the frame where nothing is foreground or masked."""
        rate = min(1.0, dt / self.settings.adapt_s)
        if rate <= 0.0 or not quiet.any():
            return
        where = pixels(quiet)
        reference[where] += rate * (aligned[where] - reference[where])

    def _objects(
        self, t: float, width: int, height: int, strength: FloatArray, hidden: BoolGrid
    ) -> list[StaticObject]:
        """The zone's static objects now, left out the ``hidden`` blocks: those a person or vehicle
        covers (its masked box), and those a shift brought in from outside the picture."""
        since = self._since
        with np.errstate(invalid="ignore"):
            static = self._inside & ~hidden & (t - since >= self.settings.static_after_s)
        if not static.any():
            self._tracks = []
            return []
        grid = static.astype(np.uint8)
        # an object's flat inside may look like the ground it covers: join its edges
        grid = cv2.morphologyEx(grid, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) & (
            self._inside & ~hidden
        ).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
        y0, _, x0, _ = self._rect
        found: list[tuple[BoxT, float, float]] = []
        for i in range(1, count):
            bx, by, bw, bh = (int(v) for v in stats[i, :4])
            box = (
                (x0 + bx) * BLOCK / width,
                (y0 + by) * BLOCK / height,
                min(1.0, (x0 + bx + bw) * BLOCK / width),
                min(1.0, (y0 + by + bh) * BLOCK / height),
            )
            if (box[2] - box[0]) * (box[3] - box[1]) < self.settings.min_area:
                continue
            part = (labels == i) & static
            first = float(np.nanmin(since[part])) if part.any() else t
            score = float(np.clip(0.5 * float(np.mean(strength[part])) if part.any() else 0.5, 0.0, 1.0))
            found.append((box, first, score))
        found.sort(key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]), reverse=True)
        return self._match(found[: self.settings.max_objects])

    def _match(self, found: list[tuple[BoxT, float, float]]) -> list[StaticObject]:
        """Keep each object's track id (and first sighting) while its box stays in place."""
        previous, tracks, out = list(self._tracks), [], []
        for box, first, score in found:
            best = max(previous, key=lambda tr: iou(tr.box, box), default=None)
            if best is not None and iou(best.box, box) >= 0.3:
                previous.remove(best)
                track = _Track(best.id, box, min(best.first_seen, first))
            else:
                track = _Track(self._id_base + self._next_id, box, first)
                self._next_id = (self._next_id + 1) % TRACK_SPAN
            tracks.append(track)
            area = (box[2] - box[0]) * (box[3] - box[1])
            out.append(
                StaticObject(
                    track.id, self.zone.id, _rounded(box), round(area, 5), track.first_seen, round(score, 4)
                )
            )
        self._tracks = tracks
        return out


def _rounded(box: BoxT) -> BoxT:
    return (round(box[0], 5), round(box[1], 5), round(box[2], 5), round(box[3], 5))


def uses_static_objects(cfg: Config) -> bool:
    """Whether any camera zone counts ``static_object`` (the model must then find its masks)."""
    return any(static_zones(cfg, camera) for camera in cfg.cameras)


class CameraStatic:
    """One camera's static-object zones. ``update`` per frame; ``recapture`` from any thread."""

    def __init__(self, camera_id: str, zones: Sequence[tuple[Zone, StaticObjects]]) -> None:
        if not zones:
            raise ValueError(f"camera {camera_id}: no zone counts {STATIC_LABEL}")
        self.camera_id = camera_id
        self.zones = {zone.id: ZoneStatic(zone, settings, i) for i, (zone, settings) in enumerate(zones)}
        self._lock = threading.Lock()
        self._requests: list[tuple[str | None, float]] = []
        # per working width: the anchor picture the camera's shift is measured against, its masked blocks
        self._anchors: dict[int, tuple[FloatArray, BoolGrid]] = {}
        self.last_shift: dict[int, tuple[float, float]] = {}  # per working width, this frame's

    def _shift(self, width: int, grey: FloatArray, moving: BoolGrid) -> tuple[float, float]:
        """The camera's shift of this working copy against its anchor (its middle, ``moving`` blocks
        blanked in both). While every zone is learning the anchor is this picture."""
        anchor = self._anchors.get(width)
        if anchor is not None and anchor[0].shape != grey.shape:
            anchor = None
        zones = [zs for zs in self.zones.values() if zs.settings.width == width]
        if anchor is None:
            self._anchors[width] = (grey.copy(), moving)
            return 0.0, 0.0
        blank = pixels(anchor[1] | moving)
        if blank.any():
            a = np.where(blank, np.float32(anchor[0].mean()), anchor[0])
            c = np.where(blank, np.float32(grey.mean()), grey)
        else:
            a, c = anchor[0], grey
        dx, dy = shift_between(np.asarray(a, np.float32), np.asarray(c, np.float32))
        if all(zs.learning for zs in zones):  # nothing learnt yet to keep in place: follow the camera
            for zs in zones:
                zs.reanchor(dx, dy)
            self._anchors[width] = (grey.copy(), moving)
            return 0.0, 0.0
        return dx, dy

    @classmethod
    def for_camera(cls, cfg: Config, camera: Camera) -> CameraStatic | None:
        """The camera's static-object step, or None when none of its zones counts ``static_object``."""
        zones = static_zones(cfg, camera)
        if not zones:
            return None
        return cls(camera.id, [(z, z.static_objects or camera.static_objects) for z in zones])

    def recapture(self, zone_id: str | None, at: float) -> None:
        """The zone (None: every static-object zone of the camera) is clean now: it learns its
        background again from the frames captured at or after ``at``. Safe from another thread;
        applied at the next frame. ``UsageError`` for a zone that finds no static objects."""
        if zone_id is not None and zone_id not in self.zones:
            known = ", ".join(self.zones)
            raise UsageError(
                f"camera {self.camera_id} has no zone {zone_id!r} that counts {STATIC_LABEL} "
                f"(those that do: {known}); recapture one of them, or all with no zone"
            )
        with self._lock:
            if len(self._requests) >= MAX_REQUESTS:
                self._requests = [(None, max(r[1] for r in self._requests))]
            self._requests.append((zone_id, at))

    def update(self, image: Image, t: float, detections: Sequence[tuple[str, BoxT]]) -> list[StaticObject]:
        """One frame (BGR) at time ``t`` with the model's (label, normalised box) pairs: those of a
        zone's ``mask_labels`` explain changes (people, vehicles). Returns the static objects of
        every zone, an object seen by two overlapping zones once (the first zone's)."""
        with self._lock:
            requests, self._requests = self._requests, []
        for zone_id, at in requests:
            for zid, zs in self.zones.items():
                if zone_id is None or zid == zone_id:
                    zs.recapture(at)
        copies: dict[int, tuple[FloatArray, tuple[int, int], tuple[float, float]]] = {}
        grids: dict[tuple[int, float, tuple[str, ...]], BoolGrid] = {}
        out: list[StaticObject] = []
        for zs in self.zones.values():
            s = zs.settings
            if s.width not in copies:
                grey, size = working_copy(image, s.width)
                labels = {label for z in self.zones.values() for label in z.settings.mask_labels}
                margin = max(z.settings.mask_margin for z in self.zones.values())
                moving = masked_blocks([box for label, box in detections if label in labels], *size, margin)
                copies[s.width] = (grey, size, self._shift(s.width, grey, moving))
                self.last_shift[s.width] = copies[s.width][2]
            grey, size, shift = copies[s.width]
            key = (s.width, s.mask_margin, tuple(s.mask_labels))
            if key not in grids:
                boxes = [box for label, box in detections if label in s.mask_labels]
                grids[key] = masked_blocks(boxes, *size, s.mask_margin)
            for obj in zs.update(grey, t, grids[key], shift, size):
                if all(iou(obj.box, seen.box) < 0.5 for seen in out):
                    out.append(obj)
        return out
