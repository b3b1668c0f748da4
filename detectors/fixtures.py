"""Fixtures: what stands in a zone when the scene is clean, learnt once and matched by place (pure).

A zone's fixtures are boxes (a bench, a planter in a doorway, a bin) that are
no violation however long they stay. They are learnt over a learning period:
an object seen in the same place in at least ``min_presence`` of the period's
frames, whatever its label, becomes a fixture. Operators add and remove them
too (``citywatch fixtures``).

Matching is by place only: a box whose overlap (IoU) with a fixture's box is at
least ``min_iou`` is that fixture, whatever label the model gives it today (a
bench read as a suitcase one morning and as a bench the next). Something new
next to a fixture overlaps it little and counts; so does a fixture that moved
well away from its place.

``CameraFixtures`` holds one camera's fixtures and learning periods and moves
each matching object's zone out of ``zones`` into ``fixtures`` (objects with no
zone are no sighting for the rules). Times are the frames' ``captured_at``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from detectors.zones import anchor_point, point_in_polygon
from streams.config import Zone
from streams.config.models import Fixtures as FixtureSettings
from streams.contract.ids import make_id
from streams.contract.records import DetectedObject

BoxT = tuple[float, float, float, float]  # normalised x1, y1, x2, y2
Source = Literal["learned", "operator"]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes (0 when either is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def as_box(values: Sequence[float]) -> BoxT:
    """A checked normalised box: four numbers in 0..1 with x1 < x2 and y1 < y2."""
    if len(values) != 4:
        raise ValueError(f"a box is 4 numbers x1,y1,x2,y2, got {len(values)}")
    x1, y1, x2, y2 = (float(v) for v in values)
    if not all(0.0 <= v <= 1.0 for v in (x1, y1, x2, y2)):
        raise ValueError(f"box {[x1, y1, x2, y2]}: coordinates are fractions of the frame, 0..1")
    if x1 >= x2 or y1 >= y2:
        raise ValueError(f"box {[x1, y1, x2, y2]}: needs x1 < x2 and y1 < y2")
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class Fixture:
    """One fixture of a zone: its place, the label it was first seen with, and where it came from."""

    id: str
    zone_id: str
    box: BoxT
    label: str
    source: Source
    added_at: float  # epoch seconds

    @classmethod
    def make(cls, zone_id: str, box: Sequence[float], label: str, source: Source, at: float) -> Fixture:
        b = as_box([round(float(v), 4) for v in box])
        return cls(make_id("fx", zone_id, *b), zone_id, b, label, source, at)


def matching(box: Sequence[float], fixtures: Iterable[Fixture], min_iou: float) -> Fixture | None:
    """The fixture ``box`` is (best overlap at or above ``min_iou``), else None."""
    best, best_iou = None, 0.0
    for fx in fixtures:
        overlap = iou(box, fx.box)
        if overlap >= min_iou and overlap > best_iou:
            best, best_iou = fx, overlap
    return best


@dataclass
class _Candidate:
    box: BoxT
    hits: int
    labels: dict[str, int]


@dataclass
class Learner:
    """One zone's learning period: which boxes stay in place through it."""

    zone_id: str
    duration_s: float
    min_iou: float
    min_presence: float
    max_candidates: int = 256
    started_at: float | None = None
    frames: int = 0
    candidates: list[_Candidate] = field(default_factory=list)

    def feed(self, t: float, objects: Iterable[tuple[str, Sequence[float]]]) -> None:
        """One frame at time ``t``: the (label, box) of every object in the zone."""
        if self.started_at is None:
            self.started_at = t
        self.frames += 1
        taken: set[int] = set()
        for label, box in objects:
            best, best_iou = -1, 0.0
            for i, cand in enumerate(self.candidates):
                overlap = iou(box, cand.box)
                if i not in taken and overlap >= self.min_iou and overlap > best_iou:
                    best, best_iou = i, overlap
            if best >= 0:
                cand = self.candidates[best]
                # a running mean keeps the place of a box that jitters from frame to frame
                n = cand.hits
                x1, y1, x2, y2 = ((c * n + float(v)) / (n + 1) for c, v in zip(cand.box, box, strict=True))
                cand.box = (x1, y1, x2, y2)
                cand.hits += 1
                cand.labels[label] = cand.labels.get(label, 0) + 1
                taken.add(best)
                continue
            if len(self.candidates) >= self.max_candidates:
                # bounded: a box seen once gives its place to the new one, else the new one is dropped
                weakest = min(range(len(self.candidates)), key=lambda i: self.candidates[i].hits)
                if self.candidates[weakest].hits > 1:
                    continue
                del self.candidates[weakest]
                taken = {i - (i > weakest) for i in taken if i != weakest}
            x1, y1, x2, y2 = (float(v) for v in box)
            self.candidates.append(_Candidate((x1, y1, x2, y2), 1, {label: 1}))
            taken.add(len(self.candidates) - 1)

    def done(self, t: float) -> bool:
        return self.started_at is not None and t - self.started_at >= self.duration_s

    def result(self, at: float, limit: int) -> list[Fixture]:
        """The fixtures learnt: boxes seen in at least ``min_presence`` of the frames, most seen first."""
        need = self.min_presence * self.frames
        kept = sorted((c for c in self.candidates if c.hits >= need and c.hits > 0), key=lambda c: -c.hits)
        out: list[Fixture] = []
        for cand in kept[:limit]:
            label = max(sorted(cand.labels), key=lambda lab: cand.labels[lab])
            out.append(
                Fixture.make(self.zone_id, [min(1.0, max(0.0, v)) for v in cand.box], label, "learned", at)
            )
        return out


@dataclass
class ZoneFixtures:
    """What is stored of one zone: its fixtures, when they were learnt, and a pending learning period."""

    fixtures: list[Fixture] = field(default_factory=list)
    learned_at: float | None = None
    learn_s: float | None = None  # an operator asked to (re)learn for this long ("clean now")


def inside(box: Sequence[float], zone: Zone) -> bool:
    """Whether the box stands in the zone by place alone (its anchor), whatever its label and score."""
    x, y = anchor_point(box, zone.anchor)
    return point_in_polygon(x, y, zone.polygon)


def add_fixture(zone: ZoneFixtures, fixture: Fixture, limit: int) -> bool:
    """Add ``fixture`` unless one with its id exists; False when the zone already holds ``limit``."""
    if any(f.id == fixture.id for f in zone.fixtures):
        return True
    if len(zone.fixtures) >= limit:
        return False
    zone.fixtures.append(fixture)
    return True


class CameraFixtures:
    """One camera's fixtures and learning periods, applied to each frame's objects."""

    def __init__(
        self,
        zones: Sequence[Zone],
        settings: FixtureSettings,
        stored: Mapping[str, ZoneFixtures],
        *,
        camera_learn_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self.zone_ids = [z.id for z in zones]
        self._zone = {z.id: z for z in zones}
        self._learn_s = {z.id: z.learn_period(camera_learn_s) for z in zones}
        self.zones: dict[str, ZoneFixtures] = {}
        self.learners: dict[str, Learner] = {}
        self.replace_stored(stored)

    def replace_stored(self, stored: Mapping[str, ZoneFixtures]) -> None:
        """Take the stored state (at start, or after an operator changed the file)."""
        self.zones = {
            zid: ZoneFixtures(list(zf.fixtures)[: self.settings.max_per_zone], zf.learned_at, zf.learn_s)
            for zid, zf in stored.items()
            if zid in self._learn_s
        }
        for zid in self.zone_ids:
            zf = self.zones.get(zid)
            duration = zf.learn_s if zf is not None and zf.learn_s is not None else None
            if duration is None and (zf is None or zf.learned_at is None) and self._learn_s[zid] > 0:
                duration = self._learn_s[zid]
            if duration is None:
                self.learners.pop(zid, None)
            elif zid not in self.learners or self.learners[zid].duration_s != duration:
                self.learners[zid] = Learner(zid, duration, self.settings.min_iou, self.settings.min_presence)

    def learning(self, zone_id: str) -> bool:
        return zone_id in self.learners

    def apply(self, t: float, objects: Sequence[DetectedObject]) -> tuple[list[DetectedObject], list[str]]:
        """Objects with fixture matches (and zones still learning) taken out of ``zones``.

        A matched zone moves to the object's ``fixtures`` list. Returns the objects and the ids of
        the zones whose learning period ended with this frame (their fixtures are new: save them).
        """
        learnt: list[str] = []
        for zid, learner in list(self.learners.items()):
            zone = self._zone[zid]
            # any label, any score: only the place matters to what a fixture is
            learner.feed(t, [(o.label, o.box) for o in objects if inside(o.box, zone)])
            if learner.done(t):
                zf = self.zones.setdefault(zid, ZoneFixtures())
                # what an operator added stays; what was learnt before is learnt anew
                zf.fixtures = [f for f in zf.fixtures if f.source == "operator"]
                for fx in learner.result(t, self.settings.max_per_zone):
                    add_fixture(zf, fx, self.settings.max_per_zone)
                zf.learned_at, zf.learn_s = t, None
                del self.learners[zid]
                learnt.append(zid)
        out = []
        for obj in objects:
            counted, matched = [], []
            for zid in obj.zones:
                if zid in self.learners:
                    continue  # a zone still learning its fixtures counts nothing yet
                stored = self.zones.get(zid)
                known = stored.fixtures if stored is not None else []
                if matching(obj.box, known, self.settings.min_iou) is not None:
                    matched.append(zid)
                else:
                    counted.append(zid)
            if counted == obj.zones:
                out.append(obj)
                continue
            extra = {"fixtures": matched} if matched else {}
            out.append(obj.model_copy(update={"zones": counted, **extra}))
        return out, learnt
