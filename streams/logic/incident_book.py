"""An incident and the book of one camera's (or sensor's) open incidents, with their bounds.

The records the incident logic (``streams.logic.incidents``) works on, and what it returns:
``Effect``s to publish. Every list a book keeps has a bound (``MAX_*``, ``HISTORY_*``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from streams.logic.clock import KeyClock

MAX_EVIDENCE = 10
MAX_LABELS = 20
MAX_CLOSED_REMEMBERED = 200
MAX_VERIFY_WAITS = 3  # verification periods to wait for the camera's word after a resolve
# history kept in the table and on the alerts topic: the first entries and the latest ones
# (the case record keeps all of it); what was left out in between is counted
HISTORY_HEAD = 20
HISTORY_TAIL = 80
# how long (event time past the grace deadline) an incident waits for the broadcast policy's
# answer to its warning before it carries on without one
OUTCOME_WAIT_S = 60.0


@dataclass
class Incident:
    incident_id: str
    camera_id: str
    zone_id: str
    category: str
    state: str
    opened_at: float
    updated_at: float
    present: bool = True
    last_seen_at: float = 0.0
    grace_until: float | None = None
    warnings: int = 0
    case_id: str | None = None
    unit_id: str | None = None
    level: str | None = None
    due_at: float | None = None
    round: int = 0
    rework: int = 0
    verify_until: float | None = None
    resolved_at: float | None = None
    verify_waits: int = 0
    overdue_noted: bool = False
    held: bool = False
    evidence: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    history_omitted: int = 0
    revision: int = 0  # counts the changes published as alerts: a larger revision is newer
    # a warning was asked for and the policy has not answered yet: the grace deadline and a
    # clear wait for the answer, so the outcome never depends on which arrives first
    warn_pending: bool = False
    cleared_at: float | None = None  # a clear seen while the warning was pending
    rejected_round: int | None = None  # rejected with no higher level in this round: needs an operator
    # sensor and health incidents (streams/worker/agents/): camera_id is "" for a sensor's
    # incident; source is camera (a zone violation), sensor, or health (camera offline)
    sensor_id: str | None = None
    source: str = "camera"
    # how sure the camera was when the violation started (None: the producer did not count), and
    # whether it was too unsure for an automatic warning: an operator then confirms (review)
    frames_seen: int | None = None
    frames: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    review: bool = False

    @property
    def key(self) -> str:
        return f"{self.zone_id}|{self.category}"

    @property
    def subject(self) -> str:
        """The id whose book holds this incident: the sensor's, else the camera's."""
        return self.sensor_id or self.camera_id


@dataclass
class Book(KeyClock):
    """Open incidents of one camera (or sensor), the ids it closed recently, and its clock."""

    open: dict[str, Incident] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    held: bool = False  # the camera is offline or degraded: new incidents start held

    def by_case(self, case_id: str) -> Incident | None:
        for inc in self.open.values():
            if inc.case_id == case_id:
                return inc
        return None

    def by_id(self, incident_id: str) -> Incident | None:
        for inc in self.open.values():
            if inc.incident_id == incident_id:
                return inc
        return None

    def next_deadline(self) -> float | None:
        """The earliest deadline a tick could fire; held incidents have none until released."""
        times = [t for inc in self.open.values() if not inc.held for t in _deadlines(inc) if t is not None]
        return min(times) if times else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "open": {k: asdict(v) for k, v in self.open.items()},
            "closed": list(self.closed),
        }
        if self.held:
            data["held"] = True
        if self.clock is not None:
            data["clock"] = self.clock
            data["clock_wall"] = self.clock_wall
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Book:
        if not data:
            return cls()
        clock = data.get("clock")
        return cls(
            open={k: Incident(**v) for k, v in data.get("open", {}).items()},
            closed=list(data.get("closed", [])),
            held=bool(data.get("held", False)),
            clock=float(clock) if clock is not None else None,
            clock_wall=float(data.get("clock_wall", 0.0)),
        )


def _deadlines(inc: Incident) -> tuple[float | None, ...]:
    grace = inc.grace_until
    if grace is not None and inc.warn_pending:
        grace += OUTCOME_WAIT_S  # the policy's answer normally comes first and moves it
    return (grace, inc.verify_until, None if inc.overdue_noted else inc.due_at)


@dataclass(frozen=True)
class Effect:
    """Something to publish: kind is alert | warn | dispatch | case."""

    kind: str
    key: str
    value: dict[str, Any]


def bound_history(inc: Incident, head: int, tail: int) -> None:
    """Keep the first ``head`` and the latest ``tail`` entries; count the ones left out."""
    extra = len(inc.history) - head - tail
    if extra > 0:
        inc.history = inc.history[:head] + inc.history[head + extra :]
        inc.history_omitted += extra


def shrink(book: Book) -> bool:
    """Make a book smaller when its record is over the table's size budget (one step a call).

    Each step keeps less history and evidence of every open incident; returns False once
    nothing is left to shrink.
    """
    changed = False
    for inc in book.open.values():
        size = len(inc.history)
        if size > 4:
            bound_history(inc, max(2, size // 4), max(2, size // 4))
            changed = True
        if len(inc.evidence) > 1:
            inc.evidence = inc.evidence[-1:]
            changed = True
        if len(inc.labels) > 5:
            inc.labels = inc.labels[:5]
            changed = True
    if not changed and len(book.closed) > 10:
        book.closed = book.closed[-10:]
        changed = True
    return changed
