"""Sensor rules: windows, thresholds, hysteresis, min duration, active hours, staleness (pure)."""

from __future__ import annotations

import json
import math

import pytest

from streams.config.models import Location, Sensor, SensorRule
from streams.ingest import parse_batch
from streams.records import SensorReading
from streams.sensors import (
    SensorState,
    aggregate,
    check_reading,
    holds,
    on_reading,
    on_silence,
    rules_by_sensor,
    stale_deadline,
)
from streams.timeutil import from_iso

from ...feeds_support import feeds_config

T0 = from_iso("2026-05-26T02:00:00.000Z")  # 10:00 in Asia/Shanghai
NIGHT = from_iso("2026-05-26T14:30:00.000Z")  # 22:30 in Asia/Shanghai


def rule(**kw: object) -> SensorRule:
    base: dict[str, object] = {"id": "r", "category": "air_quality", "kind": "pm25", "window_s": 60}
    return SensorRule.model_validate({**base, **kw})


SAMPLES = [[0.0, 10.0], [10.0, 20.0], [20.0, 30.0], [30.0, 60.0]]


@pytest.mark.parametrize(
    ("now", "window", "how", "expected", "n"),
    [
        (30.0, 60, "mean", 30.0, 4),
        (30.0, 15, "mean", 45.0, 2),  # (15, 30]: 30 and 60
        (30.0, 15, "max", 60.0, 2),
        (30.0, 15, "min", 30.0, 2),
        (30.0, 60, "last", 60.0, 4),
        (25.0, 60, "last", 30.0, 3),  # readings after "now" are not in the window
        (100.0, 10, "mean", None, 0),
    ],
)
def test_aggregate_table(now: float, window: float, how: str, expected: float | None, n: int) -> None:
    assert aggregate(SAMPLES, now, window, how) == (expected, n)


@pytest.mark.parametrize(
    ("kw", "value", "active", "expected"),
    [
        ({"above": 75}, 75.0, False, False),
        ({"above": 75}, 75.1, False, True),
        ({"above": 75, "inclusive": True}, 75.0, False, True),
        ({"above": 75, "clear": 60}, 70.0, False, False),  # not yet holding: the threshold counts
        ({"above": 75, "clear": 60}, 70.0, True, True),  # holding: only at or below 60 it clears
        ({"above": 75, "clear": 60}, 60.0, True, False),
        ({"above": 75}, 74.0, True, False),  # no clear: the threshold itself
        ({"above": 90, "inclusive": True}, 90.0, True, True),
        ({"below": 10}, 9.0, False, True),
        ({"below": 10, "clear": 15}, 12.0, True, True),
        ({"below": 10, "clear": 15}, 15.0, True, False),
    ],
)
def test_threshold_and_hysteresis_table(
    kw: dict[str, float], value: float, active: bool, expected: bool
) -> None:
    assert holds(rule(**kw), value, active) is expected


def feed(
    state: SensorState, rules: list[SensorRule], values: list[tuple[float, float]], **kw: object
) -> list[str]:
    """Feed (t offset, value) readings; return 'category state @offset' for every event."""
    out = []
    for dt, v in values:
        step = on_reading(state, rules, value=v, measured_at=T0 + dt, seen_at=T0 + dt, **kw)  # type: ignore[arg-type]
        out += [f"{e.category} {e.state} @{e.at - T0:g} since {e.since - T0:g}" for e in step.events]
    return out


def test_mean_window_opens_and_hysteresis_clears() -> None:
    pm = rule(window_s=900, above=75, clear=60, min_samples=3)
    state = SensorState()
    events = feed(
        state,
        [pm],
        [
            *[(0, 100), (60, 100)],  # two readings: not enough to judge
            (120, 100),  # mean 100 > 75: opens
            *[(180, 30), (240, 30)],  # mean (300+60)/5 = 72: below 75 but above 60, still holding
            *[(300, 20), (360, 20)],  # mean 400/7 = 57: cleared
        ],
    )
    assert events == ["air_quality started @120 since 120", "air_quality cleared @360 since 120"]


def test_window_slides_old_readings_out() -> None:
    pm = rule(window_s=60, above=75)
    state = SensorState()
    events = feed(state, [pm], [(0, 200), (30, 10), (61, 10)])
    # 0: 200 > 75 opens; 30: mean 105 holds; 61: the 200 left the window, mean 10 clears
    assert events == ["air_quality started @0 since 0", "air_quality cleared @61 since 0"]
    assert [t - T0 for t, _ in state.samples] == [30, 61]


def test_min_duration_and_night_hours() -> None:
    noise = rule(
        category="noise",
        kind="noise",
        window_s=60,
        above=70,
        clear=65,
        min_duration_s=600,
        active_hours="22:00-06:00",
    )
    day = SensorState()
    assert feed(day, [noise], [(i * 60.0, 80.0) for i in range(15)], tz="Asia/Shanghai") == []
    night = SensorState()
    start = NIGHT - T0
    readings = [(start + i * 60.0, 80.0) for i in range(12)]
    events = feed(night, [noise], readings, tz="Asia/Shanghai")
    # loud since 22:30; counted after 10 minutes (the reading at +600 s), stamped since 22:30
    assert events == [f"noise started @{start + 600:g} since {start:g}"]
    quiet_blip = feed(night, [noise], [(start + 720, 50.0)], tz="Asia/Shanghai")
    assert quiet_blip == [f"noise cleared @{start + 720:g} since {start:g}"]


def test_min_duration_resets_when_the_condition_breaks() -> None:
    noise = rule(category="noise", kind="noise", window_s=1, aggregate="last", above=70, min_duration_s=100)
    state = SensorState()
    assert feed(state, [noise], [(0, 80), (50, 80), (90, 60), (120, 80), (200, 80)]) == []
    assert feed(state, [noise], [(220, 80)]) == ["noise started @220 since 120"]


def test_two_rules_one_category_clear_only_when_both_stop() -> None:
    mean = rule(id="mean", window_s=900, above=75)
    peak = rule(id="peak", window_s=60, aggregate="max", above=300)
    state = SensorState()
    events = feed(state, [mean, peak], [(0, 400), (70, 50), (130, 50), (190, 50), (250, 10), (310, 10)])
    # both hold at 0; peak stops at 70 (400 left its window) but the mean (225) still holds
    # the category; at 310 the mean is 570/6 = 95
    assert events == ["air_quality started @0 since 0"]
    events = feed(state, [mean, peak], [(370, 10), (430, 10)])
    assert events == ["air_quality cleared @430 since 0"]  # 590/8 = 73.75 at 430


def test_duplicate_and_late_readings_change_nothing() -> None:
    pm = rule(window_s=60, above=75)
    state = SensorState()
    assert feed(state, [pm], [(0, 100)]) == ["air_quality started @0 since 0"]
    assert feed(state, [pm], [(0, 100)]) == []  # redelivered
    assert feed(state, [pm], [(0, 10)]) == []  # same measured_at: the first one stands
    assert feed(state, [pm], [(200, 10)]) == ["air_quality cleared @200 since 0"]
    assert feed(state, [pm], [(100, 500)]) == []  # too late for any window
    assert feed(state, [pm], [(0, 100)]) == []


def test_state_round_trips_through_json() -> None:
    pm = rule(window_s=900, above=75)
    state = SensorState()
    feed(state, [pm], [(0, 100), (60, 100)])
    again = SensorState.from_json(state.to_json())
    assert again == state
    assert feed(again, [pm], [(60, 100)]) == []


def test_stale_after_silence_and_cleared_by_the_next_reading() -> None:
    state = SensorState()
    feed(state, [], [(0, 1)])
    assert stale_deadline(state, 300) == T0 + 300
    assert on_silence(state, now=T0 + 299, stale_after_s=300, stale_category="sensor_stale").events == []
    step = on_silence(state, now=T0 + 300, stale_after_s=300, stale_category="sensor_stale")
    assert step.save and [(e.category, e.state, e.since) for e in step.events] == [
        ("sensor_stale", "started", T0)
    ]
    assert stale_deadline(state, 300) is None
    assert on_silence(state, now=T0 + 900, stale_after_s=300, stale_category="sensor_stale").events == []
    step = on_reading(
        state, [], value=2, measured_at=T0 + 1000, seen_at=T0 + 1000, stale_category="sensor_stale"
    )
    assert [(e.category, e.state, e.since) for e in step.events] == [("sensor_stale", "cleared", T0)]
    assert not state.stale


def test_stale_without_a_stale_category_opens_nothing() -> None:
    state = SensorState()
    feed(state, [], [(0, 1)])
    step = on_silence(state, now=T0 + 1000, stale_after_s=300, stale_category=None)
    assert state.stale and step.events == []


def reading(**kw: object) -> SensorReading:
    base: dict[str, object] = {
        "sensor_id": "pm-1",
        "kind": "pm25",
        "value": 50.0,
        "unit": "ug/m3",
        "measured_at": "2026-05-26T02:00:00.000Z",
    }
    return SensorReading.model_validate({**base, **kw})


SENSOR = Sensor(id="pm-1", kind="pm25", unit="µg/m³", location=Location(address="a"), grid="g")


@pytest.mark.parametrize(
    ("kw", "sensor", "fragment"),
    [
        ({}, SENSOR, None),
        ({"unit": "µg/m³"}, SENSOR, None),
        ({"sensor_id": "pm-9"}, None, "not in cameras.yaml"),
        ({"kind": "noise"}, SENSOR, "measures 'pm25'"),
        ({"unit": "dB"}, SENSOR, "reports in"),
        ({"value": math.nan}, SENSOR, "not a finite number"),
        ({}, SENSOR.model_copy(update={"enabled": False}), "disabled"),
    ],
)
def test_check_reading_table(kw: dict[str, object], sensor: Sensor | None, fragment: str | None) -> None:
    reason = check_reading(reading(**kw), sensor)
    if fragment is None:
        assert reason is None
    else:
        assert reason is not None and fragment in reason


def test_rules_by_sensor_by_kind_and_by_id() -> None:
    cfg = feeds_config()
    by_sensor = rules_by_sensor(cfg)
    assert [r.id for r in by_sensor["pm-a"]] == ["pm25-mean"]
    assert [r.id for r in by_sensor["bin-a"]] == ["bin-full"]


def test_parse_batch_is_all_or_nothing() -> None:
    sensors = {"pm-1": SENSOR}
    one = {
        "sensor_id": "pm-1",
        "kind": "pm25",
        "value": 80,
        "unit": "µg/m³",
        "measured_at": "2026-05-26T02:00:00Z",
    }
    readings, error = parse_batch(json.dumps(one).encode(), sensors)
    assert error is None and [r.value for r in readings] == [80]
    readings, error = parse_batch(json.dumps([one, {**one, "sensor_id": "pm-2"}]).encode(), sensors)
    assert readings == [] and error is not None and error.startswith("reading 1: sensor 'pm-2' is not in")
    for body, words in [
        (b"", "not UTF-8 JSON"),
        (b"[]", "empty list"),
        (b"[1]", "reading 0: expected a JSON object"),
        (json.dumps({**one, "measured_at": "yesterday"}).encode(), "field 'measured_at'"),
        (json.dumps([one] * 1001).encode(), "at most 1000"),
    ]:
        readings, error = parse_batch(body, sensors)
        assert readings == [] and error is not None and words in error, (body[:40], error)
