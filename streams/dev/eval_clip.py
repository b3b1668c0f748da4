"""Run the real pipeline over a labelled clip and score it: ``citywatch eval``.

``citywatch eval --config CFG --camera ID --clip PATH --truth TRUTH.jsonl [--fps N]``
reads the clip as fast as the CPU allows, on the clip's own (media) time: the
camera's detector pipeline (sampling, motion gate, tracker, zones, fixtures learnt
afresh from the clip's start into a temporary directory), then the dwell rules and
the incident logic in-process, as the worker runs them. No broker, no loudspeaker:
every warning the incidents ask for is taken as sent at the moment it is asked.

It prints per-category precision, recall, the time from a violation's start to its
incident's opening, false alarms and false warnings per camera-hour, and a last line
``RESULT precision=… recall=… false_per_hour=… false_warnings_per_camera_hour=…``
(``n/a`` where there was nothing to count: no incident opened, or no violation in the
truth). Truth lines: see ``streams/dev/eval.py``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument
from streams.contract.errors import SourceError, UsageError
from streams.contract.timeutil import from_iso
from streams.dev.eval import Opened, load_truth, report_lines, score

if TYPE_CHECKING:
    from detectors.model import Detector
    from detectors.types import Image
    from streams.config import Camera, Config

logger = logging.getLogger(__name__)

# the clip's first frame is taken at this moment (a weekday morning in the sample's time zone,
# inside every category's active hours of the sample configuration)
DEFAULT_START = "2026-05-26T02:00:00.000Z"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--camera", required=True, metavar="ID", help="camera of the configuration (its zones)"
    )
    parser.add_argument(
        "--clip", required=True, metavar="PATH", help="video file to run instead of its source"
    )
    parser.add_argument(
        "--truth", required=True, metavar="TRUTH.jsonl", help="labelled violations (empty file: none)"
    )
    parser.add_argument(
        "--fps", type=float, default=None, metavar="N", help="sample N frames a second (default: detect_fps)"
    )
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        metavar="ISO",
        help=f"wall time of the clip's first frame (active hours, quiet hours; default {DEFAULT_START})",
    )


@dataclass
class ClipRun:
    """What one run over a clip opened, and how much of it the model saw."""

    duration_s: float = 0.0
    frames: int = 0
    inferred: int = 0
    opened: list[Opened] = field(default_factory=list)
    warnings: int = 0


def clip_frames(path: str | Path) -> Iterator[tuple[float, Image]]:
    """(seconds from the clip's start, picture) of every frame of a video file."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SourceError(f"cannot open clip {path}: give --clip a readable video file")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if fps <= 0:
        cap.release()
        raise SourceError(f"clip {path} has no frame rate; re-encode it as a video file")
    i = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            yield i / fps, np.ascontiguousarray(image)
            i += 1
    finally:
        cap.release()


def _with_fixtures_dir(cfg: Config, directory: str) -> Config:
    return cfg.model_copy(update={"fixtures": cfg.fixtures.model_copy(update={"dir": directory})})


class _Incidents:
    """The incident logic in-process: every effect is recorded in ``out``, and every warning
    the incidents ask for is taken as sent at that moment."""

    def __init__(
        self, cfg: Config, out: ClipRun, start: float, on_effect: Callable[[float, Any], None] | None
    ) -> None:
        from streams.logic import incidents as inc

        self.cfg = cfg
        self.out = out
        self.start = start
        self.on_effect = on_effect
        self.book, self.ctx = inc.Book(), inc.ConfigIndex(cfg)
        self.seen: set[str] = set()
        self.warned: dict[str, int] = {}

    def take(self, effects: list[Any], at: float) -> None:
        pending = list(effects)
        while pending:
            e = pending.pop(0)
            if self.on_effect is not None:
                self.on_effect(at - self.start, e)
            if e.kind == "alert" and e.value["incident_id"] not in self.seen:
                self.seen.add(e.value["incident_id"])
                self.out.opened.append(self._opened(e.value))
            elif e.kind == "warn":
                pending += self._sent(e.value, at)

    def _opened(self, alert: dict[str, Any]) -> Opened:
        opened_at = from_iso(alert["opened_at"])
        return Opened(
            alert["zone_id"] or "",
            _category_key(self.cfg, alert["category"]),
            round(opened_at - self.start, 3),
            False,
            alert["incident_id"],
        )

    def _sent(self, warning: dict[str, Any], at: float) -> list[Any]:
        from streams.logic import incidents as inc

        self.out.warnings += 1
        incident_id = warning["incident_id"]
        self.warned[incident_id] = self.warned.get(incident_id, 0) + 1
        # the broadcast policy is taken to send every warning when it is asked for
        return inc.on_outcome(
            self.book,
            self.ctx,
            incident_id=incident_id,
            decision="sent",
            reason="",
            text=warning["text"],
            at=at,
        )

    def tick(self, now: float) -> None:
        from streams.logic import incidents as inc

        self.take(inc.on_tick(self.book, self.ctx, now), now)

    def violation(self, ev: Any) -> None:
        from streams.logic import incidents as inc

        effects = inc.on_rule_event(self.book, self.ctx, ev)
        self.take(effects, ev.at)


def run_clip(
    cfg: Config,
    camera_id: str,
    frames: Iterator[tuple[float, Image]],
    detector: Detector,
    *,
    start: float,
    fps: float | None = None,
    on_effect: Callable[[float, Any], None] | None = None,
) -> ClipRun:
    """Detector pipeline, rules and incidents over ``frames`` on media time (no broker, no speaker)."""
    from detectors.fixture_store import KeptFixtures
    from detectors.pipeline import CameraPipeline
    from detectors.tracking import ByteTracker
    from detectors.types import Frame
    from streams.logic.rules import CameraState, Sighting, camera_rules, step

    camera = _camera(cfg, camera_id)
    sample_fps = camera.detect_fps if fps is None else fps
    out = ClipRun()
    with tempfile.TemporaryDirectory(prefix="citywatch-eval-") as scratch:
        # fixtures are learnt from this clip alone, never from (or into) the deployment's store
        cfg = _with_fixtures_dir(cfg, scratch)
        pipeline = CameraPipeline(
            camera,
            cfg,
            ByteTracker(sample_fps, high=cfg.model.conf),
            model_name=getattr(detector, "name", "model"),
            sample_fps=sample_fps,
            fixtures=KeptFixtures.open(camera, cfg),
        )
        rules = camera_rules(cfg)[camera.id]
        state, incidents = CameraState(), _Incidents(cfg, out, start, on_effect)
        t = 0.0
        for seq, (t, image) in enumerate(frames):
            out.frames += 1
            now = start + t
            frame = Frame(camera.id, seq, image, now, 0.0, t)
            decision = pipeline.admit(frame)
            if decision is not None:
                (boxes,) = detector.detect([image])
                out.inferred += 1
                record = pipeline.record(frame, boxes, inference_ms=0.0, decision=decision, now=now)
                sightings = [Sighting(o.label, o.zones, o.score) for o in record.objects if o.zones]
                for ev in step(state, rules, now, seq, sightings).events:
                    incidents.violation(ev)
            incidents.tick(now)
        if out.frames > 1:
            out.duration_s = t * out.frames / (out.frames - 1)  # the last frame lasts one frame period
    warned = incidents.warned
    out.opened = [
        Opened(o.zone_id, o.category, o.opened_s, o.incident_id in warned, o.incident_id) for o in out.opened
    ]
    return out


def _camera(cfg: Config, camera_id: str) -> Camera:
    camera = next((c for c in cfg.cameras if c.id == camera_id), None)
    if camera is None:
        known = ", ".join(c.id for c in cfg.cameras) or "none"
        raise UsageError(f"no camera {camera_id!r} in the configuration (cameras: {known}); fix --camera")
    return camera


def _category_key(cfg: Config, ref: dict[str, str]) -> str:
    """The configuration key of an alert's category (alerts carry code and name)."""
    for key, cat in cfg.categories.items():
        if cat.code == ref.get("code"):
            return key
    return str(ref.get("code", ""))


def run(args: argparse.Namespace) -> int:
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import published_labels
    from streams.config import load_config, resolve_path

    truths = load_truth(args.truth)
    clip = Path(args.clip)
    if not clip.is_file():
        raise UsageError(f"no clip at {clip}: give --clip a video file")
    if args.fps is not None and not 0 < args.fps <= 60:
        raise UsageError(f"--fps {args.fps}: give a rate between 0 (exclusive) and 60")
    start = from_iso(args.start)
    cfg = load_config(resolve_path(args.config))
    cameras = {c.id: c for c in cfg.cameras}
    camera = cameras.get(args.camera)
    if camera is None:
        raise UsageError(f"no camera {args.camera!r} in the configuration (cameras: {', '.join(cameras)})")
    for t in truths:
        zone = next((z for z in camera.zones if z.id == t.zone_id), None)
        if zone is None:
            raise UsageError(f"truth names zone {t.zone_id!r}, which camera {camera.id} has not; fix --truth")
        if t.category not in zone.categories:
            raise UsageError(
                f"truth names category {t.category!r} in zone {t.zone_id}, which watches "
                f"{', '.join(zone.categories)}; fix --truth"
            )
    detector = UltralyticsDetector(cfg.model, published_labels(cfg))
    detector.warmup()

    def show(t: float, effect: Any) -> None:
        if effect.kind == "alert":
            v = effect.value
            last = v["history"][-1]["note"] if v["history"] else ""
            print(f"{t:7.2f}s  {v['zone_id']}  {v['state']}  {', '.join(v['labels'])}  {last}")
        elif effect.kind == "warn":
            print(f"{t:7.2f}s  LOUDSPEAKER {effect.key}: {effect.value['text']}")

    got = run_clip(cfg, camera.id, clip_frames(clip), detector, start=start, fps=args.fps, on_effect=show)
    print(f"{clip.name}: {got.frames} frames, {got.inferred} through the model, {len(got.opened)} incidents")
    watched = sorted({key for zone in camera.zones for key in zone.categories})
    for line in report_lines(score(truths, got.opened, duration_s=got.duration_s, categories=watched)):
        print(line)
    return 0
