"""The v1 contract in code: decoding, field-naming errors, timestamps, ids."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from streams.contract.errors import RecordError
from streams.contract.ids import make_id
from streams.contract.records import BY_TOPIC, Alert, Detection, Violation, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.contract.topics import INTERNAL_SUFFIXES, SUFFIXES, Topics


def detection(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "v": 1,
        "camera_id": "cam-hp-01",
        "seq": 7,
        "captured_at": "2026-05-26T02:14:03.120Z",
        "detected_at": "2026-05-26T02:14:03.190Z",
        "frame_size": [1920, 1080],
        "model": "yolo11n",
        "objects": [
            {
                "track_id": 3,
                "label": "bench",
                "score": 0.81,
                "box": [0.1, 0.6, 0.3, 0.9],
                "zones": ["storefront"],
            }
        ],
        "snapshot": None,
    }
    rec.update(over)
    return rec


def test_detection_round_trip_keeps_extra_fields() -> None:
    raw = json.dumps(detection(edge_host="pole-12")).encode()
    rec = decode(Detection, raw)
    assert rec.objects[0].label == "bench"
    again = json.loads(rec.to_bytes())
    assert again["edge_host"] == "pole-12"
    assert again["v"] == 1


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        (b"not json", "<payload>", "not UTF-8 JSON"),
        (b"\xff\xfe", "<payload>", "not UTF-8 JSON"),
        (b"[1, 2]", "<payload>", "JSON object"),
        (json.dumps(detection(v=2)).encode(), "v", "not supported"),
        (
            json.dumps({k: v for k, v in detection().items() if k != "camera_id"}).encode(),
            "camera_id",
            "required",
        ),
        (json.dumps(detection(seq="seven")).encode(), "seq", "integer"),
        (json.dumps(detection(captured_at="yesterday")).encode(), "captured_at", "ISO-8601"),
        (json.dumps(detection(captured_at="2026-05-26T02:14:03")).encode(), "captured_at", "timezone"),
        (
            json.dumps(
                detection(objects=[{"track_id": 1, "label": "car", "score": 0.5, "box": [0, 0, 2, 1]}])
            ).encode(),
            "objects[0].box[2]",
            "less than or equal to 1",
        ),
    ],
)
def test_malformed_payload_names_the_field(payload: bytes, field: str, words: str) -> None:
    with pytest.raises(RecordError) as info:
        decode(Detection, payload)
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith(f"Detection: field {field!r}")


def test_violation_state_is_checked() -> None:
    rec = {
        "camera_id": "c",
        "zone_id": "z",
        "category": "out_of_store_business",
        "state": "maybe",
        "since": "2026-05-26T02:14:03.120Z",
        "at": "2026-05-26T02:14:03.120Z",
    }
    with pytest.raises(RecordError, match="'state'"):
        decode(Violation, rec)


def test_every_json_topic_has_a_record_type() -> None:
    assert set(BY_TOPIC) == set(SUFFIXES) - {"frames"}


@pytest.mark.parametrize("epoch", [0.0, 1779761643.12, 1779761643.9996, 1779761643.0004])
def test_timestamps_round_trip_to_the_millisecond(epoch: float) -> None:
    text = to_iso(epoch)
    assert text.endswith("Z") and len(text) == 24
    assert abs(from_iso(text) - epoch) <= 0.0005 + 1e-9


def test_timestamp_format() -> None:
    assert to_iso(1779761643.12) == "2026-05-26T02:14:03.120Z"
    assert from_iso("2026-05-26T10:14:03.120+08:00") == from_iso("2026-05-26T02:14:03.120Z")


def test_ids_are_deterministic_and_distinct() -> None:
    a = make_id("inc", "cam-hp-01", "storefront", "out_of_store_business", "2026-05-26T02:14:03.120Z")
    assert a == make_id("inc", "cam-hp-01", "storefront", "out_of_store_business", "2026-05-26T02:14:03.120Z")
    assert a != make_id("inc", "cam-hp-01", "storefront", "illegal_parking", "2026-05-26T02:14:03.120Z")
    assert a.startswith("inc-") and len(a) == 20
    # parts are separated, so shifting text between parts changes the id
    assert make_id("x", "ab", "c") != make_id("x", "a", "bc")


def test_topic_prefix() -> None:
    t = Topics("city7.")
    assert t.alerts == "city7.alerts"
    assert t.resolve("alerts") == "city7.alerts"
    assert t.resolve("other.topic") == "other.topic"
    assert len(t.all()) == len(SUFFIXES) + len(INTERNAL_SUFFIXES)
    assert t.incident_inputs == "city7.internal.incident-inputs"


def test_a_dead_letter_keeps_a_large_original_cut_to_fit_a_kafka_message() -> None:
    from streams.contract.records import MAX_DEADLETTER_RAW, dead_letter

    small = dead_letter("t", 1, 2, "bad", b"abc")
    assert small.raw == "YWJj" and not hasattr(small, "truncated")
    big = dead_letter("t", 1, 2, "x" * 10_000, b"\x00" * 900_000)
    assert big.raw_bytes == 900_000 and big.truncated is True  # type: ignore[attr-defined]
    assert len(big.raw) == len(base64.b64encode(b"\x00" * MAX_DEADLETTER_RAW))
    assert len(big.error) <= 2001
    assert len(big.to_bytes()) < 1024 * 1024
    assert dead_letter("t", 0, 0, "tombstone", None).raw == ""


def test_a_writer_record_is_checked_and_keeps_the_writers_key_order() -> None:
    fields = {
        "v": 1,
        "incident_id": "inc-1",
        "category": {"key": "k", "code": "200504", "name": "n"},
        "camera_id": "cam-a",
        "zone_id": None,
        "sensor_id": None,  # an extra field, before declared ones
        "location": {"address": "a", "shop": "s", "grid_id": None, "lat": 31.2, "lon": None},
        "state": "open",
        "opened_at": "2026-05-26T02:00:00.000Z",
        "updated_at": "2026-05-26T02:00:00.000Z",
        "history": [{"at": "2026-05-26T02:00:00.000Z", "state": "open", "by": "rules", "note": ""}],
        "history_omitted": 0,
        "revision": 1,
        "scores": {"bench": 0.5},
    }
    written = Alert.written(fields)
    assert json.dumps(written) == json.dumps(fields)
    with pytest.raises(ValidationError):
        Alert.written({**fields, "state": "lost"})
