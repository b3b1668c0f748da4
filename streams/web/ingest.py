"""HTTP ingest of sensor readings for gateways that cannot speak Kafka.

    POST /api/sensor-readings   one reading (a JSON object) or a list of them
      Authorization: Bearer TOKEN   a token with the ``ingest`` role (or ``admin``)
      202 {"accepted": N}       Kafka acknowledged every reading on citywatch.sensor-readings (key sensor_id)
      400 {"error": "..."}      nothing was accepted; the reason names the reading and field
                                (also: measured too far ahead of the clock, or more readings
                                than the sensor's window takes: max_window_readings)
      401 / 403                 no token / a token of another role
      503 {"error": "..."}      Kafka did not acknowledge the batch in time: nothing counts as
                                accepted, send the whole batch again later

A batch is all or nothing, so a gateway can retry it whole. ``parse_batch`` is
the pure part; ``install_route`` mounts it on the command centre's web server
(streams/web), whose token check runs before it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import faust
from aiohttp import web

from streams.config.models import Sensor
from streams.contract.errors import BrokerUnavailableError, WebError
from streams.contract.records import SensorReading
from streams.logic.sensors import accept_reading
from streams.web.state import PRINCIPAL_KEY  # the command centre authenticated the caller
from streams.worker.resilience import send_all_acked

if TYPE_CHECKING:
    from streams.worker import Worker

logger = logging.getLogger(__name__)

PATH = "/api/sensor-readings"
MAX_BATCH = 1000
MAX_BODY = 1024 * 1024


def parse_batch(
    body: bytes,
    sensors: Mapping[str, Sensor],
    *,
    wall_now: float | None = None,
    max_skew_s: float | None = None,
    room: Callable[[str], int | None] | None = None,
) -> tuple[list[SensorReading], str | None]:
    """The readings of a request body, or an error saying what is wrong (nothing is accepted then).

    ``wall_now`` / ``max_skew_s``: refuse a reading measured further ahead of the
    wall clock. ``room(sensor_id)``: how many more readings the sensor's window
    takes (None: unknown); a batch bringing more is refused.
    """
    if len(body) > MAX_BODY:
        return [], f"body is larger than {MAX_BODY} bytes: send at most {MAX_BATCH} readings per request"
    try:
        data: Any = json.loads(body)
    except RecursionError:
        return [], "body is JSON nested too deeply; send one reading object or a list of them"
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], f"body is not UTF-8 JSON ({exc}); send one reading object or a list of them"
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return [], f"body has a JSON value that cannot be read ({exc})"
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
        reading = accept_reading(item, sensors, wall_now=wall_now, max_skew_s=max_skew_s)
        if isinstance(reading, str):
            return [], f"{where}{reading}"
        out.append(reading)
    if room is not None:
        for sensor_id, count in Counter(r.sensor_id for r in out).items():
            free = room(sensor_id)
            if free is not None and count > free:
                cap = sensors[sensor_id].max_window_readings
                return [], (
                    f"sensor {sensor_id}: this batch brings {count} readings, but its window takes only "
                    f"{free} more now (max_window_readings = {cap}): send fewer readings per window, "
                    "or raise max_window_readings"
                )
    return out, None


def make_handler(
    send: Callable[[list[SensorReading]], Awaitable[None]],
    sensors: Mapping[str, Sensor],
    *,
    max_skew_s: float | None = None,
    room: Callable[[str], int | None] | None = None,
    wall: Callable[[], float] = time.time,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler: the command centre's token check runs first (an ingest or admin token).

    ``send`` returns once Kafka acknowledged every reading, or raises (a 503 ``WebError``).
    """

    async def handler(request: web.Request) -> web.Response:
        principal = request.get(PRINCIPAL_KEY)
        if principal is None or not principal.can_ingest:
            return web.json_response({"error": "forbidden: sensor ingest needs an ingest token"}, status=403)
        readings, error = parse_batch(
            await request.read(), sensors, wall_now=wall(), max_skew_s=max_skew_s, room=room
        )
        if error is not None:
            logger.info("sensor ingest rejected a request from %s: %s", principal.name, error)
            return web.json_response({"error": error}, status=400)
        await send(readings)
        return web.json_response({"accepted": len(readings)}, status=202)

    return handler


def install_route(
    worker: Worker, topic: faust.TopicT, *, room: Callable[[str], int | None] | None = None
) -> None:
    """Mount ``POST /api/sensor-readings`` on the worker's web server, producing to ``topic``.

    ``room``: how many more readings each sensor's window takes (streams/worker/agents/sensors.py).
    """
    sensors = {s.id: s for s in worker.cfg.sensors}

    async def send(readings: list[SensorReading]) -> None:
        try:
            await send_all_acked(topic, [(r.sensor_id.encode(), r.to_bytes()) for r in readings])
        except BrokerUnavailableError as exc:
            logger.warning("sensor ingest: %d readings not accepted: %s", len(readings), exc)
            raise WebError(str(exc), 503) from None

    handler = make_handler(send, sensors, max_skew_s=worker.cfg.site.max_clock_skew_s, room=room)
    worker.web_routes.append(("POST", PATH, handler))
