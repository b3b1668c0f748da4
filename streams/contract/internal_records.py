"""Record types of the worker's internal.* topics: JSON objects told apart by their
"kind", read into a discriminated union (``IncidentInput``, ``SpeakerInput``,
``CaseIndexInput``) by ``read_internal`` and dispatched on their type.

Their fields are read as the agents always read them: str() of the value, and an
absent or empty optional field is its default. Extra fields are kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

from streams.contract.errors import RecordError
from streams.contract.records import _field_path, parse_object


def _or(default: str) -> BeforeValidator:
    return BeforeValidator(lambda value: str(value or default))


Text = Annotated[str, BeforeValidator(str)]
Reason = Annotated[str, _or("")]


class Internal(BaseModel):
    """Base of the internal topics' records (no contract version; extra fields kept)."""

    model_config = ConfigDict(extra="allow")


class TickInput(Internal):
    """A key's deadline passed (sent by the worker's own timers)."""

    kind: Literal["tick"]
    at: Text


class UpdateInput(Internal):
    """A patrol update routed from its case to its incident's key."""

    kind: Literal["update"]
    case_id: Text
    unit_id: Text
    status: Text
    note: Reason = ""
    at: Text


class OutcomeInput(Internal):
    """The broadcast policy's answer to an incident's warning."""

    kind: Literal["outcome"]
    incident_id: Text
    decision: Text
    reason: Reason = ""
    text: Reason = ""
    at: Text


class AckInput(Internal):
    """A loudspeaker's acknowledgement of an incident's warning."""

    kind: Literal["ack"]
    incident_id: Text
    status: Text
    reason: Reason = ""
    at: Text


class OperatorInput(Internal):
    """An operator's action on an incident (from the web)."""

    kind: Literal["operator"]
    incident_id: Text
    action: Text
    by: Annotated[str, _or("operator")] = "operator"
    reason: Reason = ""
    at: Text


class HealthInput(Internal):
    """Hold or release a camera's incidents (camera health)."""

    kind: Literal["health"]
    held: Annotated[bool, BeforeValidator(bool)]
    reason: Reason = ""
    at: Text


class ConditionInput(Internal):
    """A sensor rule's or camera health's condition started or cleared."""

    kind: Literal["condition"]
    subject: Text
    source: Text
    category: Text
    state: Text
    since: Text
    at: Text
    note: Reason = ""


class RestoreInput(Internal):
    """An open incident (and its open case) read back from the case record, re-seeded into an
    empty incident table after the broker lost its topics. ``restore_id`` is derived from the
    incident's id and its stored version: a second re-seed of the same record changes nothing."""

    kind: Literal["restore"]
    restore_id: Text
    incident: dict[str, Any] = Field(description="The stored alert record (contract v1, with extras)")
    case: dict[str, Any] | None = Field(None, description="The incident's open case as stored, if any")
    at: Text


IncidentInput = Annotated[
    TickInput
    | UpdateInput
    | OutcomeInput
    | AckInput
    | OperatorInput
    | HealthInput
    | ConditionInput
    | RestoreInput,
    Field(discriminator="kind"),
]


class WarnIntent(Internal):
    """An incident's request for a warning on a speaker (any kind but "tick")."""

    at: Text
    request_id: Text
    text: Text
    requested_by: Annotated[str, _or("citywatch")] = "citywatch"
    reason: Reason = ""
    lang: Annotated[str, _or("zh")] = "zh"
    camera_id: Any = None
    incident_id: Any = None


def _kind(data: Any) -> Any:
    return data.get("kind") if isinstance(data, dict) else getattr(data, "kind", None)


SpeakerInput = Annotated[
    Annotated[TickInput, Tag("tick")] | Annotated[WarnIntent, Tag("warn")],
    Discriminator(lambda data: "tick" if _kind(data) == "tick" else "warn"),
]


class CaseExpire(Internal):
    """A parked case waited PARK_S for its index: dead-letter its updates."""

    kind: Literal["expire"]


class CaseClosed(Internal):
    """The case's incident closed."""

    kind: Literal["closed"]


class CasePrune(Internal):
    """A closed case was kept CLOSED_CASE_KEPT_S: forget it."""

    kind: Literal["prune"]


class CaseEntry(Internal):
    """A dispatched case and its incident's key (any other kind)."""

    camera_id: Any
    incident_id: Any


_CASE_KINDS = ("expire", "closed", "prune")

CaseIndexInput = Annotated[
    Annotated[CaseExpire, Tag("expire")]
    | Annotated[CaseClosed, Tag("closed")]
    | Annotated[CasePrune, Tag("prune")]
    | Annotated[CaseEntry, Tag("entry")],
    Discriminator(lambda data: k if (k := _kind(data)) in _CASE_KINDS else "entry"),
]

INCIDENT_INPUT: TypeAdapter[IncidentInput] = TypeAdapter(IncidentInput)
SPEAKER_INPUT: TypeAdapter[SpeakerInput] = TypeAdapter(SpeakerInput)
CASE_INDEX_INPUT: TypeAdapter[CaseIndexInput] = TypeAdapter(CaseIndexInput)

M = TypeVar("M")


def read_internal(adapter: TypeAdapter[M], raw: bytes | str | None, name: str) -> M:
    """One internal topic's JSON object as its type; any failure is a ``RecordError`` naming the field."""
    data = parse_object(raw, name)
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RecordError(name, _field_path(tuple(err["loc"])), f"{err['msg']}{more}") from None
