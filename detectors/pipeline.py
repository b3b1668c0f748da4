"""Per-camera processing and the loop that batches cameras through one detector.

``CameraPipeline`` holds one camera's state (sampler, motion gate, tracker,
evidence policy) and turns (frame, boxes) into a ``Detection`` record.
``DetectionLoop`` takes admitted frames of several cameras, runs them through
the detector in one call and publishes the records. The frame supply differs
per role (camera readers for ``edge``, the frames topic for ``detect``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from detectors.evidence import EvidenceStore, SnapshotPolicy, annotate
from detectors.fixture_store import KeptFixtures
from detectors.health import PublisherHealth, camera_status
from detectors.labels import DETECTOR_LABELS
from detectors.model import Detector, timed_detect
from detectors.motion import GateDecision, MotionGate
from detectors.publish import Publisher
from detectors.reader import CameraReader
from detectors.sampling import Sampler
from detectors.static_objects import CameraStatic, StaticObject
from detectors.tracking import Tracker
from detectors.types import Boxes, Frame
from detectors.zones import passes_filters, zones_of
from streams.config import Camera, Config, Zone
from streams.config.camera import STATIC_LABEL
from streams.config.static import static_zones
from streams.config.watch import ConfigWatch
from streams.contract.records import DetectedObject, Detection
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics

if TYPE_CHECKING:
    from detectors.camera_commands import CommandInbox
    from detectors.live import LiveSnapshots

logger = logging.getLogger(__name__)


def published_labels(cfg: Config) -> set[str]:
    """Labels the model is asked for: ``model.labels`` if set, else every category's labels plus
    person; with the labels whose boxes the static-object step masks (people, vehicles) when a
    zone counts ``static_object``, and without the detector's own labels (not the model's)."""
    if cfg.model.labels:
        labels = set(cfg.model.labels)
    else:
        labels = {label for cat in cfg.categories.values() for label in cat.labels} | {"person"}
    for camera in cfg.cameras:
        for zone in static_zones(cfg, camera):
            labels |= set((zone.static_objects or camera.static_objects).mask_labels)
    return labels - DETECTOR_LABELS


def relevant_labels(cfg: Config, camera: Camera) -> dict[str, frozenset[str]]:
    """Zone id -> the labels of its categories (what makes a snapshot worth taking)."""
    out: dict[str, frozenset[str]] = {}
    for zone in camera.zones:
        labels = {
            lab for key in zone.categories if key in cfg.categories for lab in cfg.categories[key].labels
        }
        if zone.labels is not None:
            labels &= set(zone.labels)
        out[zone.id] = frozenset(labels)
    return out


def normalised(xyxy: Sequence[float], size: tuple[int, int]) -> list[float]:
    w, h = size
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return [
        round(min(1.0, max(0.0, x1 / w)), 5),
        round(min(1.0, max(0.0, y1 / h)), 5),
        round(min(1.0, max(0.0, x2 / w)), 5),
        round(min(1.0, max(0.0, y2 / h)), 5),
    ]


@dataclass
class CameraStats:
    sampled: int = 0
    inferred: int = 0
    skipped: int = 0
    snapshots: int = 0
    missed: int = 0  # sampling slots that passed without a frame (the sampler's ``missed``)
    static_errors: int = 0  # frames on which the static-object step failed


class CameraPipeline:
    """One camera's sampling, motion gate, tracking, zones and evidence (no I/O but evidence files)."""

    def __init__(
        self,
        camera: Camera,
        cfg: Config,
        tracker: Tracker,
        *,
        model_name: str,
        evidence: EvidenceStore | None = None,
        sample_fps: float | None = -1.0,
        gate: bool = True,
        shadow_gate: bool = False,
        fixtures: KeptFixtures | None = None,
    ) -> None:
        self.camera = camera
        self.model_name = model_name
        self.sampler = Sampler(camera.detect_fps if sample_fps == -1.0 else sample_fps)
        self.gate = MotionGate(camera.motion_threshold, camera.stationary_recheck_s) if gate else None
        # shadow: the gate decides and its skips are counted, but every frame is inferred
        # (benchmarks compare pipeline and model throughput on the same frames)
        self.shadow_gate = shadow_gate
        self.tracker = tracker
        self.evidence = evidence
        self.policy = SnapshotPolicy(camera.snapshot_interval_s, relevant_labels(cfg, camera))
        # fixtures (benches, planters) and zones still learning theirs are taken out of ``zones``
        self.fixtures = fixtures
        # class-agnostic static objects, for cameras with a zone counting static_object (else None);
        # ``static.recapture(zone_id, at)`` relearns a zone's background ("it is clean now")
        self.static = CameraStatic.for_camera(cfg, camera)
        self.stats = CameraStats()
        self.last_objects: list[DetectedObject] = []  # the latest record's (the live picture's sidecar)

    def apply_zones(self, cfg: Config, zones: Sequence[Zone]) -> None:
        """cameras.yaml has new zones for this camera (streams/config/watch.py): membership and
        snapshots follow them from the next frame; the static-object step is rebuilt (its zones
        learn their backgrounds again) only when the zones counting static_object changed."""
        old_static = static_zones(cfg, self.camera)
        self.camera = self.camera.model_copy(update={"zones": list(zones)})
        self.policy.relevant = relevant_labels(cfg, self.camera)
        if static_zones(cfg, self.camera) != old_static:
            self.static = CameraStatic.for_camera(cfg, self.camera)

    def recapture_background(self, zone_id: str | None, at: float) -> bool:
        """An operator said ``zone_id`` (None: every zone) is clean at ``at``: take its reference
        background again. False when this camera keeps no background (nothing was done)."""
        if self.static is None:
            return False
        self.static.recapture(zone_id, at)
        return True

    def admit(self, frame: Frame) -> GateDecision | None:
        """The gate's decision if this frame should go to the model, else None."""
        taken = self.sampler.take(frame.media_t, picked=frame.sampled)
        self.stats.missed = self.sampler.missed
        if not taken:
            return None
        self.stats.sampled += 1
        decision = (
            self.gate.decide(frame.image, frame.media_t) if self.gate else GateDecision(True, 1.0, "motion")
        )
        if not decision.infer:
            self.stats.skipped += 1
            if not self.shadow_gate:
                return None
            return GateDecision(True, decision.score, decision.reason)
        self.stats.inferred += 1
        return decision

    def objects(self, frame: Frame, boxes: Boxes) -> list[DetectedObject]:
        ids = self.tracker.update(boxes)
        out = []
        for i in range(len(boxes)):
            box = normalised(boxes.xyxy[i].tolist(), frame.size)
            label = boxes.labels[i]
            score = round(float(np.clip(boxes.conf[i], 0.0, 1.0)), 4)
            out.append(
                DetectedObject(
                    track_id=ids[i],
                    label=label,
                    score=score,
                    box=box,
                    zones=zones_of(label, score, box, self.camera.zones),
                )
            )
        if self.static is not None:
            out += self._static_objects(frame, out)
        if self.fixtures is not None:
            return self.fixtures.apply(frame.captured_at, out)
        return out

    def _static_objects(self, frame: Frame, seen: list[DetectedObject]) -> list[DetectedObject]:
        """The static-object step on this frame; a failure of it costs its objects, not the record."""
        if self.static is None:
            return []
        boxes = [(o.label, (o.box[0], o.box[1], o.box[2], o.box[3])) for o in seen]
        try:
            found = self.static.update(frame.image, frame.captured_at, boxes)
        except Exception:  # a bug in one step must not stop the camera's detections
            self.stats.static_errors += 1
            if self.stats.static_errors % 100 == 1:
                logger.exception(
                    "%s: static-object step failed on frame %s (%d failures so far); the frame's other "
                    "objects are published",
                    self.camera.id,
                    frame.seq,
                    self.stats.static_errors,
                )
            return []
        return [self._static_object(s) for s in found]

    def _static_zones(self, found: StaticObject, box: list[float]) -> list[str]:
        """The zones a static object counts in: those that hold its anchor, and always the zone that
        found it (within its polygon) when its filters pass, even if the box's foot falls outside."""
        held = set(zones_of(STATIC_LABEL, found.score, box, self.camera.zones))
        return [
            z.id
            for z in self.camera.zones
            if z.id in held or (z.id == found.zone_id and passes_filters(STATIC_LABEL, found.score, box, z))
        ]

    def _static_object(self, found: StaticObject) -> DetectedObject:
        box = list(found.box)
        return DetectedObject(
            track_id=found.track_id,
            label=STATIC_LABEL,
            score=found.score,
            box=box,
            zones=self._static_zones(found, box),
            area=found.area,
            first_seen=to_iso(found.first_seen),
        )

    def record(
        self, frame: Frame, boxes: Boxes, *, inference_ms: float, decision: GateDecision, now: float
    ) -> Detection:
        objects = self.objects(frame, boxes)
        snapshot = None
        due = self.policy.due(objects, frame.media_t)
        if due and self.evidence is not None:
            caption = f"{self.camera.id}  {to_iso(frame.captured_at)}  zones: {', '.join(due)}"
            picture = annotate(frame.image, objects, self.camera.zones, due, caption)
            try:
                snapshot = self.evidence.save(
                    self.camera.id, frame.seq, frame.captured_at, picture, original=frame.image
                )
                self.stats.snapshots += 1
            except OSError as exc:
                logger.error(
                    "%s: cannot write evidence under %s: %s", self.camera.id, self.evidence.root, exc
                )
        self.last_objects = objects
        return Detection(
            camera_id=self.camera.id,
            seq=frame.seq,
            captured_at=to_iso(frame.captured_at),
            detected_at=to_iso(now),
            frame_size=list(frame.size),
            model=self.model_name,
            objects=objects,
            snapshot=snapshot,
            inference_ms=round(inference_ms, 2),
            motion=round(decision.score, 5),
            trigger=decision.reason,
        )


LatencySink = Callable[[Frame, float, bool], None]  # frame, inference_ms, acknowledged


@dataclass
class DetectionLoop:
    """Runs admitted frames of several cameras through one detector call and publishes the records."""

    pipelines: Mapping[str, CameraPipeline]
    detector: Detector
    publisher: Publisher
    topics: Topics
    on_ack: LatencySink | None = None
    inference_ms_total: float = field(default=0.0)

    def process(self, batch: Sequence[tuple[Frame, GateDecision]]) -> list[Detection]:
        if not batch:
            return []
        boxes, ms = timed_detect(self.detector, [f.image for f, _ in batch])
        self.inference_ms_total += ms
        per_frame = ms / len(batch)
        out = []
        for (frame, decision), frame_boxes in zip(batch, boxes, strict=True):
            pipeline = self.pipelines[frame.camera_id]
            record = pipeline.record(
                frame, frame_boxes, inference_ms=per_frame, decision=decision, now=time.time()
            )
            self.publisher.send(
                self.topics.detections, frame.camera_id, record.to_bytes(), on_ack=self._ack(frame, per_frame)
            )
            out.append(record)
        return out

    def _ack(self, frame: Frame, inference_ms: float) -> Callable[[bool], None] | None:
        sink = self.on_ack
        if sink is None:
            return None
        return lambda ok: sink(frame, inference_ms, ok)


class StatusReporter:
    """Publishes each camera's status every ``interval_s`` and on every state change."""

    def __init__(
        self,
        readers: Mapping[str, CameraReader],
        publisher: Publisher,
        topics: Topics,
        *,
        interval_s: float = 2.0,
        stale_after_s: float = 5.0,
        health: Callable[[], PublisherHealth] | None = None,
    ) -> None:
        self.readers = readers
        self.publisher = publisher
        self.topics = topics
        self.interval_s = interval_s
        self.stale_after_s = stale_after_s
        self._health = health or publisher.health
        self._next = 0.0
        self._last: dict[str, str] = {}

    def tick(self, now_mono: float, *, force: bool = False) -> None:
        due = force or now_mono >= self._next
        publisher_health = self._health()
        for camera_id, reader in self.readers.items():
            source = reader.health(now_mono)
            if source.state == "connecting":
                continue  # nothing to say before the first attempt to open the source ended
            status = camera_status(camera_id, source, publisher_health, stale_after_s=self.stale_after_s)
            changed = self._last.get(camera_id) != status.status
            if due or changed:
                if changed:
                    log = logger.warning if status.status != "online" else logger.info
                    log("%s: camera %s %s", camera_id, status.status, status.reason)
                self._last[camera_id] = status.status
                self.publisher.send(self.topics.camera_status, camera_id, status.to_bytes())
        if due:
            self._next = now_mono + self.interval_s

    def reported(self, camera_id: str) -> str | None:
        """The status last reported for a camera (None: none yet)."""
        return self._last.get(camera_id)


@dataclass
class RunLimits:
    """When a role ends by itself: after ``duration_s`` seconds or ``max_frames`` frames."""

    duration_s: float | None = None
    max_frames: int | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    on_round: Callable[[], None] | None = None  # the loop's heartbeat (health), at every check

    def __post_init__(self) -> None:
        self._deadline = None if self.duration_s is None else time.monotonic() + self.duration_s

    def done(self, frames: int) -> bool:
        if self.on_round is not None:
            self.on_round()
        if self.stop.is_set():
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return True
        return self.max_frames is not None and frames >= self.max_frames


def apply_zone_changes(zones: ConfigWatch, pipelines: Mapping[str, CameraPipeline]) -> None:
    """Zones edited in cameras.yaml since the last look (at most every 2 s), to the cameras here."""
    for camera_id, changed in zones.poll(time.monotonic()).items():
        if camera_id in pipelines:
            pipelines[camera_id].apply_zones(zones.cfg, changed)


def run_edge(
    readers: Mapping[str, CameraReader],
    loop: DetectionLoop,
    status: StatusReporter,
    limits: RunLimits,
    wake: threading.Event,
    batch_size: int,
    commands: CommandInbox | None = None,
    zones: ConfigWatch | None = None,
    live: LiveSnapshots | None = None,
) -> int:
    """Camera readers -> detector -> detections until the limits say stop or every source ended;
    operators' camera commands, and zones edited in cameras.yaml (``zones``), are applied between
    rounds; each round's frames are offered to ``live`` (the camera wall's pictures) after the
    detector's records of them.

    Returns the number of frames sampled."""

    def step(sampled: int) -> int:
        if commands is not None:
            commands.drain(loop.pipelines, time.time())
        if zones is not None:
            apply_zone_changes(zones, loop.pipelines)
        pending: list[tuple[Frame, GateDecision]] = []
        taken: list[Frame] = []
        for camera_id, reader in readers.items():
            frame = reader.take()
            if frame is None:
                continue
            pipeline = loop.pipelines[camera_id]
            before = pipeline.stats.sampled
            decision = pipeline.admit(frame)
            sampled += pipeline.stats.sampled - before
            if pipeline.stats.sampled > before:
                taken.append(frame)
            if decision is not None:
                pending.append((frame, decision))
        for start in range(0, len(pending), batch_size):
            loop.process(pending[start : start + batch_size])
        if live is not None:
            for frame in taken:
                live.sampled(frame.camera_id, frame.mono)
                objects = loop.pipelines[frame.camera_id].last_objects
                live.offer(frame, objects, status.reported(frame.camera_id))
        return sampled

    return run_rounds(readers, status, limits, wake, step)


def run_rounds(
    readers: Mapping[str, CameraReader],
    status: StatusReporter,
    limits: RunLimits,
    wake: threading.Event,
    step: Callable[[int], int],
) -> int:
    """Rounds of ``step(count)`` (take each reader's frame; return the new count) until the
    limits say stop or every source ended; the status reporter ticks after each round and
    once more at the end. Returns the count."""
    count = 0
    while not limits.done(count):
        wake.clear()
        # read before taking frames: a reader that ended has handed over its last frame
        all_ended = all(r.ended for r in readers.values())
        count = step(count)
        status.tick(time.monotonic())
        if all_ended:
            break
        wake.wait(0.05)
    status.tick(time.monotonic(), force=True)
    return count
