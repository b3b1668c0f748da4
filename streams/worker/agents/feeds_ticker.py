"""The feeds' deadline ticker, on the worker's wall clock: sensors gone silent (stale),
cameras whose outage outlasts the blip tolerance or that stopped sending camera-status."""

from __future__ import annotations

import time
from functools import partial

from streams.logic import camera_health as health
from streams.logic import sensors
from streams.worker.context import WorkerContext
from streams.worker.feeds import Feeds
from streams.worker.ticks import send_ticks


def sensor_deadline(
    ctx: WorkerContext, feeds: Feeds, sensor_id: str, now: float
) -> tuple[float | None, float]:
    state = feeds.sensors.get(sensor_id)
    return sensors.stale_deadline(state, feeds.stale_after(ctx.cfg, sensor_id)), now


def camera_deadline(
    ctx: WorkerContext, feeds: Feeds, camera_id: str, now: float
) -> tuple[float | None, float]:
    state = feeds.cameras.get(camera_id)
    deadline = health.next_deadline(state, ctx.cfg.health)
    if deadline is not None and state.down_since is None:
        # silence: a camera restored from the table gets a full timeout to be heard from again
        restored = feeds.restored_at.get(camera_id, 0.0)
        deadline = max(deadline, restored + ctx.cfg.health.status_timeout_s)
    return deadline, now


async def tick(ctx: WorkerContext, feeds: Feeds) -> None:
    """Timer: tick the sensors and cameras whose deadline passed."""
    now = time.time()
    kinds = (
        (feeds.sensor_ticks, feeds.sensors, sensor_deadline),
        (feeds.camera_ticks, feeds.cameras, camera_deadline),
    )
    for topic, states, deadline in kinds:
        keys = [key for key, data in list(states.table.items()) if data]
        deadline_of = partial(deadline, ctx, feeds, now=now)
        await send_ticks(ctx.app, ctx.partitions, topic, keys, deadline_of, feeds.ticked, ctx.send_json)
