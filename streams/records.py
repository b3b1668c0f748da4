"""Record types of the public contract (v1) and their JSON codec.

Every value is a UTF-8 JSON object with ``"v": 1``; required fields are
declared here, and extra fields are kept (the contract welcomes them).
``decode`` is the boundary: a malformed payload raises ``RecordError`` naming
the field, never an error deep inside an agent.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from streams.errors import RecordError
from streams.timeutil import from_iso

VERSION: Literal[1] = 1


def _check_ts(value: str) -> str:
    try:
        from_iso(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 UTC timestamp ({exc})") from None
    return value


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


IncidentState = Literal[
    "open",
    "warned",
    "cleared",
    "dispatched",
    "accepted",
    "arrived",
    "resolved",
    "verifying",
    "verified",
    "reopened",
    "overdue",
    "closed",
]


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


class DeadLetter(Record):
    topic: str
    partition: int
    offset: int
    error: str
    raw: str  # base64 of the original value


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
}


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<record>"


def decode(kind: type[R], raw: bytes | str | dict[str, Any]) -> R:
    """Parse and validate one payload; raise ``RecordError`` naming the bad field."""
    if isinstance(raw, bytes | str):
        try:  # fast path: pydantic parses the JSON itself
            return kind.model_validate_json(raw)
        except ValidationError:
            pass  # fall through for a precise message
    name = kind.__name__
    if isinstance(raw, dict):
        data: Any = raw
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordError(name, "<payload>", f"not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordError(name, "<payload>", f"expected a JSON object, got {type(data).__name__}")
    if data.get("v", VERSION) != VERSION:
        raise RecordError(name, "v", f"version {data.get('v')!r} is not supported; expected 1")
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(tuple(err["loc"]))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RecordError(name, field, f"{err['msg']}{more}") from None


def encode(record: Record) -> bytes:
    return record.to_bytes()
