"""HTTP ingest of sensor readings for gateways that cannot speak Kafka.

    POST /api/sensor-readings   one reading (a JSON object) or a list of them
      202 {"accepted": N}       every reading is on citywatch.sensor-readings (key sensor_id)
      400 {"error": "..."}      nothing was accepted; the reason names the reading and field

A batch is all or nothing, so a gateway can retry it whole. ``parse_batch`` is
the pure part; ``install_route`` puts it on the worker's web server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import faust

from streams.config.models import Sensor
from streams.errors import RecordError
from streams.records import SensorReading, decode
from streams.sensors import check_reading

logger = logging.getLogger(__name__)

PATH = "/api/sensor-readings"
MAX_BATCH = 1000
MAX_BODY = 1024 * 1024


def parse_batch(body: bytes, sensors: Mapping[str, Sensor]) -> tuple[list[SensorReading], str | None]:
    """The readings of a request body, or an error saying what is wrong (nothing is accepted then)."""
    if len(body) > MAX_BODY:
        return [], f"body is larger than {MAX_BODY} bytes: send at most {MAX_BATCH} readings per request"
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], f"body is not UTF-8 JSON ({exc}); send one reading object or a list of them"
    items = data if isinstance(data, list) else [data]
    if not items:
        return [], "empty list: send at least one reading"
    if len(items) > MAX_BATCH:
        return [], f"{len(items)} readings in one request; send at most {MAX_BATCH}"
    out: list[SensorReading] = []
    for i, item in enumerate(items):
        where = f"reading {i}: " if isinstance(data, list) else ""
        if not isinstance(item, dict):
            return [], f"{where}expected a JSON object with sensor_id, kind, value, unit, measured_at"
        try:
            reading = decode(SensorReading, {"v": 1, **item})
        except RecordError as exc:
            return [], f"{where}{exc}"
        reason = check_reading(reading, sensors.get(reading.sensor_id))
        if reason is not None:
            return [], f"{where}{reason}"
        out.append(reading)
    return out, None


def install_route(app: faust.App, topic: faust.TopicT, sensors: Mapping[str, Sensor]) -> None:
    """Serve ``POST /api/sensor-readings`` on the worker's web server, producing to ``topic``."""

    async def post(view: Any, request: Any) -> Any:
        body = await request.read()
        readings, error = parse_batch(body, sensors)
        if error is not None:
            logger.info("sensor ingest rejected a request: %s", error)
            return view.json({"error": error}, status=400)
        for reading in readings:
            await topic.send(key=reading.sensor_id.encode(), value=reading.to_bytes())
        return view.json({"accepted": len(readings)}, status=202)

    async def get(view: Any, request: Any) -> Any:
        return view.json({"error": f"POST readings to {PATH}"}, status=405)

    view = type("SensorIngest", (faust.web.View,), {"post": post, "get": get})
    app.page(PATH, name="sensor-ingest")(view)
