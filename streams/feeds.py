"""Sensor feeds and camera health in the worker: thin agents around streams/sensors.py and
streams/health.py, installed as a worker extension (``EXTENSIONS`` in streams/app.py).

    sensor-readings, internal.sensor-ticks ─sensors─▶ internal.incident-inputs (key sensor_id)
    camera-status,  internal.camera-ticks  ─health──▶ internal.incident-inputs (key camera_id)
    POST /api/sensor-readings ─────────────────────▶ sensor-readings

Inputs sent to the incidents agent:

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

import logging
import time
from typing import Any

import faust

from streams import health, sensors
from streams.app import Worker, _partition
from streams.clock import ahead_of_wall
from streams.records import BAD_INPUT, CameraStatus, SensorReading, decode, parse_object
from streams.redact import redact
from streams.timeutil import from_iso, to_iso
from streams.web.ingest import install_route

logger = logging.getLogger(__name__)

TICK_INTERVAL_S = 1.0
CHECKPOINT_S = 10.0


def status_ahead(status: CameraStatus, at: float, wall_now: float, max_skew_s: float) -> str | None:
    """Why a camera-status dated ``at`` is too far ahead of the worker's clock (None when it is not)."""
    reason = ahead_of_wall(at, wall_now, max_skew_s)
    if reason is None and status.last_frame_at is not None:
        late = ahead_of_wall(from_iso(status.last_frame_at), wall_now, max_skew_s)
        reason = f"last_frame_at {status.last_frame_at}: {late}" if late else None
    return reason


def install(worker: Worker) -> None:
    """Add the sensor and camera-health agents, their timer and the HTTP ingest route."""
    app, cfg, topics = worker.app, worker.cfg, worker.topics
    sensor_cfg = {s.id: s for s in cfg.sensors}
    rules = sensors.rules_by_sensor(cfg)
    stale_category = cfg.health.stale_category if cfg.health.stale_category in cfg.categories else None
    offline_category = cfg.health.offline_category if cfg.health.offline_category in cfg.categories else None
    tz = cfg.site.timezone

    t_readings = worker.topic(topics.sensor_readings)
    t_sensor_ticks = worker.topic(topics.sensor_ticks)
    t_camera_ticks = worker.topic(topics.camera_ticks)
    t_inputs = worker.topic(topics.incident_inputs)

    def sources(*names: str) -> faust.TopicT:
        return app.topic(*names, partitions=worker.partitions, key_serializer="raw", value_serializer="raw")

    sensors_table = app.Table("sensors", default=None, partitions=worker.partitions, key_type=str)
    cameras_table = app.Table("camera-health", default=None, partitions=worker.partitions, key_type=str)
    sensor_cache: dict[str, sensors.SensorState] = {}
    camera_cache: dict[str, health.CameraHealth] = {}
    saved_at: dict[str, float] = {}
    restored_at: dict[str, float] = {}

    @app.on_partitions_revoked.connect
    async def _forget(*_args: Any, **_kwargs: Any) -> None:
        sensor_cache.clear()  # another worker may own (and change) these subjects now
        camera_cache.clear()

    def stale_after(sensor_id: str) -> float:
        s = sensor_cfg.get(sensor_id)
        return (s.stale_after_s if s and s.stale_after_s else None) or cfg.health.sensor_stale_after_s

    def sensor_state(sensor_id: str) -> sensors.SensorState:
        state = sensor_cache.get(sensor_id)
        if state is None:
            state = sensors.SensorState.from_json(sensors_table.get(sensor_id))
            # restored: the silence before this worker took over is not the sensor's fault
            state.seen_at = max(state.seen_at, time.time()) if state.seen_at else state.seen_at
            sensor_cache[sensor_id] = state
        return state

    def camera_state(camera_id: str) -> health.CameraHealth:
        state = camera_cache.get(camera_id)
        if state is None:
            data = cameras_table.get(camera_id)
            state = camera_cache[camera_id] = health.CameraHealth.from_json(data)
            if data:
                restored_at[camera_id] = time.time()
        return state

    def persist(table: Any, key: str, state: Any, save: bool) -> None:
        now = time.monotonic()
        if save or now - saved_at.get(key, 0.0) >= CHECKPOINT_S:
            table[key] = state.to_json()
            saved_at[key] = now

    async def send_input(key: str, value: dict[str, Any]) -> None:
        await worker.send_json(t_inputs, key, value)

    async def send_conditions(subject: str, source: str, events: list[sensors.SensorEvent]) -> None:
        for ev in events:
            await send_input(
                subject,
                {
                    "kind": "condition",
                    "subject": subject,
                    "source": source,
                    "category": ev.category,
                    "state": ev.state,
                    "since": to_iso(ev.since),
                    "at": to_iso(ev.at),
                    "note": ev.note,
                },
            )

    # ------------------------------------------------------------ sensors

    @app.agent(sources(topics.sensor_readings, topics.sensor_ticks))
    async def sensors_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                if event.message.topic == topics.sensor_ticks:
                    sensor_id = (event.key or b"").decode("utf-8", "replace")
                    at = from_iso(str(parse_object(event.value, "tick")["at"]))
                    state = sensor_state(sensor_id)
                    step = sensors.on_silence(
                        state, now=at, stale_after_s=stale_after(sensor_id), stale_category=stale_category
                    )
                else:
                    reading = decode(SensorReading, event.value)
                    wall = time.time()
                    reason = sensors.check_reading(
                        reading,
                        sensor_cfg.get(reading.sensor_id),
                        wall_now=wall,
                        max_skew_s=cfg.site.max_clock_skew_s,
                    )
                    if reason is not None:
                        await worker.dead(event, reason)
                        continue
                    sensor_id = reading.sensor_id
                    state = sensor_state(sensor_id)
                    step = sensors.on_reading(
                        state,
                        rules.get(sensor_id, []),
                        value=reading.value,
                        measured_at=from_iso(reading.measured_at),
                        seen_at=wall,
                        unit=sensor_cfg[sensor_id].unit or reading.unit,
                        tz=tz,
                        stale_category=stale_category,
                        max_readings=sensor_cfg[sensor_id].max_window_readings,
                    )
                    if step.refused is not None:
                        await worker.dead(event, f"sensor {sensor_id}: {step.refused}")
            except BAD_INPUT as exc:
                await worker.dead(event, f"sensors: {exc}")
                continue
            persist(sensors_table, sensor_id, state, step.save)
            if step.events:
                logger.info("%s: %s", sensor_id, ", ".join(f"{e.category} {e.state}" for e in step.events))
            await send_conditions(sensor_id, "sensor", step.events)

    # ------------------------------------------------------------ camera health

    async def publish_health(camera_id: str, events: list[health.HealthEvent]) -> None:
        for ev in events:
            logger.info("%s: %s (%s)", camera_id, ev.kind, ev.reason)
            if ev.kind in ("hold", "release"):
                await send_input(
                    camera_id,
                    {"kind": "health", "held": ev.kind == "hold", "reason": ev.reason, "at": to_iso(ev.at)},
                )
            elif offline_category is not None:
                cond = sensors.SensorEvent(
                    offline_category,
                    "started" if ev.kind == "offline" else "cleared",
                    ev.since,
                    ev.at,
                    ev.reason,
                )
                await send_conditions(camera_id, "health", [cond])

    @app.agent(sources(topics.camera_status, topics.camera_ticks))
    async def health_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                if msg.topic == topics.camera_ticks:
                    camera_id = (event.key or b"").decode("utf-8", "replace")
                    at = from_iso(str(parse_object(event.value, "tick")["at"]))
                    state = camera_state(camera_id)
                    step = health.on_tick(state, cfg.health, now=at)
                else:
                    status = decode(CameraStatus, event.value)
                    camera_id = status.camera_id
                    cam = worker.ctx.cameras.get(camera_id)
                    if cam is None:
                        await worker.dead(event, f"camera {camera_id!r} is not in cameras.yaml: add it")
                        continue
                    if not cam.enabled:
                        continue
                    # the status's own time if it carries one, else when it was produced
                    stamp = getattr(status, "at", None)
                    # Faust gives the message timestamp in seconds
                    at = from_iso(str(stamp)) if stamp else float(msg.timestamp or time.time())
                    reason = status_ahead(status, at, time.time(), cfg.site.max_clock_skew_s)
                    if reason is not None:
                        await worker.dead(event, f"camera {camera_id}: camera-status dated ahead: {reason}")
                        continue
                    state = camera_state(camera_id)
                    step = health.on_status(
                        state,
                        cfg.health,
                        status=status.status,
                        fps=status.fps,
                        reason=redact(status.reason),  # a camera's URL may carry its password
                        at=at,
                        detect_fps=cam.detect_fps,
                    )
            except BAD_INPUT as exc:
                await worker.dead(event, f"camera-status: {exc}")
                continue
            persist(cameras_table, camera_id, state, step.save)
            await publish_health(camera_id, step.events)

    # ------------------------------------------------------------ deadlines

    last_tick: dict[str, float] = {}

    def due(key: str, deadline: float | None, now: float) -> bool:
        if deadline is None or deadline > now or time.monotonic() - last_tick.get(key, 0.0) < TICK_INTERVAL_S:
            return False
        last_tick[key] = time.monotonic()
        return True

    @app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def feeds_tick() -> None:
        now = time.time()
        actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.sensor_ticks}
        for sensor_id, data in list(sensors_table.items()):
            if not data or _partition(sensor_id, worker.partitions) not in actives:
                continue
            deadline = sensors.stale_deadline(sensor_state(sensor_id), stale_after(sensor_id))
            if due(sensor_id, deadline, now):
                await worker.send_json(t_sensor_ticks, sensor_id, {"kind": "tick", "at": to_iso(now)})
        actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.camera_ticks}
        for camera_id, data in list(cameras_table.items()):
            if not data or _partition(camera_id, worker.partitions) not in actives:
                continue
            state = camera_state(camera_id)
            deadline = health.next_deadline(state, cfg.health)
            if deadline is not None and state.down_since is None:
                # silence: a camera restored from the table gets a full timeout to be heard from again
                deadline = max(deadline, restored_at.get(camera_id, 0.0) + cfg.health.status_timeout_s)
            if due(camera_id, deadline, now):
                await worker.send_json(t_camera_ticks, camera_id, {"kind": "tick", "at": to_iso(now)})

    worker.agents.update({"sensors": sensors_agent, "health": health_agent})
    worker.tables.update({"sensors": sensors_table, "camera-health": cameras_table})

    def window_room(sensor_id: str) -> int | None:
        """How many more readings the sensor's window takes now, as far as this worker knows."""
        sensor = sensor_cfg.get(sensor_id)
        if sensor is None:
            return None
        state = sensor_cache.get(sensor_id)
        held = state.held() if state is not None else 0
        return max(0, sensor.max_window_readings - held)

    if worker.web_port is not None:
        install_route(worker, t_readings, room=window_room)
