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

Each rule's window is a ``Window`` with running aggregates (sum, and monotonic
queues for max and min), so a reading costs O(1) amortised however many readings
the window holds. A window holds at most the sensor's ``max_window_readings``; a
reading beyond that is refused (``Step.refused``) and the worker dead-letters it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from streams.config import Config
from streams.config.models import Sensor, SensorRule
from streams.config.timerange import in_range
from streams.contract.errors import RecordError
from streams.contract.records import SensorReading, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.clock import ahead_of_wall
from streams.logic.rules import minute_of_day
from streams.logic.sensor_window import Window


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
    refused: str | None = None  # why the reading was not taken into the window (it is full)


@dataclass(eq=False)
class SensorState:
    """One sensor's windows and what holds on it (stored as JSON in a table keyed by sensor_id).

    The table keeps the readings of the longest window (``samples``); the windows
    themselves are rebuilt from them once after a load, and again if the rules'
    windows change.
    """

    pending: dict[str, float] = field(default_factory=dict)  # rule id -> condition true since
    active: dict[str, float] = field(default_factory=dict)  # rule id -> holding since
    categories: dict[str, float] = field(default_factory=dict)  # category -> incident open since
    stale: bool = False
    stale_since: float = 0.0
    last_at: float = 0.0  # newest measured_at
    seen_at: float = 0.0  # when the newest reading was received
    refused: int = 0  # readings refused because the window was full (max_window_readings)
    stored: list[list[float]] = field(default_factory=list)  # [measured_at, value] until windows are built
    windows: dict[float, Window] = field(default_factory=dict, repr=False, compare=False)

    @property
    def samples(self) -> list[list[float]]:
        """The readings of the longest window, [measured_at, value] in time order."""
        if not self.windows:
            return self.stored
        longest = self.windows[max(self.windows)]
        return [[t, v] for t, v in longest.items()]

    def held(self) -> int:
        """How many readings the longest window holds."""
        return len(self.windows[max(self.windows)]) if self.windows else len(self.stored)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SensorState) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("stored", "windows")}
        data["samples"] = self.samples
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SensorState:
        if not data:
            return cls()
        values = dict(data)
        stored = values.pop("samples", [])
        return cls(**values, stored=stored)

    def ensure_windows(self, spans: set[float]) -> None:
        """One window per rule span, rebuilt from the stored readings when the spans change."""
        if set(self.windows) == spans:
            return
        samples = [(t, v) for t, v in self.samples]
        self.windows = {span: Window.of(span, samples, self.last_at) for span in spans}
        self.stored = [] if spans else [[t, v] for t, v in samples[-1:]]


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


def check_reading(
    reading: SensorReading,
    sensor: Sensor | None,
    *,
    wall_now: float | None = None,
    max_skew_s: float | None = None,
) -> str | None:
    """Why a decoded reading cannot be used (None when it can).

    With ``wall_now`` and ``max_skew_s``, a reading measured further ahead of the
    receiver's wall clock than ``max_skew_s`` is refused: it would move the
    sensor's clock into the future.
    """
    if wall_now is not None and max_skew_s is not None:
        ahead = ahead_of_wall(from_iso(reading.measured_at), wall_now, max_skew_s)
        if ahead is not None:
            return f"sensor {reading.sensor_id}: measured_at {reading.measured_at}: {ahead}"
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


def accept_reading(
    item: dict[str, Any],
    sensors: Mapping[str, Sensor],
    *,
    wall_now: float | None = None,
    max_skew_s: float | None = None,
) -> SensorReading | str:
    """One reading offered by a gateway (a JSON object without ``v``), decoded and checked
    against its sensor: the reading, or why it is refused (naming the field). HTTP ingest and
    the MQTT bridge both take readings through here."""
    try:
        reading = decode(SensorReading, {"v": 1, **item})
    except RecordError as exc:
        return str(exc)
    reason = check_reading(reading, sensors.get(reading.sensor_id), wall_now=wall_now, max_skew_s=max_skew_s)
    return reading if reason is None else reason


def aggregate(samples: list[list[float]], now: float, window_s: float, how: str) -> tuple[float | None, int]:
    """The aggregate of the values measured in (now - window_s, now], and how many there were.

    The definition, in O(N): ``Window`` computes the same with running aggregates.
    """
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
    max_readings: int | None = None,
) -> Step:
    """Add one reading to the windows and judge every rule at the newest measured time.

    ``max_readings``: the most readings the longest window may hold; a reading beyond
    it changes nothing and ``Step.refused`` says why.
    """
    step = Step()
    _reports_again(state, step, seen_at, stale_category)
    horizon = max((r.window_s for r in rules), default=0.0)
    state.ensure_windows({r.window_s for r in rules})
    longest = state.windows.get(horizon)
    if longest is not None:
        if len(longest) and (longest.contains(measured_at) or measured_at <= state.last_at - horizon):
            return step  # the same reading again (a redelivery), or too late to be in any window
    elif state.stored and measured_at <= state.last_at:
        return step  # no rules: only the newest reading is kept
    first = state.last_at == 0.0 and not (len(longest) if longest is not None else state.stored)
    now = max(state.last_at, measured_at)
    if longest is not None and max_readings is not None:
        step.refused = _window_full(state, longest.count_after(now - horizon), horizon, max_readings)
        if step.refused:
            return step
    state.last_at = now
    if longest is None:
        state.stored = [[measured_at, value]] if measured_at >= now else state.stored
    for window in state.windows.values():
        window.add(measured_at, value, now)
    step.save = step.save or first
    judged = _judge(state, rules, step, now, tz)
    _categories(state, rules, step, now, judged, unit)
    return step


def _reports_again(state: SensorState, step: Step, seen_at: float, stale_category: str | None) -> None:
    """A reading from a stale sensor clears its staleness."""
    state.seen_at = max(state.seen_at, seen_at)
    if not state.stale:
        return
    state.stale = False
    step.save = True
    if stale_category:
        step.events.append(
            SensorEvent(stale_category, "cleared", state.stale_since, seen_at, "sensor reports again")
        )


def _window_full(state: SensorState, held: int, horizon: float, max_readings: int) -> str | None:
    """Why a reading is refused when the longest window holds ``max_readings`` already."""
    if held < max_readings:
        return None
    state.refused += 1
    return (
        f"the window of sensor readings is full: {held} readings in the last {horizon:g} s "
        f"(max_window_readings = {max_readings}); send fewer readings or raise the sensor's "
        "max_window_readings"
    )


def _judge(
    state: SensorState, rules: list[SensorRule], step: Step, now: float, tz: str
) -> dict[str, float | None]:
    """Every rule's condition at ``now``: pending, active or cleared; rule id -> its aggregate
    (None: outside its hours; absent: too few readings to judge, so what holds stays)."""
    judged: dict[str, float | None] = {}
    for rule in rules:
        was_active = rule.id in state.active
        if rule.active_hours is not None and not in_range(rule.active_hours, minute_of_day(now, tz)):
            cond = False
            judged[rule.id] = None
        else:
            agg, n = state.windows[rule.window_s].aggregate(rule.aggregate)
            if agg is None or n < rule.min_samples:
                continue
            cond = holds(rule, agg, was_active)
            judged[rule.id] = agg
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
    return judged


def _categories(
    state: SensorState,
    rules: list[SensorRule],
    step: Step,
    now: float,
    judged: dict[str, float | None],
    unit: str,
) -> None:
    """A category starts when one of its rules is active and clears when none is."""

    def note(rule: SensorRule) -> str:  # formatted only for an event
        agg = judged[rule.id]
        return (
            f"{rule.id}: outside its hours {rule.active_hours}" if agg is None else _describe(rule, agg, unit)
        )

    wanted: dict[str, float] = {}
    for rule in rules:
        if rule.id in state.active:
            wanted[rule.category] = min(wanted.get(rule.category, math.inf), state.active[rule.id])
    for category, since in wanted.items():
        if category not in state.categories:
            state.categories[category] = since
            why = "; ".join(note(r) for r in rules if r.category == category and r.id in state.active)
            step.events.append(SensorEvent(category, "started", since, now, f"{why} since {to_iso(since)}"))
    for category in [c for c in state.categories if c not in wanted]:
        since = state.categories.pop(category)
        why = "; ".join(note(r) for r in rules if r.category == category and r.id in judged)
        step.events.append(SensorEvent(category, "cleared", since, now, f"back to normal ({why})"))


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
