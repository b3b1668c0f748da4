"""Recorded records, read back for ``citywatch replay`` (pure logic, no Kafka).

A recording is JSON lines as ``citywatch tail`` prints them::

    {"topic": ..., "partition": ..., "offset": ..., "timestamp_ms": ..., "key": ...,
     "value": {...} or {"base64": "..."}, "headers": {...}}

or, with a topic given, bare values (one JSON value a line). ``parse_line`` turns
one line into a :class:`Recorded` ready to send, or raises :class:`LineError`
saying what is wrong with it; :class:`Pacer` says how long to wait before each
record so the original spacing is kept (or shortened by a speed factor).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from streams.contract.timeutil import from_iso
from streams.contract.topics import INTERNAL_SUFFIXES, SUFFIXES, Topics

# value fields that carry an event time, for files of bare values (no timestamp_ms)
EVENT_TIME_FIELDS = ("captured_at", "measured_at", "at", "requested_at", "created_at")


class LineError(ValueError):
    """One line of a recording cannot be replayed; the message says why."""


@dataclass(frozen=True)
class Recorded:
    """One record to send: already encoded, with its original time (seconds) if known."""

    line: int
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    time_s: float | None


def retarget(name: str, topics: Topics) -> str:
    """``name`` recorded under any prefix, moved to the same suffix under ``topics.prefix``."""
    for suffix in sorted((*SUFFIXES, *INTERNAL_SUFFIXES), key=len, reverse=True):
        head = name[: len(name) - len(suffix)]
        if name.endswith(suffix) and (not head or head[-1] in "._-"):
            return topics.prefix + suffix
    raise LineError(
        f"topic {name!r} does not end in a citywatch topic name, so --prefix cannot re-target it; "
        "give the topic with --topic NAME"
    )


def _encode_value(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"base64"}:
        try:
            return base64.b64decode(str(value["base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise LineError("value {'base64': ...} is not valid base64") from None
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _encode_headers(headers: Any) -> tuple[tuple[str, bytes], ...]:
    if headers is None:
        return ()
    if isinstance(headers, dict):
        pairs = list(headers.items())
    elif isinstance(headers, list) and all(isinstance(h, list | tuple) and len(h) == 2 for h in headers):
        pairs = [(h[0], h[1]) for h in headers]
    else:
        raise LineError("'headers' must be an object of name: text")
    out = []
    for name, text in pairs:
        if not isinstance(name, str) or not isinstance(text, str):
            raise LineError(f"header {name!r} must be a string name with a string value")
        out.append((name, text.encode("utf-8")))
    return tuple(out)


def _event_time(value: Any) -> float | None:
    if not isinstance(value, dict):
        return None
    for name in EVENT_TIME_FIELDS:
        text = value.get(name)
        if isinstance(text, str):
            try:
                return from_iso(text)
            except ValueError:
                return None
    return None


def is_tail_record(obj: Any) -> bool:
    """Whether a parsed line is a ``citywatch tail`` record rather than a bare value."""
    return isinstance(obj, dict) and "topic" in obj and "value" in obj


def parse_line(
    text: str,
    line: int,
    topics: Topics,
    *,
    topic: str | None = None,
    retarget_prefix: bool = False,
) -> Recorded | None:
    """One line of a recording; None for a blank line; :class:`LineError` if it cannot be sent.

    ``topic`` overrides the recorded topic (and is required for bare values);
    ``retarget_prefix`` moves recorded topic names to ``topics.prefix``.
    """
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise LineError("JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise LineError(f"a JSON value cannot be read ({exc})") from None
    if is_tail_record(obj):
        name = obj["topic"]
        if topic is not None:
            name = topic
        elif not isinstance(name, str) or not name:
            raise LineError("'topic' must be a non-empty string")
        elif retarget_prefix:
            name = retarget(name, topics)
        else:
            name = topics.resolve(name)
        key = obj.get("key")
        if key is not None and not isinstance(key, str):
            raise LineError("'key' must be a string or null")
        ts = obj.get("timestamp_ms")
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
            raise LineError("'timestamp_ms' must be a number")
        return Recorded(
            line=line,
            topic=name,
            key=key.encode("utf-8") if key is not None else None,
            value=_encode_value(obj["value"]),
            headers=_encode_headers(obj.get("headers")),
            time_s=ts / 1000.0 if ts is not None else _event_time(obj["value"]),
        )
    if topic is None:
        raise LineError(
            "a bare value (not a `citywatch tail` record with topic and value): "
            "give its topic with --topic NAME"
        )
    return Recorded(
        line=line,
        topic=topic,
        key=None,
        value=_encode_value(obj),
        headers=(),
        time_s=_event_time(obj),
    )


class Pacer:
    """When each record is due, relative to the start of the replay, in seconds.

    The first record with a time sets the origin; a record is due ``(t - origin) /
    speed`` seconds after the start. Time never runs backwards: a record older than
    one already sent (another partition's batch in a ``tail`` file), or one
    without a time, is due with the record before it. ``speed`` 0 sends everything at once.
    """

    def __init__(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 (as fast as possible) or more")
        self.speed = speed
        self._origin: float | None = None
        self._last_due = 0.0

    def due(self, time_s: float | None) -> float:
        if self.speed == 0 or time_s is None:
            return self._last_due
        if self._origin is None:
            self._origin = time_s
        self._last_due = max(self._last_due, (time_s - self._origin) / self.speed)
        return self._last_due
