"""Sensor rules as pure functions: sliding windows, thresholds with hysteresis, stale sensors.

    reading ─check_reading─▶ on_reading(state, rules, value, measured_at) ─▶ started / cleared per category
    silence ───────────────▶ on_silence(state, now)                      ─▶ stale started
    next reading after stale ──────────────────────────────────────────────▶ stale cleared

A rule holds while the aggregate (mean / max / min / last) of its window is past
its threshold, for at least ``min_duration_s``, inside its active hours; once
holding it clears only past its ``clear`` value (hysteresis). A category is
active while any of its rules holds on the sensor: its incident opens when the
first rule starts holding and clears when the last one stops. Windows run on
the readings' ``measured_at``; staleness on the time a reading was received
(the worker's wall clock), because a silent sensor sends no timestamps.

Every function takes the sensor's state, one input and its time, mutates the
state and returns a ``Step``: the events and whether the state must be saved.
A reading seen twice (same ``measured_at``) changes nothing, so a redelivery
after a restart is harmless.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from streams.config import Config
from streams.config.models import Sensor, SensorRule
from streams.config.timerange import in_range
from streams.records import SensorReading
from streams.timeutil import to_iso


@dataclass(frozen=True)
class SensorEvent:
    """A category started or stopped holding on one sensor."""

    category: str
    state: Literal["started", "cleared"]
    since: float
    at: float
    note: str


@dataclass
class Step:
    events: list[SensorEvent] = field(default_factory=list)
    save: bool = False


@dataclass
class SensorState:
    """One sensor's window and what holds on it (stored as JSON in a table keyed by sensor_id)."""

    samples: list[list[float]] = field(default_factory=list)  # [measured_at, value], time order
    pending: dict[str, float] = field(default_factory=dict)  # rule id -> condition true since
    active: dict[str, float] = field(default_factory=dict)  # rule id -> holding since
    categories: dict[str, float] = field(default_factory=dict)  # category -> incident open since
    stale: bool = False
    stale_since: float = 0.0
    last_at: float = 0.0  # newest measured_at
    seen_at: float = 0.0  # when the newest reading was received

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SensorState:
        return cls(**data) if data else cls()


def rules_by_sensor(cfg: Config) -> dict[str, list[SensorRule]]:
    """The rules that apply to each enabled sensor (by its kind or by its id)."""
    out: dict[str, list[SensorRule]] = {}
    for sensor in cfg.sensors:
        if not sensor.enabled:
            continue
        out[sensor.id] = [
            r
            for r in cfg.sensor_rules
            if r.category in cfg.categories
            and (r.kind == sensor.kind or (r.sensors is not None and sensor.id in r.sensors))
        ]
    return out


def _norm_unit(unit: str) -> str:
    return unit.lower().replace(" ", "").replace("µ", "u").replace("μ", "u").replace("³", "3")


def check_reading(reading: SensorReading, sensor: Sensor | None) -> str | None:
    """Why a decoded reading cannot be used (None when it can)."""
    if sensor is None:
        return f"sensor {reading.sensor_id!r} is not in cameras.yaml: add it under sensors: or fix the id"
    if not sensor.enabled:
        return f"sensor {sensor.id} is disabled in cameras.yaml (enabled: false)"
    if not math.isfinite(reading.value):
        return f"sensor {sensor.id}: value {reading.value!r} is not a finite number"
    if reading.kind != sensor.kind:
        return f"sensor {sensor.id} measures {sensor.kind!r}, but the reading says kind {reading.kind!r}"
    if sensor.unit and reading.unit and _norm_unit(reading.unit) != _norm_unit(sensor.unit):
        return f"sensor {sensor.id} reports in {sensor.unit!r}, but the reading is in {reading.unit!r}"
    return None


def aggregate(samples: list[list[float]], now: float, window_s: float, how: str) -> tuple[float | None, int]:
    """The aggregate of the values measured in (now - window_s, now], and how many there were."""
    values = [v for t, v in samples if now - window_s < t <= now]
    if not values:
        return None, 0
    if how == "mean":
        return sum(values) / len(values), len(values)
    if how == "max":
        return max(values), len(values)
    if how == "min":
        return min(values), len(values)
    return values[-1], len(values)


def holds(rule: SensorRule, value: float, active: bool) -> bool:
    """Whether the rule's condition holds for ``value``; once active, it clears only past ``clear``."""
    if rule.above is not None:
        if active and rule.clear is not None:
            return value > rule.clear
        return value >= rule.above if rule.inclusive else value > rule.above
    assert rule.below is not None  # noqa: S101 - verify_sensor_rules requires one threshold
    if active and rule.clear is not None:
        return value < rule.clear
    return value <= rule.below if rule.inclusive else value < rule.below


def _minute_of_day(t: float, tz: str) -> int:
    local = datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz))
    return local.hour * 60 + local.minute


def _describe(rule: SensorRule, value: float, unit: str) -> str:
    op = ">=" if rule.inclusive else ">"
    threshold = rule.above
    if threshold is None:
        op, threshold = ("<=" if rule.inclusive else "<"), rule.below
    return (
        f"{rule.id}: {rule.aggregate} {value:.1f}{(' ' + unit) if unit else ''} over {rule.window_s:g}s "
        f"{op} {threshold:g}"
    )


def on_reading(
    state: SensorState,
    rules: list[SensorRule],
    *,
    value: float,
    measured_at: float,
    seen_at: float,
    unit: str = "",
    tz: str = "UTC",
    stale_category: str | None = None,
) -> Step:
    """Add one reading to the window and judge every rule at the newest measured time."""
    step = Step()
    state.seen_at = max(state.seen_at, seen_at)
    if state.stale:
        state.stale = False
        step.save = True
        if stale_category:
            step.events.append(
                SensorEvent(stale_category, "cleared", state.stale_since, seen_at, "sensor reports again")
            )
    horizon = max((r.window_s for r in rules), default=0.0)
    times = [t for t, _ in state.samples]
    i = bisect.bisect_left(times, measured_at)
    if i < len(times) and times[i] == measured_at:
        return step  # the same reading again (a redelivery)
    if state.samples and measured_at <= state.last_at - horizon:
        return step  # too late to be in any window
    first = not state.samples and state.last_at == 0.0
    state.samples.insert(i, [measured_at, value])
    now = max(state.last_at, measured_at)
    state.last_at = now
    state.samples = [s for s in state.samples if s[0] > now - horizon] if horizon else state.samples[-1:]
    step.save = step.save or first
    notes: dict[str, str] = {}
    for rule in rules:
        was_active = rule.id in state.active
        if rule.active_hours is not None and not in_range(rule.active_hours, _minute_of_day(now, tz)):
            cond = False
            notes[rule.id] = f"{rule.id}: outside its hours {rule.active_hours}"
        else:
            agg, n = aggregate(state.samples, now, rule.window_s, rule.aggregate)
            if agg is None or n < rule.min_samples:
                continue  # not enough readings to judge: keep what holds
            cond = holds(rule, agg, was_active)
            notes[rule.id] = _describe(rule, agg, unit)
        if cond and not was_active:
            since = state.pending.setdefault(rule.id, now)
            step.save = step.save or since == now
            if now - since >= rule.min_duration_s:
                state.active[rule.id] = state.pending.pop(rule.id)
                step.save = True
        elif not cond and (
            state.pending.pop(rule.id, None) is not None or state.active.pop(rule.id, None) is not None
        ):
            step.save = True
    wanted: dict[str, float] = {}
    for rule in rules:
        if rule.id in state.active:
            wanted[rule.category] = min(wanted.get(rule.category, math.inf), state.active[rule.id])
    for category, since in wanted.items():
        if category not in state.categories:
            state.categories[category] = since
            why = "; ".join(notes[r.id] for r in rules if r.category == category and r.id in state.active)
            step.events.append(SensorEvent(category, "started", since, now, f"{why} since {to_iso(since)}"))
    for category in [c for c in state.categories if c not in wanted]:
        since = state.categories.pop(category)
        why = "; ".join(notes[r.id] for r in rules if r.category == category and r.id in notes)
        step.events.append(SensorEvent(category, "cleared", since, now, f"back to normal ({why})"))
    return step


def stale_deadline(state: SensorState, stale_after_s: float) -> float | None:
    """When the sensor turns stale if nothing more arrives (None when already stale)."""
    return None if state.stale else state.seen_at + stale_after_s


def on_silence(state: SensorState, *, now: float, stale_after_s: float, stale_category: str | None) -> Step:
    """The sensor has sent nothing since ``seen_at``: stale once ``stale_after_s`` have passed."""
    deadline = stale_deadline(state, stale_after_s)
    if deadline is None or now < deadline:
        return Step()
    state.stale = True
    state.stale_since = state.seen_at
    step = Step(save=True)
    if stale_category:
        note = f"no reading since {to_iso(state.seen_at)} ({now - state.seen_at:.0f}s > {stale_after_s:g}s)"
        step.events.append(SensorEvent(stale_category, "started", state.seen_at, now, note))
    return step
