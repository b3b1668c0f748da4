"""Property-based fuzzing of the decode boundary: for every record type, whatever arrives,
``decode`` returns a record that can be written again, or raises ``RecordError``. Never
anything else (a RecursionError or a ValueError here once crashed the worker's agents).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.contract.errors import RecordError
from streams.contract.records import BY_TOPIC, MAX_DEPTH, MAX_RECORD_BYTES, Record, decode, parse_object

from ..fuzz_support import KINDS, TS, VALID, huge_int, json_value, nested

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def check(kind: type[Record], raw: bytes | str | dict[str, Any] | None) -> None:
    """The property: a record that can be written again, or a RecordError; nothing else."""
    try:
        rec = decode(kind, raw)
    except RecordError as exc:
        assert str(exc).startswith(kind.__name__), exc
        return
    assert isinstance(rec, kind)
    rec.to_bytes()
    json.dumps(rec.to_dict())


def test_every_record_type_has_a_valid_example() -> None:
    assert {k.__name__ for k in KINDS} == set(VALID)
    for kind in KINDS:
        assert isinstance(decode(kind, json.dumps(VALID[kind.__name__]).encode()), kind)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(kind: type[Record], raw: bytes) -> None:
    check(kind, raw)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(value=json_value)
def test_arbitrary_json(kind: type[Record], value: Any) -> None:
    check(kind, json.dumps(value).encode())
    if isinstance(value, dict):
        check(kind, value)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(data=st.data())
def test_mutated_valid_records(kind: type[Record], data: st.DataObject) -> None:
    rec = dict(VALID[kind.__name__])
    field = data.draw(st.sampled_from(sorted(rec)))
    how = data.draw(st.sampled_from(["replace", "delete", "huge", "deep", "extra"]))
    if how == "replace":
        rec[field] = data.draw(json_value)
    elif how == "delete":
        del rec[field]
    text = json.dumps(rec)
    if how == "huge":  # a number Python refuses to convert, in place of a field or as an extra
        text = text[:-1] + f', "{field}": {data.draw(huge_int)}}}'
    elif how == "deep":
        depth = data.draw(st.integers(min_value=MAX_DEPTH - 2, max_value=5000))
        text = text[:-1] + f', "{field}": {nested(depth, data.draw(st.sampled_from("[{")))}}}'
    elif how == "extra":
        text = text[:-1] + f', "extra_{field}": {json.dumps(data.draw(json_value))}}}'
    check(kind, text.encode())
    check(kind, text)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(depth=st.integers(min_value=1, max_value=100_000), opener=st.sampled_from("[{"))
def test_deep_nesting(kind: type[Record], depth: int, opener: str) -> None:
    check(kind, nested(depth, opener).encode())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(digits=huge_int, sign=st.sampled_from(["", "-"]))
def test_huge_integers(kind: type[Record], digits: str, sign: str) -> None:
    check(kind, f"{sign}{digits}".encode())
    for field in VALID[kind.__name__]:
        check(
            kind,
            json.dumps({**VALID[kind.__name__], field: 0}).replace(": 0", f": {sign}{digits}", 1).encode(),
        )


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), json_value.map(lambda v: json.dumps(v).encode())))
def test_parse_object_is_a_dict_or_a_record_error(raw: bytes) -> None:
    try:
        data = parse_object(raw, "tick")
    except RecordError:
        return
    assert isinstance(data, dict)
    json.dumps(data)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "nested too deeply"),
        (b'{"seq": ' + b"9" * 5000 + b"}", "cannot be read"),
        (b" " * (MAX_RECORD_BYTES + 1), "too large"),
        (None, "empty value"),
    ],
)
def test_hostile_payloads_are_named(raw: bytes | None, words: str) -> None:
    for kind in KINDS:
        with pytest.raises(RecordError, match=words):
            decode(kind, raw)
    with pytest.raises(RecordError, match=words):
        parse_object(raw, "tick")


def test_a_record_just_under_the_size_limit_is_read() -> None:
    rec = {**VALID["SensorReading"], "note": ""}
    pad = MAX_RECORD_BYTES - len(json.dumps(rec).encode())
    rec["note"] = "x" * pad
    raw = json.dumps(rec).encode()
    assert len(raw) == MAX_RECORD_BYTES
    assert decode(BY_TOPIC["sensor-readings"], raw).sensor_id == "pm-1"


TIMESTAMP_FIELDS = {
    name: [f for f in VALID[name] if isinstance(VALID[name][f], str) and VALID[name][f] == TS]
    for name in VALID
}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@FUZZ
@given(
    year=st.integers(min_value=1, max_value=9999),
    offset=st.sampled_from(["Z", "+14:00", "-14:00", "+23:59", "-23:59", ""]),
    data=st.data(),
)
def test_timestamps_at_the_ends_of_the_calendar_name_their_field(
    kind: type[Record], year: int, offset: str, data: st.DataObject
) -> None:
    fields = TIMESTAMP_FIELDS[kind.__name__]
    if not fields:
        return
    field = data.draw(st.sampled_from(fields))
    raw = json.dumps({**VALID[kind.__name__], field: f"{year:04d}-01-01T00:00:00{offset}"}).encode()
    try:
        decode(kind, raw)
    except RecordError as exc:
        assert exc.field == field, exc
