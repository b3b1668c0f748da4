"""camera-status, internal.camera-ticks ─health─▶ internal.incident-inputs (keyed by
camera): camera health of streams/logic/camera_health.py (see streams/worker/feeds.py)."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import faust

from streams.contract.internal_records import HealthInput
from streams.contract.records import CameraStatus, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.logic import camera_health as health
from streams.logic import sensors
from streams.logic.clock import ahead_of_wall
from streams.redact import redact
from streams.worker.context import WorkerContext, read_each
from streams.worker.feeds import Feeds, send_conditions
from streams.worker.ticks import tick_at

logger = logging.getLogger(__name__)

Read = tuple[str, health.CameraHealth, health.HealthStep]


def status_ahead(status: CameraStatus, at: float, wall_now: float, max_skew_s: float) -> str | None:
    """Why a camera-status dated ``at`` is too far ahead of the worker's clock (None when it is not)."""
    reason = ahead_of_wall(at, wall_now, max_skew_s)
    if reason is None and status.last_frame_at is not None:
        late = ahead_of_wall(from_iso(status.last_frame_at), wall_now, max_skew_s)
        reason = f"last_frame_at {status.last_frame_at}: {late}" if late else None
    return reason


async def on_status(ctx: WorkerContext, feeds: Feeds, event: Any) -> Read | None:
    status = decode(CameraStatus, event.value)
    camera_id = status.camera_id
    cam = ctx.incidents.cameras.get(camera_id)
    if cam is None:
        await ctx.dead(event, f"camera {camera_id!r} is not in cameras.yaml: add it")
        return None
    if not cam.enabled:
        return None
    # the status's own time if it carries one, else when it was produced
    stamp = getattr(status, "at", None)
    # Faust gives the message timestamp in seconds
    at = from_iso(str(stamp)) if stamp else float(event.message.timestamp or time.time())
    reason = status_ahead(status, at, time.time(), ctx.cfg.site.max_clock_skew_s)
    if reason is not None:
        await ctx.dead(event, f"camera {camera_id}: camera-status dated ahead: {reason}")
        return None
    state = feeds.cameras.get(camera_id)
    step = health.on_status(
        state,
        ctx.cfg.health,
        status=status.status,
        fps=status.fps,
        reason=redact(status.reason),  # a camera's URL may carry its password
        at=at,
        detect_fps=cam.detect_fps,
    )
    return camera_id, state, step


async def read(ctx: WorkerContext, feeds: Feeds, event: Any) -> Read | None:
    if event.message.topic == ctx.topics.camera_ticks:
        camera_id = (event.key or b"").decode("utf-8", "replace")
        at = tick_at(event.value)
        state = feeds.cameras.get(camera_id)
        return camera_id, state, health.on_tick(state, ctx.cfg.health, now=at)
    return await on_status(ctx, feeds, event)


async def publish(ctx: WorkerContext, feeds: Feeds, camera_id: str, events: list[health.HealthEvent]) -> None:
    for ev in events:
        logger.info("%s: %s (%s)", camera_id, ev.kind, ev.reason)
        if ev.kind in ("hold", "release"):
            held = HealthInput(kind="health", held=ev.kind == "hold", reason=ev.reason, at=to_iso(ev.at))
            await ctx.send_json(feeds.inputs, camera_id, held.model_dump())
        elif feeds.offline_category is not None:
            cond = sensors.SensorEvent(
                feeds.offline_category,
                "started" if ev.kind == "offline" else "cleared",
                ev.since,
                ev.at,
                ev.reason,
            )
            await send_conditions(ctx, feeds, camera_id, "health", [cond])


async def run(ctx: WorkerContext, feeds: Feeds, stream: faust.StreamT[bytes]) -> None:
    read_one = partial(read, ctx, feeds)
    async for _event, (camera_id, state, step) in read_each(
        ctx, stream, "camera-status: ", read_one, took=False
    ):
        feeds.cameras.save(camera_id, state, step.save)
        await publish(ctx, feeds, camera_id, step.events)
