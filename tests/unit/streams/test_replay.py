"""Reading recordings for `citywatch replay`: tail lines, bare values, re-targeting, pacing."""

from __future__ import annotations

import base64
import json

import pytest

from streams.clients.replay import LineError, Pacer, parse_line, retarget
from streams.contract.topics import Topics
from streams.kafka_io import Message

HERE = Topics("run1.citywatch.")


def tail_line(**fields: object) -> str:
    base: dict[str, object] = {
        "topic": "rec.citywatch.detections",
        "partition": 2,
        "offset": 7,
        "timestamp_ms": 1_780_000_000_500,
        "key": "cam-a",
        "value": {"v": 1, "camera_id": "cam-a", "captured_at": "2026-05-26T02:00:00.000Z"},
    }
    base.update(fields)
    return json.dumps(base, ensure_ascii=False)


def test_tail_output_round_trips_key_value_headers_and_time() -> None:
    msg = Message(
        topic="citywatch.frames",
        partition=0,
        offset=3,
        key="cam-a",
        value=b"\xff\xd8jpeg",
        timestamp_ms=1_780_000_000_250,
        headers=(("camera_id", b"cam-a"), ("seq", b"12")),
    )
    rec = parse_line(json.dumps(msg.to_json()), 4, HERE)
    assert rec is not None
    assert rec.line == 4
    assert rec.topic == "citywatch.frames"
    assert rec.key == b"cam-a"
    assert rec.value == b"\xff\xd8jpeg"
    assert rec.headers == (("camera_id", b"cam-a"), ("seq", b"12"))
    assert rec.time_s == pytest.approx(1_780_000_000.25)


def test_json_values_are_sent_as_utf8_json() -> None:
    rec = parse_line(tail_line(value={"v": 1, "name": "店外经营"}), 1, HERE)
    assert rec is not None and json.loads(rec.value or b"") == {"v": 1, "name": "店外经营"}
    assert "店外经营".encode() in (rec.value or b"")


def test_null_value_and_key_stay_null() -> None:
    rec = parse_line(tail_line(key=None, value=None), 1, HERE)
    assert rec is not None and rec.key is None and rec.value is None


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("rec.citywatch.detections", "run1.citywatch.detections"),
        ("citywatch.loudspeaker-acks", "run1.citywatch.loudspeaker-acks"),
        ("citywatch.loudspeaker", "run1.citywatch.loudspeaker"),
        ("t1.citywatch.dispatch-updates", "run1.citywatch.dispatch-updates"),
        ("x.internal.incident-inputs", "run1.citywatch.internal.incident-inputs"),
        ("alerts", "run1.citywatch.alerts"),
    ],
)
def test_prefix_moves_recorded_topics_to_the_current_prefix(recorded: str, expected: str) -> None:
    assert retarget(recorded, HERE) == expected
    rec = parse_line(tail_line(topic=recorded), 1, HERE, retarget_prefix=True)
    assert rec is not None and rec.topic == expected


def test_prefix_on_a_foreign_topic_is_a_line_error() -> None:
    with pytest.raises(LineError, match="--topic"):
        parse_line(tail_line(topic="somebody.elses"), 1, HERE, retarget_prefix=True)
    with pytest.raises(LineError):
        retarget("xdetections", HERE)


def test_without_prefix_recorded_names_are_kept_and_suffixes_resolved() -> None:
    rec = parse_line(tail_line(), 1, HERE)
    assert rec is not None and rec.topic == "rec.citywatch.detections"
    rec = parse_line(tail_line(topic="detections"), 1, HERE)
    assert rec is not None and rec.topic == "run1.citywatch.detections"


def test_topic_override_wins_and_bare_values_need_it() -> None:
    rec = parse_line(tail_line(), 1, HERE, topic="run1.citywatch.violations")
    assert rec is not None and rec.topic == "run1.citywatch.violations" and rec.key == b"cam-a"
    bare = json.dumps({"v": 1, "camera_id": "cam-b", "captured_at": "2026-05-26T02:00:01.500Z"})
    rec = parse_line(bare, 2, HERE, topic="run1.citywatch.detections")
    assert rec is not None and rec.key is None and json.loads(rec.value or b"")["camera_id"] == "cam-b"
    assert rec.time_s == pytest.approx(1_779_760_801.5)  # bare values are paced by their event time
    with pytest.raises(LineError, match="--topic"):
        parse_line(bare, 2, HERE)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"topic": "citywatch.detections", "value": {"v": 1}', "not JSON"),
        (tail_line(key=5), "'key'"),
        (tail_line(timestamp_ms="soon"), "'timestamp_ms'"),
        (tail_line(topic=""), "'topic'"),
        (tail_line(value={"base64": "***"}), "base64"),
        (tail_line(headers={"seq": 5}), "header"),
        (tail_line(headers="seq=5"), "'headers'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"topic": "citywatch.detections", "value": ' + "9" * 5000 + "}", "cannot be read"),
    ],
)
def test_malformed_lines_say_why(text: str, reason: str) -> None:
    with pytest.raises(LineError, match=reason):
        parse_line(text, 9, HERE)


def test_blank_lines_are_nothing() -> None:
    assert parse_line("   \n", 3, HERE) is None


def test_base64_value_is_raw_bytes() -> None:
    raw = bytes(range(256))
    rec = parse_line(tail_line(value={"base64": base64.b64encode(raw).decode()}), 1, HERE)
    assert rec is not None and rec.value == raw


@pytest.mark.parametrize(
    ("speed", "times", "due"),
    [
        (1.0, [100.0, 100.5, 101.0, 103.0], [0.0, 0.5, 1.0, 3.0]),
        (10.0, [100.0, 100.5, 101.0, 103.0], [0.0, 0.05, 0.1, 0.3]),
        (0.0, [100.0, 100.5, 101.0, 103.0], [0.0, 0.0, 0.0, 0.0]),
        # another partition's older records, and records without a time, go at once
        (1.0, [100.0, 102.0, 100.5, None, 103.0], [0.0, 2.0, 2.0, 2.0, 3.0]),
        (2.0, [None, 10.0, 14.0], [0.0, 0.0, 2.0]),
    ],
)
def test_pacer_keeps_the_spacing_divided_by_speed(
    speed: float, times: list[float | None], due: list[float]
) -> None:
    pacer = Pacer(speed)
    assert [pacer.due(t) for t in times] == pytest.approx(due)


def test_pacer_rejects_negative_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        Pacer(-1)


@pytest.mark.parametrize("value", [b"[" * 100_000 + b"]" * 100_000, b"9" * 5000], ids=["deep", "huge-int"])
def test_tail_prints_hostile_values_as_base64(value: bytes) -> None:
    msg = Message(topic="t", partition=0, offset=1, key=None, value=value, timestamp_ms=1, headers=())
    assert msg.to_json()["value"] == {"base64": base64.b64encode(value).decode("ascii")}
