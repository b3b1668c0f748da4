"""Sensor rules: windows, thresholds, hysteresis, min duration, active hours, staleness (pure)."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.config.models import Location, Sensor, SensorRule
from streams.contract.records import SensorReading
from streams.contract.timeutil import from_iso
from streams.logic.sensors import (
    SensorState,
    Window,
    aggregate,
    check_reading,
    holds,
    on_reading,
    on_silence,
    rules_by_sensor,
    stale_deadline,
)
from streams.web.ingest import parse_batch

from ...config_support import feeds_config

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


# one reading of pm-1 as a client posts it
PM_1_BODY = {
    "sensor_id": "pm-1",
    "kind": "pm25",
    "value": 80,
    "unit": "µg/m³",
    "measured_at": "2026-05-26T02:00:00Z",
}


def test_parse_batch_is_all_or_nothing() -> None:
    sensors = {"pm-1": SENSOR}
    one = dict(PM_1_BODY)
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


# ---------------------------------------------------------------- running aggregates and the cap

HOWS = ["mean", "max", "min", "last"]


def same_as_definition(window: Window, samples: list[list[float]], now: float) -> None:
    """The window's aggregates equal ``aggregate`` (the O(N) definition) over every reading seen.

    max / min / last exactly; the running mean within float rounding of the largest value seen
    (a running sum adds and takes away).
    """
    scale = max((abs(v) for _, v in samples), default=1.0)
    for how in HOWS:
        got, n = window.aggregate(how)
        want, m = aggregate(samples, now, window.span_s, how)
        assert n == m, (how, now)
        if how == "mean" and want is not None:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9 * scale), (how, now)
        else:
            assert got == want, (how, now)


def add_and_compare(window: Window, readings: list[tuple[float, float]]) -> None:
    """Add ``readings`` in order; after each, the window agrees with the definition."""
    samples: list[list[float]] = []
    now = -math.inf
    for t, v in readings:
        now = max(now, t)
        window.add(t, v, now)
        samples.append([t, v])
        same_as_definition(window, sorted(samples), now)


@pytest.mark.parametrize(
    ("span", "readings"),
    [
        (60, [(0, 10), (10, 20), (20, 30), (30, 60)]),  # in order, nothing leaves
        (15, [(0, 10), (10, 20), (20, 30), (30, 60)]),  # old ones slide out
        (15, [(0, 5), (30, 1)]),  # everything before left at once
        (60, [(0, 50), (10, 40), (20, 30), (30, 20), (40, 10)]),  # falling: every max candidate kept
        (60, [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]),  # rising: every min candidate kept
        (60, [(0, 7), (10, 7), (20, 7)]),  # ties
        (60, [(30, 10), (10, 99), (20, -5), (0, 3)]),  # late readings, inside the window
        (25, [(30, 10), (10, 99), (20, -5), (40, 1)]),  # a late one outside, then the window slides
        (60, [(0, 1), (100, 2), (90, 80), (95, 3), (99, 80)]),  # late maxima replace earlier candidates
        (60, [(0, -1e9), (1, 1e9), (2, 1e-9), (3, -0.0)]),  # extreme values
    ],
)
def test_window_matches_the_definition_table(span: float, readings: list[tuple[float, float]]) -> None:
    add_and_compare(Window(span), readings)


@settings(max_examples=200, deadline=None, database=None)
@given(
    span=st.sampled_from([1.0, 5.0, 30.0, 1000.0]),
    readings=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=200).map(float),
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        ),
        max_size=300,
        unique_by=lambda r: r[0],
    ),
)
def test_window_matches_the_definition_on_random_streams(
    span: float, readings: list[tuple[float, float]]
) -> None:
    add_and_compare(Window(span), readings)


def test_on_reading_judges_each_rule_on_its_own_window_as_the_definition_does() -> None:
    rules = [
        rule(id="m", window_s=300, aggregate="mean", above=50),
        rule(id="x", window_s=60, aggregate="max", above=90),
        rule(id="n", window_s=120, aggregate="min", below=5),
    ]
    state = SensorState()
    rng = random.Random(7)
    seen: list[list[float]] = []
    for i in range(2000):
        t = T0 + i * 3 - (rng.random() < 0.1) * rng.randint(1, 200)  # some late readings
        v = rng.uniform(0, 100)
        on_reading(state, rules, value=v, measured_at=t, seen_at=t)
        if not any(s[0] == t for s in seen) and not (seen and t <= state.last_at - 300):
            seen.append([t, v])
        for r in rules:
            got = state.windows[r.window_s].aggregate(r.aggregate)
            want = aggregate(sorted(seen), state.last_at, r.window_s, r.aggregate)
            assert got[1] == want[1] and got[0] == pytest.approx(want[0])
    assert state.samples == [s for s in sorted(seen) if s[0] > state.last_at - 300]


def test_windows_are_rebuilt_after_a_load_and_carry_on_the_same() -> None:
    rules = [
        rule(window_s=60, aggregate="mean", above=75),
        rule(id="p", window_s=20, aggregate="max", above=99),
    ]
    whole = SensorState()
    split = SensorState()
    readings = [(i * 7.0, float((i * 37) % 101)) for i in range(60)]
    first = feed(split, rules, readings[:30])
    split = SensorState.from_json(json.loads(json.dumps(split.to_json())))
    assert first + feed(split, rules, readings[30:]) == feed(whole, rules, readings)
    assert split == whole


def test_the_window_cap_refuses_readings_and_says_why() -> None:
    pm = rule(window_s=100, above=75)
    state = SensorState()
    for i in range(5):
        step = on_reading(state, [pm], value=10, measured_at=T0 + i, seen_at=T0 + i, max_readings=5)
        assert step.refused is None
    assert state.held() == 5
    step = on_reading(state, [pm], value=500, measured_at=T0 + 5, seen_at=T0 + 5, max_readings=5)
    assert step.refused is not None and "max_window_readings = 5" in step.refused
    assert step.events == [] and state.held() == 5 and state.refused == 1 and state.last_at == T0 + 4
    # a late reading into a full window is refused too
    step = on_reading(state, [pm], value=500, measured_at=T0 + 0.5, seen_at=T0 + 6, max_readings=5)
    assert step.refused is not None and state.held() == 5
    # once old readings leave the window there is room again
    step = on_reading(state, [pm], value=10, measured_at=T0 + 100.5, seen_at=T0 + 101, max_readings=5)
    assert step.refused is None and state.held() == 5
    assert [t - T0 for t, _ in state.samples] == [1, 2, 3, 4, 100.5]


def test_check_reading_refuses_a_reading_from_the_future() -> None:
    future = reading(measured_at="2099-01-01T00:00:00.000Z")
    reason = check_reading(future, SENSOR, wall_now=T0, max_skew_s=300)
    assert reason is not None
    assert "pm-1" in reason and "2099-01-01T00:00:00.000Z" in reason and "max_clock_skew_s" in reason
    near = reading(measured_at="2026-05-26T02:04:59.000Z")  # 299 s ahead of T0: within the skew
    assert check_reading(near, SENSOR, wall_now=T0, max_skew_s=300) is None
    assert check_reading(future, SENSOR) is None  # without a wall clock nothing is judged on time


def test_parse_batch_refuses_future_readings_and_batches_the_window_cannot_take() -> None:
    sensors = {"pm-1": SENSOR}
    one = dict(PM_1_BODY)
    late = {**one, "measured_at": "2099-01-01T00:00:00Z"}
    readings, error = parse_batch(json.dumps([one, late]).encode(), sensors, wall_now=T0, max_skew_s=300)
    assert readings == [] and error is not None
    assert error.startswith("reading 1: sensor pm-1: measured_at 2099-01-01T00:00:00Z") and "ahead" in error
    batch = [{**one, "measured_at": f"2026-05-26T02:00:{i:02d}Z"} for i in range(10)]
    readings, error = parse_batch(json.dumps(batch).encode(), sensors, room=lambda _sid: 9)
    assert readings == [] and error is not None
    assert "sensor pm-1" in error and "10 readings" in error and "max_window_readings" in error
    readings, error = parse_batch(json.dumps(batch).encode(), sensors, room=lambda _sid: 10)
    assert error is None and len(readings) == 10


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"value": ' + b"9" * 5000 + b"}", b"\xff\xfe"],
    ids=["deep", "huge-int", "not-utf8"],
)
def test_parse_batch_refuses_hostile_bodies_with_a_reason(body: bytes) -> None:
    readings, error = parse_batch(body, {"pm-1": SENSOR})
    assert readings == [] and error is not None


def test_bench_sensors_prints_a_result_line(capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli import main

    assert (
        main(["bench", "sensors", "--sizes", "10,200", "--readings", "500", "--definition-readings", "5"])
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    keys = dict(part.split("=") for part in last.removeprefix("RESULT ").split())
    assert last.startswith("RESULT ") and set(keys) == {"per_reading_us_10", "per_reading_us_200", "ratio"}
    assert all(float(v) > 0 for v in keys.values())
