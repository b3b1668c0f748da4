"""Record types of the public contract (v1) and their JSON codec.

Every value is a UTF-8 JSON object with ``"v": 1``; required fields are
declared here, and extra fields are kept (the contract welcomes them).
``decode`` is the boundary: a malformed payload raises ``RecordError`` naming
the field, never an error deep inside an agent. ``parse_object`` is the same
boundary for the worker's internal JSON topics. Any failure of a hostile payload
(bad UTF-8, nesting deeper than MAX_DEPTH, a number Python refuses to convert,
more than MAX_RECORD_BYTES) is a ``RecordError``; readers dead-letter it and
carry on. ``BAD_INPUT`` names what reading a decoded record's fields may still
raise, for the ``except`` of every reader.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from streams.contract.errors import RecordError
from streams.contract.timeutil import from_iso
from streams.logic.lifecycle import STATES

VERSION: Literal[1] = 1

MAX_RECORD_BYTES = 1024 * 1024  # a JSON record larger than this is refused (Kafka's default message limit)
MAX_DEPTH = 128  # JSON nested deeper is refused: no record comes near, and deeper cannot be re-encoded

# What reading the fields of a decoded record (or of an internal JSON object) may
# raise on hostile values; every reader catches these, dead-letters the record
# and carries on.
BAD_INPUT: tuple[type[Exception], ...] = (
    RecordError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)

# integers longer than Python converts (sys.get_int_max_str_digits, 4300) in any JSON number
_LONG_DIGITS_B = re.compile(rb"[0-9]{4300}")
_LONG_DIGITS_S = re.compile(r"[0-9]{4300}")


def _valid_ts(value: str) -> str:
    try:
        from_iso(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: a date that leaves the calendar in UTC
        raise ValueError(f"not an ISO-8601 UTC timestamp ({exc})") from None
    return value


_known_ts = lru_cache(maxsize=65_536)(_valid_ts)  # an alert repeats its history's times in every later alert


def _check_ts(value: str) -> str:
    return _known_ts(value) if len(value) <= 64 else _valid_ts(value)  # the cache holds short texts only


def forget_checked() -> None:
    """Empty the cache of timestamps already checked (a benchmark starts cold)."""
    _known_ts.cache_clear()


Timestamp = Annotated[str, AfterValidator(_check_ts)]
Unit01 = Annotated[float, Field(ge=0.0, le=1.0)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Record(BaseModel):
    """Base of every contract record: versioned, extra fields kept."""

    model_config = ConfigDict(extra="allow", frozen=False)

    v: Literal[1] = VERSION

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def written(cls, fields: dict[str, Any]) -> dict[str, Any]:
        """The JSON object a writer puts on a topic: ``fields`` made into this record (a mistake
        raises here, naming the field, rather than in every reader), dumped in the writer's key
        order, extra fields kept."""
        dumped: dict[str, Any] = _in_order(cls.model_validate(fields).model_dump(mode="json"), fields)
        return dumped


def _in_order(value: Any, like: Any) -> Any:
    """``value`` (a model's dump) with its objects' keys in the order of ``like`` (what was given)."""
    if isinstance(value, dict) and isinstance(like, dict):
        return {k: _in_order(value[k], like[k]) for k in like}
    if isinstance(value, list) and isinstance(like, list | tuple) and len(value) == len(like):
        return [_in_order(v, w) for v, w in zip(value, like, strict=True)]
    return value


class DetectedObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    track_id: int | None
    label: NonEmpty
    score: Unit01
    box: Annotated[list[Unit01], Field(min_length=4, max_length=4)]
    zones: list[str] = Field(default_factory=list)


class Detection(Record):
    camera_id: NonEmpty
    seq: Annotated[int, Field(ge=0)]
    captured_at: Timestamp
    detected_at: Timestamp
    frame_size: Annotated[list[Annotated[int, Field(gt=0)]], Field(min_length=2, max_length=2)]
    model: str
    objects: list[DetectedObject]
    snapshot: str | None = None


class CameraStatus(Record):
    camera_id: NonEmpty
    status: Literal["online", "degraded", "offline"]
    fps: Annotated[float, Field(ge=0)]
    last_frame_at: Timestamp | None
    reason: str = ""


class SensorReading(Record):
    sensor_id: NonEmpty
    kind: NonEmpty
    value: float
    unit: str
    measured_at: Timestamp


class Violation(Record):
    camera_id: NonEmpty
    zone_id: NonEmpty
    category: NonEmpty
    state: Literal["started", "ongoing", "cleared"]
    since: Timestamp
    at: Timestamp
    labels: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    # how sure the camera is: frames the violation was seen in (above its thresholds) of the
    # frames judged since its first sighting, and the best score per label; absent: not counted
    frames_seen: Annotated[int, Field(ge=0)] | None = None
    frames: Annotated[int, Field(ge=0)] | None = None
    scores: dict[str, Unit01] = Field(default_factory=dict)


class CategoryRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: NonEmpty
    code: str
    name: str


class Location(BaseModel):
    model_config = ConfigDict(extra="allow")

    address: str = ""
    grid_id: str | None = None
    lat: float | None = None
    lon: float | None = None


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: Timestamp
    state: str
    by: str
    note: str = ""


# the incident states, as named by streams/logic/lifecycle.py (at runtime a Literal of them, which
# pydantic checks; to mypy a str)
if TYPE_CHECKING:
    IncidentState = str
else:
    IncidentState = Literal[STATES]


class Alert(Record):
    """The whole incident after each change."""

    incident_id: NonEmpty
    category: CategoryRef
    camera_id: str | None
    zone_id: str | None
    location: Location
    state: IncidentState
    opened_at: Timestamp
    updated_at: Timestamp
    evidence: list[str] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    revision: int = Field(0, ge=0, description="Counts the incident's changes: larger is newer")
    history_omitted: int = Field(0, ge=0, description="History entries left out between first and latest")


class BroadcastRequest(Record):
    request_id: NonEmpty
    speaker_id: NonEmpty
    text: str | None = None
    template: str | None = None
    requested_by: NonEmpty
    reason: str = ""
    force: bool = False


class LoudspeakerCommand(Record):
    command_id: NonEmpty
    speaker_id: NonEmpty
    camera_id: str | None
    incident_id: str | None
    text: NonEmpty
    lang: str = "zh"
    priority: int = 5
    source: Literal["auto", "operator"]
    requested_by: str
    requested_at: Timestamp
    not_after: Timestamp


class LoudspeakerAck(Record):
    command_id: NonEmpty
    speaker_id: NonEmpty
    incident_id: str | None
    status: Literal["played", "failed", "expired"]
    reason: str = ""
    started_at: Timestamp | None
    finished_at: Timestamp | None


class DispatchCase(Record):
    case_id: NonEmpty
    incident_id: NonEmpty
    unit_id: NonEmpty
    grid_id: str | None
    category: CategoryRef
    location: Location
    evidence: list[str] = Field(default_factory=list)
    created_at: Timestamp
    due_at: Timestamp
    state: str
    level: str


class DispatchUpdate(Record):
    case_id: NonEmpty
    unit_id: NonEmpty
    status: Literal["accepted", "arrived", "resolved", "rejected"]
    note: str = ""
    at: Timestamp


class BroadcastDecision(Record):
    """Extension of v1: every broadcast policy decision, on citywatch.broadcast-decisions."""

    request_id: NonEmpty
    speaker_id: NonEmpty
    decision: Literal["sent", "queued", "suppressed"]
    reason: str
    command_id: str | None
    source: Literal["auto", "operator"]
    requested_by: str
    incident_id: str | None = None
    at: Timestamp


class CameraCommand(Record):
    command_id: NonEmpty
    camera_id: NonEmpty
    zone_id: NonEmpty | None = Field(description="the zone; null: every zone of the camera")
    action: Literal["recapture_background"] = Field(description="the zone is clean: re-take its background")
    requested_by: NonEmpty
    reason: str = ""
    requested_at: Timestamp


class DeadLetter(Record):
    topic: str
    partition: int
    offset: int
    error: str
    raw: str  # base64 of the original value


MAX_DEADLETTER_RAW = 512 * 1024  # bytes of the original kept in a dead letter (base64 stays under 1 MB)
MAX_DEADLETTER_ERROR = 2000  # characters of the reason kept in a dead letter


def dead_letter(topic: str, partition: int, offset: int, error: str, raw: bytes | None) -> DeadLetter:
    """The dead letter of one record; a large original or reason is cut so the letter itself
    fits a Kafka message (``raw_bytes`` and ``truncated`` then say so)."""
    value = raw or b""
    extra: dict[str, Any] = {}
    if len(value) > MAX_DEADLETTER_RAW:
        extra = {"raw_bytes": len(value), "truncated": True}
        value = value[:MAX_DEADLETTER_RAW]
    if len(error) > MAX_DEADLETTER_ERROR:
        error = error[:MAX_DEADLETTER_ERROR] + "…"
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        error=error,
        raw=base64.b64encode(value).decode("ascii"),
        **extra,
    )


R = TypeVar("R", bound=Record)

# topic suffix -> record type (frames carry JPEG bytes, not JSON)
BY_TOPIC: dict[str, type[Record]] = {
    "detections": Detection,
    "camera-status": CameraStatus,
    "sensor-readings": SensorReading,
    "violations": Violation,
    "alerts": Alert,
    "broadcast-requests": BroadcastRequest,
    "loudspeaker": LoudspeakerCommand,
    "loudspeaker-acks": LoudspeakerAck,
    "dispatch": DispatchCase,
    "dispatch-updates": DispatchUpdate,
    "deadletter": DeadLetter,
    "broadcast-decisions": BroadcastDecision,
    "camera-commands": CameraCommand,
}


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<record>"


def _too_deep(data: Any) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _size(raw: bytes | str) -> int:
    return len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))


def _check_size(name: str, raw: bytes | str) -> None:
    size = _size(raw)
    if size > MAX_RECORD_BYTES:
        raise RecordError(
            name,
            "<payload>",
            f"record is too large ({size} bytes; at most {MAX_RECORD_BYTES}): "
            "send evidence as a path or URL, not inline",
        )


def _loads(name: str, raw: bytes | str) -> Any:
    """json.loads where every failure is a RecordError saying what is wrong."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise RecordError(name, "<payload>", f"JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise RecordError(name, "<payload>", f"not UTF-8 JSON ({exc})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise RecordError(name, "<payload>", f"a JSON value cannot be read ({exc})") from None
    except Exception as exc:  # a hostile payload must never escape as anything else
        raise RecordError(name, "<payload>", f"not readable JSON ({type(exc).__name__}: {exc})") from None
    if _too_deep(data):
        raise RecordError(name, "<payload>", f"JSON nested too deeply (at most {MAX_DEPTH} levels)")
    return data


def parse_object(raw: bytes | str | None, name: str = "record") -> dict[str, Any]:
    """One JSON object of an internal topic; any failure is a ``RecordError`` naming it."""
    if raw is None:
        raise RecordError(name, "<payload>", "empty value (a tombstone): expected a JSON object")
    if not isinstance(raw, bytes | str):
        raise RecordError(name, "<payload>", f"expected JSON bytes, got {type(raw).__name__}")
    _check_size(name, raw)
    data = _loads(name, raw)
    if not isinstance(data, dict):
        raise RecordError(name, "<payload>", f"expected a JSON object, got {type(data).__name__}")
    return data


def _validate(kind: type[R], data: dict[str, Any]) -> R:
    name = kind.__name__
    if data.get("v", VERSION) != VERSION:
        raise RecordError(name, "v", f"version {data.get('v')!r} is not supported; expected 1")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(tuple(err["loc"]))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RecordError(name, field, f"{err['msg']}{more}") from None


def decode(kind: type[R], raw: bytes | str | dict[str, Any] | None) -> R:
    """Parse and validate one payload; any failure is a ``RecordError`` naming the bad field."""
    name = kind.__name__
    try:
        if isinstance(raw, dict):
            if _too_deep(raw):
                raise RecordError(name, "<payload>", f"JSON nested too deeply (at most {MAX_DEPTH} levels)")
            return _validate(kind, raw)
        if isinstance(raw, bytes | str):
            _check_size(name, raw)
            long_digits = _LONG_DIGITS_B.search(raw) if isinstance(raw, bytes) else _LONG_DIGITS_S.search(raw)
            if long_digits is None:  # pydantic's parser would accept integers Python cannot print
                try:  # fast path: pydantic parses the JSON itself (and stops at 200 levels)
                    return kind.model_validate_json(raw)
                except ValidationError:
                    pass  # fall through for a precise message
        return _validate(kind, parse_object(raw, name))
    except RecordError:
        raise
    except Exception as exc:  # nothing but a RecordError may leave the boundary
        raise RecordError(name, "<payload>", f"cannot be read ({type(exc).__name__}: {exc})") from None
