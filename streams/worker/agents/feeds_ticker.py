"""The feeds' deadline ticker, on the worker's wall clock: sensors gone silent (stale),
cameras whose outage outlasts the blip tolerance or that stopped sending camera-status."""

from __future__ import annotations

import time

from streams import health, sensors
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
    app, n, send = ctx.app, ctx.partitions, ctx.send_json
    sensor_ids = [key for key, data in list(feeds.sensors.table.items()) if data]
    await send_ticks(
        app,
        n,
        feeds.sensor_ticks,
        sensor_ids,
        lambda k: sensor_deadline(ctx, feeds, k, now),
        feeds.ticked,
        send,
    )
    camera_ids = [key for key, data in list(feeds.cameras.table.items()) if data]
    await send_ticks(
        app,
        n,
        feeds.camera_ticks,
        camera_ids,
        lambda k: camera_deadline(ctx, feeds, k, now),
        feeds.ticked,
        send,
    )
