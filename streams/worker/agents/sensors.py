"""sensor-readings, internal.sensor-ticks ─sensors─▶ internal.incident-inputs (keyed by
sensor): the sensor rules of streams/logic/sensors.py (see streams/worker/feeds.py)."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import faust

from streams.contract.records import SensorReading, decode
from streams.contract.timeutil import from_iso
from streams.logic import sensors
from streams.worker.context import WorkerContext, read_each
from streams.worker.feeds import Feeds, send_conditions
from streams.worker.ticks import tick_at

logger = logging.getLogger(__name__)

Read = tuple[str, sensors.SensorState, sensors.Step]


def on_tick(ctx: WorkerContext, feeds: Feeds, event: Any) -> Read:
    sensor_id = (event.key or b"").decode("utf-8", "replace")
    at = tick_at(event.value)
    state = feeds.sensors.get(sensor_id)
    step = sensors.on_silence(
        state,
        now=at,
        stale_after_s=feeds.stale_after(ctx.cfg, sensor_id),
        stale_category=feeds.stale_category,
    )
    return sensor_id, state, step


async def read(ctx: WorkerContext, feeds: Feeds, event: Any) -> Read | None:
    if event.message.topic == ctx.topics.sensor_ticks:
        return on_tick(ctx, feeds, event)
    reading = decode(SensorReading, event.value)
    wall = time.time()
    max_skew_s = ctx.cfg.site.max_clock_skew_s
    reason = sensors.check_reading(
        reading, feeds.sensor_cfg.get(reading.sensor_id), wall_now=wall, max_skew_s=max_skew_s
    )
    if reason is not None:
        await ctx.dead(event, reason)
        return None
    sensor_id = reading.sensor_id
    sensor = feeds.sensor_cfg[sensor_id]
    state = feeds.sensors.get(sensor_id)
    step = sensors.on_reading(
        state,
        feeds.rules.get(sensor_id, []),
        value=reading.value,
        measured_at=from_iso(reading.measured_at),
        seen_at=wall,
        unit=sensor.unit or reading.unit,
        tz=ctx.cfg.site.timezone,
        stale_category=feeds.stale_category,
        max_readings=sensor.max_window_readings,
    )
    if step.refused is not None:
        await ctx.dead(event, f"sensor {sensor_id}: {step.refused}")
    return sensor_id, state, step


async def run(ctx: WorkerContext, feeds: Feeds, stream: faust.StreamT[bytes]) -> None:
    read_one = partial(read, ctx, feeds)
    async for _event, (sensor_id, state, step) in read_each(ctx, stream, "sensors: ", read_one, took=False):
        feeds.sensors.save(sensor_id, state, step.save)
        if step.events:
            logger.info("%s: %s", sensor_id, ", ".join(f"{e.category} {e.state}" for e in step.events))
        await send_conditions(ctx, feeds, sensor_id, "sensor", step.events)
