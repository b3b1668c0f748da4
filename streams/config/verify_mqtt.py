"""Checks of the ``mqtt:`` section against the rest: each error names the input and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from streams.config.models import Config
from streams.config.yamlmap import Finding


def verify_mqtt_inputs(cfg: Config) -> Iterator[Finding]:
    """An input's literal sensor_id is a configured sensor; no two inputs share a pattern (the
    first would take every message of both)."""
    sensors = [s.id for s in cfg.sensors]
    seen: dict[str, int] = {}
    for i, inp in enumerate(cfg.mqtt.inputs):
        if inp.topic in seen:
            yield (
                ("mqtt", "inputs", i, "topic"),
                f"topic {inp.topic!r} is also input {seen[inp.topic]}'s; the first takes every message: "
                "merge the two or remove one",
            )
        seen.setdefault(inp.topic, i)
        source = inp.source("sensor_id")
        if source is not None and source.kind == "literal" and inp.sensor_id not in sensors:
            close = difflib.get_close_matches(inp.sensor_id, sensors, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (defined: {', '.join(sensors) or 'none'})"
            yield (
                ("mqtt", "inputs", i, "sensor_id"),
                f"input {inp.topic} reads sensor {inp.sensor_id!r}, not defined under sensors:{hint}",
            )
