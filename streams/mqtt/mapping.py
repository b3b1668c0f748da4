"""One MQTT message to a sensor reading (pure: the time is passed in).

The first ``mqtt.inputs`` entry whose topic pattern matches the message's topic maps it;
the reading then passes the same checks as HTTP ingest (``accept_reading``: the sensor is
configured and enabled, the kind and unit are its own, the value is a finite number, it
was not measured ahead of the clock). ``to_reading`` returns the reading, or the reason
it is refused, which the bridge dead-letters with the MQTT topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from streams.config.models import Sensor
from streams.config.mqtt import MqttInput
from streams.contract.errors import MqttError
from streams.contract.records import MAX_RECORD_BYTES, SensorReading
from streams.contract.timeutil import to_iso
from streams.logic.sensors import accept_reading
from streams.mqtt import sources

MS_AFTER = 1e11  # a Unix time above this is in milliseconds (1e11 s is the year 5138)


def find_input(inputs: Sequence[MqttInput], topic: str) -> tuple[MqttInput, list[str]] | None:
    """The first input whose pattern matches ``topic``, with the wildcards' levels."""
    for inp in inputs:
        captures = sources.match(inp.topic, topic)
        if captures is not None:
            return inp, captures
    return None


def _payload(raw: bytes) -> Any:
    if len(raw) > MAX_RECORD_BYTES:
        raise MqttError(f"payload is too large ({len(raw)} bytes; at most {MAX_RECORD_BYTES})")
    try:
        return json.loads(raw)
    except RecursionError:
        raise MqttError("payload is JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise MqttError(f"payload is not UTF-8 JSON ({exc}); the input reads it with JSON paths") from None


def _time(value: Any, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MqttError(f"measured_at ({source}) is {value!r}: expected an ISO-8601 time or Unix seconds")
    if isinstance(value, str):
        return value  # the reading's decode checks it
    seconds = value / 1000.0 if value > MS_AFTER else float(value)
    try:
        return to_iso(seconds)
    except (ValueError, OverflowError, OSError) as exc:
        raise MqttError(f"measured_at ({source}) {value!r} is not a time ({exc})") from None


def fields_of(inp: MqttInput, captures: list[str], topic: str, raw: bytes, now: float) -> dict[str, Any]:
    """The reading's fields as ``inp`` maps them from one message (kind and unit only where
    the input names them). ``MqttError`` names the field that cannot be read."""
    names = ("sensor_id", "value", "kind", "unit", "measured_at")
    parsed = {n: inp.source(n) for n in names}
    payload: Any = None
    if any(s is not None and s.needs_json for s in parsed.values()):
        payload = _payload(raw)
    out: dict[str, Any] = {}
    for name, source in parsed.items():
        if source is None:
            continue
        if source.kind == "now":
            out[name] = to_iso(now)
            continue
        try:
            value = source.resolve(captures, topic, payload)
        except MqttError as exc:
            raise MqttError(f"{name}: {exc}") from None
        out[name] = _time(value, source.text) if name == "measured_at" else value
    return out


def to_reading(
    inputs: Sequence[MqttInput],
    sensors: Mapping[str, Sensor],
    topic: str,
    raw: bytes,
    *,
    now: float,
    max_skew_s: float | None = None,
) -> SensorReading | str:
    """The reading of one message received at ``now`` (Unix seconds), or why it is refused."""
    found = find_input(inputs, topic)
    if found is None:
        return f"no mqtt.inputs entry matches topic {topic!r}"
    inp, captures = found
    try:
        item = fields_of(inp, captures, topic, raw, now)
    except MqttError as exc:
        return f"input {inp.topic}: {exc}"
    sensor = sensors.get(str(item.get("sensor_id")))
    if sensor is not None:  # kind and unit the input leaves out are the sensor's own
        item.setdefault("kind", sensor.kind)
        item.setdefault("unit", sensor.unit)
    item.setdefault("kind", "unknown")  # an unknown sensor: refused below, naming the sensor
    item.setdefault("unit", "")
    accepted = accept_reading(item, sensors, wall_now=now, max_skew_s=max_skew_s)
    return accepted if isinstance(accepted, SensorReading) else f"input {inp.topic}: {accepted}"
