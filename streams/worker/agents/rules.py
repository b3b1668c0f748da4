"""The rules step of the incidents agent: one detection record -> the violations it
completes (streams/logic/rules.py), each camera's rule state in the rules table."""

from __future__ import annotations

import time
from typing import Any

from streams.contract.records import Detection, Violation, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.rules import Sighting, ViolationEvent, step
from streams.worker.context import WorkerContext


async def read(ctx: WorkerContext, event: Any) -> tuple[Detection, float] | None:
    det = decode(Detection, event.value)
    captured = from_iso(det.captured_at)
    if det.camera_id not in ctx.rules_by_camera:
        await ctx.dead(event, f"camera {det.camera_id!r} is not in cameras.yaml: add it or fix the id")
        return None
    skew = ctx.too_early(captured)
    if skew is not None:
        await ctx.dead(event, f"detections: captured_at {det.captured_at}: {skew}")
        return None
    return det, captured


def violation(ev: ViolationEvent, seq: int) -> Violation:
    """The violations record of an event (times to the millisecond, as every reader sees them)."""
    return Violation(
        camera_id=ev.camera_id,
        zone_id=ev.zone_id,
        category=ev.category,
        state=ev.state,
        since=to_iso(ev.since),
        at=to_iso(ev.at),
        labels=list(ev.labels),
        evidence=list(ev.evidence),
        frames_seen=ev.frames_seen,
        frames=ev.frames,
        scores=dict(ev.scores),
        seq=seq,
    )


def apply_rules(ctx: WorkerContext, det: Detection, captured: float) -> tuple[list[Violation], bool] | None:
    """Step the camera's rule state (in memory) over one detection: the violations it
    completes and whether the state is worth writing, or None for a redelivered or
    out-of-order record. The caller writes the state (``save_rules``) once the
    violations are published."""
    stats = ctx.stats
    stats.detections += 1
    stats.last_detection_at = time.time()
    state = ctx.rule_states.get(det.camera_id)
    sightings = [Sighting(o.label, o.zones, o.score) for o in det.objects if o.zones]
    result = step(state, ctx.rules_by_camera[det.camera_id], captured, det.seq, sightings, det.snapshot)
    if result.duplicate:
        stats.duplicates += 1
        return None
    stats.violations += len(result.events)
    return [violation(ev, det.seq) for ev in result.events], result.save


def save_rules(ctx: WorkerContext, camera_id: str, changed: bool) -> None:
    """Write a camera's rule state to the rules table when its step said it changed."""
    ctx.rule_states.save(camera_id, ctx.rule_states.get(camera_id), changed)
