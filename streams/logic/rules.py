"""Dwell rules: detections of one camera -> violation events (pure logic).

Per (zone, category) a small state machine runs on event time (the frame's
``captured_at``), never on wall-clock:

    idle --sighting--> pending --inertia sightings in a row--> dwelling
    dwelling --occupied for dwell_s--> active (emit "started")
    active --still seen--> active (emit "ongoing" now and then, with evidence)
    active --no sighting for clear_s--> idle (emit "cleared")
    pending --a miss--> idle;  dwelling --no sighting for more than gap_s--> idle

Occupancy is "some object with one of the category's labels is in the zone",
at or above the category's threshold for that label (``min_score_of``), not
one track id, so tracker id switches do not reset the dwell, and a passer-by
hiding the goods for up to gap_s does not either. Each track counts the frames
it was judged on and those it was seen in, and the best score per label: the
violation carries them (``frames_seen`` of ``frames``, ``scores``) so that a
warning can require the violation seen often enough (``warn_min_frames``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from streams.config import Config
from streams.config.timerange import in_range

ONGOING_EVERY_S = 30.0  # an active violation is re-announced at most this often
CHECKPOINT_EVERY_S = 5.0  # non-idle state is saved at least this often (event time)
MAX_EVIDENCE = 5


@dataclass(frozen=True)
class ZoneRule:
    """One (zone, category) pair of a camera, with the numbers that drive it."""

    zone_id: str
    category: str
    labels: frozenset[str]
    inertia: int
    dwell_s: float
    gap_s: float
    clear_s: float
    active_hours: str | None
    min_scores: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.zone_id}|{self.category}"

    def counts(self, label: str, score: float) -> bool:
        return label in self.labels and score >= self.min_scores.get(label, 0.0)


@dataclass(frozen=True)
class CameraRules:
    camera_id: str
    timezone: str
    rules: tuple[ZoneRule, ...]

    @property
    def needs_clock(self) -> bool:
        return any(r.active_hours for r in self.rules)


def camera_rules(cfg: Config) -> dict[str, CameraRules]:
    """Rules of every configured camera, derived from the configuration."""
    out: dict[str, CameraRules] = {}
    for cam in cfg.cameras:
        rules = []
        for zone in cam.zones:
            for key in zone.categories:
                cat = cfg.categories[key]
                labels = set(cat.labels)
                if zone.labels is not None:
                    labels &= set(zone.labels)
                rules.append(
                    ZoneRule(
                        zone_id=zone.id,
                        category=key,
                        labels=frozenset(labels),
                        inertia=cat.inertia,
                        dwell_s=cat.dwell_s,
                        gap_s=cat.gap_s,
                        clear_s=cat.clear_s,
                        active_hours=zone.active_hours or cat.active_hours,
                        min_scores={label: cat.min_score_of(label) for label in labels},
                    )
                )
        out[cam.id] = CameraRules(cam.id, cfg.site.timezone, tuple(rules))
    return out


@dataclass
class Track:
    phase: str = "idle"  # idle | pending | dwelling | active
    hits: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    emitted_at: float = 0.0
    labels: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    frames: int = 0  # frames judged since the first sighting
    seen: int = 0  # of which the violation was seen in (above its thresholds)
    scores: dict[str, float] = field(default_factory=dict)  # best score per label (the rule's labels)


@dataclass
class CameraState:
    """Dwell state of one camera; what the rules table stores under its camera id."""

    tracks: dict[str, Track] = field(default_factory=dict)
    last_t: float = float("-inf")
    last_seq: int = -1
    saved_at: float = float("-inf")

    def to_json(self) -> dict[str, Any]:
        return {
            "tracks": {k: asdict(t) for k, t in self.tracks.items() if t.phase != "idle"},
            "last_t": self.last_t if self.last_t != float("-inf") else None,
            "last_seq": self.last_seq,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CameraState:
        if not data:
            return cls()
        last_t = data.get("last_t")
        state = cls(
            tracks={k: Track(**v) for k, v in data.get("tracks", {}).items()},
            last_t=float(last_t) if last_t is not None else float("-inf"),
            last_seq=int(data.get("last_seq", -1)),
        )
        state.saved_at = state.last_t
        return state


@dataclass(frozen=True)
class Sighting:
    """What the rules need of one detected object."""

    label: str
    zones: Sequence[str]
    score: float = 1.0


@dataclass(frozen=True)
class ViolationEvent:
    camera_id: str
    zone_id: str
    category: str
    state: str  # started | ongoing | cleared
    since: float
    at: float
    labels: tuple[str, ...]
    evidence: tuple[str, ...]
    frames_seen: int = 0
    frames: int = 0
    scores: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class StepResult:
    events: list[ViolationEvent]
    save: bool  # the state changed in a way worth writing to the table
    duplicate: bool = False


@functools.lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def minute_of_day(t: float, tz: str) -> int:
    local = datetime.fromtimestamp(t, _zone(tz))
    return local.hour * 60 + local.minute


def step(
    state: CameraState,
    rules: CameraRules,
    t: float,
    seq: int,
    objects: Iterable[Sighting],
    snapshot: str | None = None,
) -> StepResult:
    """Apply one detection record (frame time ``t``) to a camera's state."""
    if t < state.last_t or (t == state.last_t and seq <= state.last_seq):
        return StepResult([], save=False, duplicate=True)  # redelivered or out of order
    state.last_t, state.last_seq = t, seq
    present: dict[str, list[tuple[str, float]]] = {}
    for obj in objects:
        for zone_id in obj.zones:
            present.setdefault(zone_id, []).append((obj.label, obj.score))
    minute = minute_of_day(t, rules.timezone) if rules.needs_clock else 0
    events: list[ViolationEvent] = []
    changed = False
    for rule in rules.rules:
        best: dict[str, float] = {}
        for label, score in present.get(rule.zone_id, ()):
            if rule.counts(label, score):
                best[label] = max(score, best.get(label, 0.0))
        seen_labels = sorted(best)
        if seen_labels and rule.active_hours and not in_range(rule.active_hours, minute):
            seen_labels = []
        track = state.tracks.get(rule.key)
        if track is None:
            if not seen_labels:
                continue
            track = state.tracks[rule.key] = Track()
        event, did_change = _advance(track, rule, t, seen_labels, snapshot)
        if track.phase != "idle":
            _count(track, best)
        changed |= did_change
        if event is not None:
            events.append(
                ViolationEvent(
                    rules.camera_id,
                    rule.zone_id,
                    rule.category,
                    event,
                    track.first_at,
                    t,
                    tuple(track.labels),
                    tuple(track.evidence),
                    track.seen,
                    track.frames,
                    tuple(sorted(track.scores.items())),
                )
            )
        if track.phase == "idle":
            del state.tracks[rule.key]
    save = changed or (bool(state.tracks) and t - state.saved_at >= CHECKPOINT_EVERY_S)
    if save:
        state.saved_at = t
    return StepResult(events, save)


def _advance(
    track: Track, rule: ZoneRule, t: float, seen: list[str], snapshot: str | None
) -> tuple[str | None, bool]:
    """Move one track; return (event to emit or None, phase changed)."""
    if track.phase == "idle":
        track.phase, track.hits, track.first_at, track.last_at = "pending", 1, t, t
        track.labels, track.evidence = list(seen), []
        _add_evidence(track, snapshot)
        if rule.inertia <= 1:
            track.phase = "dwelling"
            return _maybe_start(track, rule, t), True
        return None, True
    if track.phase == "pending":
        if not seen:
            track.phase = "idle"
            return None, True
        track.hits += 1
        track.last_at = t
        track.labels = sorted(set(track.labels) | set(seen))
        _add_evidence(track, snapshot)
        if track.hits >= rule.inertia:
            track.phase = "dwelling"
            return _maybe_start(track, rule, t), True
        return None, False
    if track.phase == "dwelling":
        if not seen:
            if t - track.last_at > rule.gap_s:
                track.phase = "idle"
                return None, True
            return None, False
        track.last_at = t
        track.labels = sorted(set(track.labels) | set(seen))
        _add_evidence(track, snapshot)
        event = _maybe_start(track, rule, t)
        return event, event is not None
    # active
    if not seen:
        if t - track.last_at >= rule.clear_s:
            track.phase = "idle"
            return "cleared", True
        return None, False
    track.last_at = t
    track.labels = sorted(set(track.labels) | set(seen))
    new_evidence = _add_evidence(track, snapshot)
    if new_evidence or t - track.emitted_at >= ONGOING_EVERY_S:
        track.emitted_at = t
        return "ongoing", True
    return None, False


def _count(track: Track, best: Mapping[str, float]) -> None:
    track.frames += 1
    if best:
        track.seen += 1
        for label, score in best.items():
            track.scores[label] = max(score, track.scores.get(label, 0.0))


def _maybe_start(track: Track, rule: ZoneRule, t: float) -> str | None:
    if t - track.first_at >= rule.dwell_s:
        track.phase = "active"
        track.emitted_at = t
        return "started"
    return None


def _add_evidence(track: Track, snapshot: str | None) -> bool:
    if not snapshot or snapshot in track.evidence:
        return False
    track.evidence = [*track.evidence, snapshot][-MAX_EVIDENCE:]
    return True
