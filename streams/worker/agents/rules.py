"""detections ─rules─▶ violations (keyed by camera): the zone rules of streams/logic/rules.py."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import faust

from streams.contract.records import Detection, Violation, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.rules import Sighting, ViolationEvent, step
from streams.worker.context import Send, WorkerContext, read_each


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


def violation(ev: ViolationEvent, seq: int) -> dict[str, Any]:
    v = Violation(
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
    return v.model_dump(mode="json")


async def run(ctx: WorkerContext, stream: faust.StreamT[bytes]) -> None:
    stats = ctx.stats
    async for _event, (det, captured) in read_each(ctx, stream, "", partial(read, ctx)):
        stats.detections += 1
        stats.last_detection_at = time.time()
        state = ctx.rule_states.get(det.camera_id)
        sightings = [Sighting(o.label, o.zones, o.score) for o in det.objects if o.zones]
        result = step(state, ctx.rules_by_camera[det.camera_id], captured, det.seq, sightings, det.snapshot)
        if result.duplicate:
            stats.duplicates += 1
            continue
        sends: list[Send] = []
        for ev in result.events:
            stats.violations += 1
            sends.append((ctx.out.violations, ev.camera_id, violation(ev, det.seq)))
        await ctx.send_all(sends)
        ctx.rule_states.save(det.camera_id, state, result.save)
