"""Sensor feeds and camera health in the worker: what their agents
(agents/sensors.py, agents/camera_health.py) and their ticker (agents/feeds_ticker.py)
share.

    sensor-readings, internal.sensor-ticks ─sensors─▶ internal.incident-inputs (key sensor_id)
    camera-status,  internal.camera-ticks  ─health──▶ internal.incident-inputs (key camera_id)
    POST /api/sensor-readings ─────────────────────▶ sensor-readings

Inputs sent to the incidents agent (``ConditionInput``, ``HealthInput`` in streams/contract/records.py):

    {"kind": "condition", "subject", "source": "sensor"|"health", "category",
     "state": "started"|"cleared", "since", "at", "note"}     a sensor / camera-offline incident
    {"kind": "health", "held": true|false, "reason", "at"}    hold / release the camera's incidents

A timer ticks sensors that went silent (stale) and cameras whose outage outlasts
the blip tolerance or that stopped sending camera-status. Those deadlines run on
the worker's wall clock (a silent source sends no time); sensor windows run on the
readings' measured_at. Each state is written to its table on a transition, or at
most every CHECKPOINT_S per subject, not on every record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.config import Config
from streams.config.models import Sensor, SensorRule
from streams.contract.internal_records import ConditionInput
from streams.contract.timeutil import to_iso
from streams.logic import camera_health as health
from streams.logic import sensors
from streams.worker.cache import StateCache, forget_on_revoke
from streams.worker.context import WorkerContext
from streams.worker.settings import CHECKPOINT_S, FEEDS_TICK_INTERVAL_S
from streams.worker.ticks import Retick


@dataclass
class Feeds:
    """The sensors' and cameras' configuration, topics and states."""

    sensor_cfg: dict[str, Sensor]
    rules: dict[str, list[SensorRule]]
    stale_category: str | None
    offline_category: str | None
    readings: faust.TopicT
    sensor_ticks: faust.TopicT
    camera_ticks: faust.TopicT
    inputs: faust.TopicT
    sensors: StateCache[sensors.SensorState]
    cameras: StateCache[health.CameraHealth]
    restored_at: dict[str, float] = field(default_factory=dict)  # camera -> wall time its state was read back
    ticked: Retick = field(default_factory=lambda: Retick(every_s=FEEDS_TICK_INTERVAL_S, any_deadline=True))

    def stale_after(self, cfg: Config, sensor_id: str) -> float:
        s = self.sensor_cfg.get(sensor_id)
        return (s.stale_after_s if s and s.stale_after_s else None) or cfg.health.sensor_stale_after_s

    def window_room(self, sensor_id: str) -> int | None:
        """How many more readings the sensor's window takes now, as far as this worker knows."""
        sensor = self.sensor_cfg.get(sensor_id)
        if sensor is None:
            return None
        state = self.sensors.peek(sensor_id)
        held = state.held() if state is not None else 0
        return max(0, sensor.max_window_readings - held)


def _load_sensor(_sensor_id: str, data: Any) -> sensors.SensorState:
    state = sensors.SensorState.from_json(data)
    # restored: the silence before this worker took over is not the sensor's fault
    state.seen_at = max(state.seen_at, time.time()) if state.seen_at else state.seen_at
    return state


def build_feeds(ctx: WorkerContext) -> Feeds:
    """The feeds' topics, tables and caches, in the order the worker has always made them."""
    cfg, topics, app = ctx.cfg, ctx.topics, ctx.app
    readings = ctx.topic(topics.sensor_readings)
    sensor_ticks = ctx.topic(topics.sensor_ticks)
    camera_ticks = ctx.topic(topics.camera_ticks)
    inputs = ctx.topic(topics.incident_inputs)
    sensors_table = app.Table("sensors", default=None, partitions=ctx.partitions, key_type=str)
    cameras_table = app.Table("camera-health", default=None, partitions=ctx.partitions, key_type=str)
    restored_at: dict[str, float] = {}

    def load_camera(camera_id: str, data: Any) -> health.CameraHealth:
        state = health.CameraHealth.from_json(data)
        if data:
            restored_at[camera_id] = time.time()
        return state

    feeds = Feeds(
        sensor_cfg={s.id: s for s in cfg.sensors},
        rules=sensors.rules_by_sensor(cfg),
        stale_category=cfg.health.stale_category if cfg.health.stale_category in cfg.categories else None,
        offline_category=cfg.health.offline_category
        if cfg.health.offline_category in cfg.categories
        else None,
        readings=readings,
        sensor_ticks=sensor_ticks,
        camera_ticks=camera_ticks,
        inputs=inputs,
        sensors=StateCache(sensors_table, _load_sensor, CHECKPOINT_S),
        cameras=StateCache(cameras_table, load_camera, CHECKPOINT_S),
        restored_at=restored_at,
    )
    forget_on_revoke(app, feeds.sensors, feeds.cameras)
    return feeds


async def send_conditions(
    ctx: WorkerContext, feeds: Feeds, subject: str, source: str, events: list[sensors.SensorEvent]
) -> None:
    for ev in events:
        await ctx.send_json(feeds.inputs, subject, condition_input(subject, source, ev))


def condition_input(subject: str, source: str, ev: sensors.SensorEvent) -> dict[str, Any]:
    """The incident input for a sensor's or a camera's condition that started or cleared."""
    value = ConditionInput(
        kind="condition",
        subject=subject,
        source=source,
        category=ev.category,
        state=ev.state,
        since=to_iso(ev.since),
        at=to_iso(ev.at),
        note=ev.note,
    )
    return value.model_dump()
