"""Generators of hostile records for the fuzzing tests: one valid record per contract type
to mutate, JSON values, deep nesting, huge integers, and strategies of records a reader must
refuse (``bad_records`` for a contract type, ``bad_internal`` for the worker's internal topics).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streams.contract.errors import RecordError
from streams.contract.records import BY_TOPIC, Record, decode, parse_object

TS = "2026-05-26T02:14:03.120Z"
CATEGORY = {"key": "out_of_store_business", "code": "200504", "name": "店外经营"}
LOCATION = {"address": "Huangpu Rd 12", "grid_id": "g-1", "lat": 31.2, "lon": 121.4}

# one valid record per type of the contract, to mutate
VALID: dict[str, dict[str, Any]] = {
    "Detection": {
        "camera_id": "cam-1",
        "seq": 7,
        "captured_at": TS,
        "detected_at": TS,
        "frame_size": [1920, 1080],
        "model": "yolo11n",
        "objects": [
            {"track_id": 3, "label": "bench", "score": 0.8, "box": [0.1, 0.2, 0.3, 0.4], "zones": ["z"]}
        ],
        "snapshot": None,
    },
    "CameraStatus": {"camera_id": "cam-1", "status": "online", "fps": 5.0, "last_frame_at": TS, "reason": ""},
    "SensorReading": {"sensor_id": "pm-1", "kind": "pm25", "value": 80.5, "unit": "ug/m3", "measured_at": TS},
    "Violation": {
        "camera_id": "cam-1",
        "zone_id": "z",
        "category": "out_of_store_business",
        "state": "started",
        "since": TS,
        "at": TS,
    },
    "Alert": {
        "incident_id": "inc-1",
        "category": CATEGORY,
        "camera_id": "cam-1",
        "zone_id": "z",
        "location": LOCATION,
        "state": "open",
        "opened_at": TS,
        "updated_at": TS,
        "history": [{"at": TS, "state": "open", "by": "citywatch"}],
    },
    "BroadcastRequest": {"request_id": "r-1", "speaker_id": "spk-1", "text": "请", "requested_by": "op"},
    "LoudspeakerCommand": {
        "command_id": "c-1",
        "speaker_id": "spk-1",
        "camera_id": None,
        "incident_id": None,
        "text": "请",
        "source": "operator",
        "requested_by": "op",
        "requested_at": TS,
        "not_after": TS,
    },
    "LoudspeakerAck": {
        "command_id": "c-1",
        "speaker_id": "spk-1",
        "incident_id": None,
        "status": "played",
        "started_at": TS,
        "finished_at": TS,
    },
    "DispatchCase": {
        "case_id": "case-1",
        "incident_id": "inc-1",
        "unit_id": "u-1",
        "grid_id": "g-1",
        "category": CATEGORY,
        "location": LOCATION,
        "created_at": TS,
        "due_at": TS,
        "state": "dispatched",
        "level": "street",
    },
    "DispatchUpdate": {"case_id": "case-1", "unit_id": "u-1", "status": "accepted", "at": TS},
    "DeadLetter": {"topic": "t", "partition": 0, "offset": 1, "error": "e", "raw": ""},
    "BroadcastDecision": {
        "request_id": "r-1",
        "speaker_id": "spk-1",
        "decision": "sent",
        "reason": "",
        "command_id": "c-1",
        "source": "operator",
        "requested_by": "op",
        "at": TS,
    },
    "CameraCommand": {
        "command_id": "camcmd-1",
        "camera_id": "cam-1",
        "zone_id": "pile",
        "action": "recapture_background",
        "requested_by": "op",
        "reason": "",
        "requested_at": TS,
    },
}
KINDS = sorted(set(BY_TOPIC.values()), key=lambda k: k.__name__)

huge_int = st.integers(min_value=4301, max_value=20_000).map(lambda n: "9" * n)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def nested(depth: int, opener: str) -> str:
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def refused(kind: type[Record], raw: bytes | None) -> bool:
    """Whether ``decode`` refuses the payload (the worker must dead-letter it)."""
    try:
        decode(kind, raw)
    except RecordError:
        return True
    return False


@st.composite
def _mutated(draw: st.DrawFn, kind: type[Record]) -> bytes:
    """A valid record of ``kind`` with one field replaced, deleted, or joined by a huge or deep value."""
    rec = dict(VALID[kind.__name__])
    field = draw(st.sampled_from(sorted(rec)))
    how = draw(st.sampled_from(["replace", "delete", "huge", "deep"]))
    if how == "replace":
        rec[field] = draw(json_value)
    elif how == "delete":
        del rec[field]
    text = json.dumps(rec, ensure_ascii=False)
    if how == "huge":
        text = text[:-1] + f', "{field}": {draw(huge_int)}}}'
    elif how == "deep":
        depth = draw(st.integers(min_value=150, max_value=5_000))
        text = text[:-1] + f', "{field}": {nested(depth, draw(st.sampled_from("[{")))}}}'
    return text.encode()


def _hostile() -> st.SearchStrategy[bytes | None]:
    return st.one_of(
        st.binary(max_size=200),
        json_value.map(lambda v: json.dumps(v).encode()),
        st.builds(nested, st.integers(min_value=150, max_value=5_000), st.sampled_from("[{")).map(str.encode),
        huge_int.map(str.encode),
        st.none(),  # a tombstone
    )


def bad_records(kind: type[Record]) -> st.SearchStrategy[bytes | None]:
    """Payloads of the topic of ``kind`` that decode refuses."""
    return st.one_of(_hostile(), _mutated(kind)).filter(lambda raw: refused(kind, raw))


def mutated_bad(kind: type[Record]) -> st.SearchStrategy[bytes]:
    """Valid records of ``kind`` spoiled by one mutation that decode refuses."""
    return _mutated(kind).filter(lambda raw: refused(kind, raw))


def bad_for_every_input() -> st.SearchStrategy[bytes | None]:
    """Hostile payloads that decode refuses for every contract input topic."""
    return _hostile().filter(lambda raw: all(refused(kind, raw) for kind in KIND_OF.values()))


# keys the worker's internal readers look up first; an object without them is refused
INTERNAL_KEYS = {"at", "kind", "camera_id", "incident_id"}


def _internal_refused(raw: bytes | None) -> bool:
    try:
        data = parse_object(raw, "internal")
    except RecordError:
        return True
    return not INTERNAL_KEYS & set(data)


def bad_internal() -> st.SearchStrategy[bytes | None]:
    """Payloads of an internal topic its reader must refuse."""
    objects = st.dictionaries(st.text(max_size=8), json_value, max_size=4).map(
        lambda d: json.dumps(d).encode()
    )
    return st.one_of(_hostile(), objects).filter(_internal_refused)


def generate(strategy: st.SearchStrategy[bytes | None], n: int) -> list[bytes | None]:
    """``n`` examples of ``strategy`` drawn by hypothesis (repeats kept: each is a record to send)."""
    out: list[bytes | None] = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(raw: bytes | None) -> None:
        out.append(raw)

    while len(out) < n:
        collect()
    return out[:n]


CONTRACT_INPUTS = [
    "detections",
    "violations",
    "sensor-readings",
    "camera-status",
    "broadcast-requests",
    "loudspeaker-acks",
    "dispatch-updates",
]
KIND_OF = {suffix: BY_TOPIC[suffix] for suffix in CONTRACT_INPUTS}
