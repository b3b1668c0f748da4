"""The MQTT bridge's pure parts: topic patterns, field sources, one message to a reading (or
the reason it is refused), and what is published for an alert or a case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.config import Config, parse_config
from streams.config.mqtt import MqttInput
from streams.contract.errors import MqttError
from streams.contract.records import SensorReading
from streams.contract.timeutil import to_iso
from streams.mqtt import outbound, sources
from streams.mqtt.mapping import to_reading

from ..conftest import SAMPLE_CONFIG
from ..store_support import alert, dispatch

NOW = 1_780_000_000.0
PM = MqttInput(topic="city/sensors/+/pm25", sensor_id="{1}", value="$.pm25", measured_at="$.ts")


@pytest.fixture(scope="module")
def sensors() -> dict[str, Any]:
    cfg: Config = parse_config(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    return {s.id: s for s in cfg.sensors}


@pytest.mark.parametrize(
    ("pattern", "topic", "captures"),
    [
        ("city/sensors/+/pm25", "city/sensors/hp01/pm25", ["hp01"]),
        ("city/sensors/+/pm25", "city/sensors/hp01/pm10", None),
        ("city/sensors/+/pm25", "city/sensors/hp01/pm25/x", None),
        ("city/+/+", "city/a/b", ["a", "b"]),
        ("city/#", "city/a/b/c", ["a/b/c"]),
        ("city/#", "city", [""]),
        ("#", "$SYS/broker/uptime", None),  # $ topics only match patterns naming them
        ("exact/topic", "exact/topic", []),
    ],
)
def test_match(pattern: str, topic: str, captures: list[str] | None) -> None:
    assert sources.match(pattern, topic) == captures


@pytest.mark.parametrize(
    ("text", "payload", "value"),
    [
        ("$", 23.5, 23.5),
        ("$.pm25", {"pm25": 12}, 12),
        ("$.a.b[1].c", {"a": {"b": [{}, {"c": "x"}]}}, "x"),
        ("aq-{1}", None, "aq-hp01"),
        ("{topic}", None, "city/sensors/hp01/pm25"),
        ("µg/m³", None, "µg/m³"),
    ],
)
def test_source_values(text: str, payload: Any, value: Any) -> None:
    source = sources.parse(text, wildcards=1)
    assert source.resolve(["hp01"], "city/sensors/hp01/pm25", payload) == value


@pytest.mark.parametrize(
    ("text", "payload", "words"),
    [
        ("$.pm25", {"pm10": 1}, "the payload has no $.pm25"),
        ("$.a[3]", {"a": [1]}, "the payload has no $.a[3]"),
        ("$.a.b", {"a": 5}, "the payload has no $.a.b"),
    ],
)
def test_missing_field_is_named(text: str, payload: Any, words: str) -> None:
    with pytest.raises(MqttError, match=words.replace("$", r"\$").replace("[", r"\[")):
        sources.parse(text, wildcards=0).resolve([], "t", payload)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"topic": "a/+/b#", "sensor_id": "x", "value": "$"}, "a wildcard (+ or #) must be a whole level"),
        ({"topic": "a/#/b", "sensor_id": "x", "value": "$"}, "# must be the last level"),
        ({"topic": "", "sensor_id": "x", "value": "$"}, "topic is empty"),
        (
            {"topic": "a/+", "sensor_id": "{2}", "value": "$"},
            "asks for wildcard 2, but the topic pattern has 1",
        ),
        ({"topic": "a/+", "sensor_id": "{x}", "value": "$"}, "{x} is not a wildcard number"),
        ({"topic": "a/+", "sensor_id": "{1", "value": "$"}, "unbalanced braces"),
        ({"topic": "a/+", "sensor_id": "x", "value": "12"}, "value: '12' is a constant"),
        ({"topic": "a/+", "sensor_id": "x", "value": "$.a..b"}, "is not a JSON path"),
        ({"topic": "a/+", "sensor_id": "now", "value": "$"}, "'now' is only for measured_at"),
    ],
)
def test_input_mistakes_are_refused_with_the_fix(fields: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError) as info:
        MqttInput.model_validate(fields)
    assert words in str(info.value)


def reading(
    sensors: dict[str, Any], payload: Any, topic: str = "city/sensors/pm-hp-01/pm25", **kw: Any
) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return to_reading(kw.pop("inputs", [PM]), sensors, topic, raw, now=NOW, max_skew_s=5.0, **kw)


def test_a_reading_mapped_with_the_sensors_kind_and_unit(sensors: dict[str, Any]) -> None:
    got = reading(sensors, {"pm25": 87.5, "ts": "2026-05-28T20:00:00Z"})
    assert isinstance(got, SensorReading)
    assert (got.sensor_id, got.kind, got.value, got.unit) == ("pm-hp-01", "pm25", 87.5, "µg/m³")
    assert got.measured_at == "2026-05-28T20:00:00Z"


@pytest.mark.parametrize(("ts", "at"), [(NOW - 60, NOW - 60), ((NOW - 60) * 1000, NOW - 60)])
def test_unix_seconds_and_milliseconds(sensors: dict[str, Any], ts: float, at: float) -> None:
    got = reading(sensors, {"pm25": 1, "ts": ts})
    assert isinstance(got, SensorReading) and got.measured_at == to_iso(at)


def test_now_is_the_time_received(sensors: dict[str, Any]) -> None:
    inp = MqttInput(topic="raw/+", sensor_id="{1}", value="$")
    got = reading(sensors, b"61.5", topic="raw/noise-xh-01", inputs=[inp])
    assert isinstance(got, SensorReading)
    assert (got.value, got.kind, got.unit, got.measured_at) == (61.5, "noise", "dB(A)", to_iso(NOW))


@pytest.mark.parametrize(
    ("payload", "topic", "inputs", "words"),
    [
        ({"pm25": 1, "ts": NOW}, "city/other", None, "no mqtt.inputs entry matches topic 'city/other'"),
        ({"pm25": 1, "ts": NOW}, "city/sensors/pm-x/pm25", None, "'pm-x' is not in cameras.yaml"),
        (b"\xffnot json", None, None, "payload is not UTF-8 JSON"),
        ({"pm10": 1, "ts": NOW}, None, None, "value: the payload has no $.pm25"),
        ({"pm25": "high", "ts": NOW}, None, None, "field 'value': Input should be a valid number"),
        (b'{"pm25": 1e999, "ts": 1}', None, None, "value inf is not a finite number"),
        ({"pm25": 1, "ts": True}, None, None, "measured_at ($.ts) is True"),
        ({"pm25": 1, "ts": "yesterday"}, None, None, "not an ISO-8601 UTC timestamp"),
        ({"pm25": 1, "ts": NOW + 3600}, None, None, "ahead"),
        (
            3,
            "raw/pm-hp-01",
            [MqttInput(topic="raw/+", sensor_id="{1}", value="$", kind="noise")],
            "measures 'pm25', but the reading says kind 'noise'",
        ),
        (
            3,
            "raw/pm-hp-01",
            [MqttInput(topic="raw/+", sensor_id="{1}", value="$", unit="mg")],
            "reports in 'µg/m³', but the reading is in 'mg'",
        ),
    ],
)
def test_refused_messages_say_why(
    sensors: dict[str, Any], payload: Any, topic: str | None, inputs: list[MqttInput] | None, words: str
) -> None:
    kw: dict[str, Any] = {"inputs": inputs} if inputs else {}
    got = reading(sensors, payload, topic or "city/sensors/pm-hp-01/pm25", **kw)
    assert isinstance(got, str)
    assert words in got


def test_first_matching_input_maps(sensors: dict[str, Any]) -> None:
    first = MqttInput(topic="raw/+", sensor_id="{1}", value="$.a")
    second = MqttInput(topic="raw/#", sensor_id="{1}", value="$")
    got = reading(sensors, {"a": 4}, topic="raw/noise-xh-01", inputs=[first, second])
    assert isinstance(got, SensorReading) and got.value == 4


def test_alert_and_case_messages() -> None:
    a = alert(1, 2)
    msgs = outbound.messages("city/out", "alerts", a)
    assert [(m.topic, m.retain) for m in msgs] == [
        ("city/out/alerts/cam-a/events", False),
        ("city/out/alerts/cam-a", True),
    ]
    assert all(json.loads(m.payload) == a.to_dict() for m in msgs)
    c = dispatch(1, unit="unit/1+#")
    assert [m.topic for m in outbound.messages("p", "cases", c)] == [
        "p/cases/unit_1__/events",
        "p/cases/unit_1__",
    ]
    no_camera = a.model_copy(update={"camera_id": None})
    assert outbound.messages("p", "alerts", no_camera)[1].topic == "p/alerts/-"
