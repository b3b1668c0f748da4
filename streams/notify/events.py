"""The events a group chat hears of, derived from the contract's records (pure).

    dispatch record, state dispatched            -> dispatched      (once per case id)
    alert history entry "case X past its due time" -> overdue       (once per entry)
    alert history entry "...: escalated from A to B (level)" -> escalated (once per entry)
    alert history entry with state reopened      -> reopened        (once per entry)
    alert of the offline category (camera_offline) -> camera_offline (once per incident)

An alert carries the incident's whole history (its first and latest entries when long), so an
entry is seen in many alerts: each event's ``key`` names it once, whichever record it came
from, and the outbox keeps one row per key and robot. A re-dispatch of the same case (an
escalation re-sends the case record) keeps its case id: it is no second ``dispatched``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.contract.records import Alert, DispatchCase
from streams.contract.timeutil import from_iso
from streams.logic.history_notes import escalation, is_past_due


@dataclass(frozen=True)
class Event:
    kind: str  # one of streams.config.notify.EVENTS
    key: str  # names the event once: (kind, incident or case, the history entry's time)
    at: float  # when it happened (epoch seconds)
    incident_id: str
    category: str  # the category's key
    category_name: str
    address: str
    grid_id: str | None
    unit_id: str | None = None
    level: str | None = None
    due_at: float | None = None
    case_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # the generic webhook's record

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "key": self.key,
            "at": self.at,
            "incident_id": self.incident_id,
            "case_id": self.case_id,
            "category": self.category,
            "category_name": self.category_name,
            "address": self.address,
            "grid_id": self.grid_id,
            "unit_id": self.unit_id,
            "level": self.level,
            "due_at": self.due_at,
            "record": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(
            kind=data["event"],
            key=data["key"],
            at=float(data["at"]),
            incident_id=data["incident_id"],
            case_id=data.get("case_id"),
            category=data["category"],
            category_name=data["category_name"],
            address=data["address"],
            grid_id=data.get("grid_id"),
            unit_id=data.get("unit_id"),
            level=data.get("level"),
            due_at=data.get("due_at"),
            detail=data.get("record") or {},
        )


def from_case(case: DispatchCase) -> list[Event]:
    """A case record: ``dispatched`` when it is the case's dispatch (not an escalation's re-send)."""
    if case.state != "dispatched":
        return []
    return [
        Event(
            kind="dispatched",
            key=f"dispatched:{case.case_id}",
            at=from_iso(case.created_at),
            incident_id=case.incident_id,
            case_id=case.case_id,
            category=case.category.key,
            category_name=case.category.name or case.category.key,
            address=case.location.address,
            grid_id=case.grid_id or case.location.grid_id,
            unit_id=case.unit_id,
            level=case.level,
            due_at=from_iso(case.due_at),
            detail=case.to_dict(),
        )
    ]


def from_alert(alert: Alert, offline_category: str) -> list[Event]:
    """An alert: its history's overdue, escalated and reopened entries, and its opening when it is
    a camera-offline incident."""
    extra = alert.model_extra or {}
    due = extra.get("due_at")
    base: dict[str, Any] = {
        "incident_id": alert.incident_id,
        "category": alert.category.key,
        "category_name": alert.category.name or alert.category.key,
        "address": alert.location.address,
        "grid_id": alert.location.grid_id,
        "unit_id": extra.get("unit_id"),
        "level": extra.get("level"),
        "due_at": from_iso(due) if isinstance(due, str) else None,
        "case_id": extra.get("case_id"),
        "detail": alert.to_dict(),
    }
    out: list[Event] = []
    if alert.category.key == offline_category:
        at = from_iso(alert.opened_at)
        out.append(Event(kind="camera_offline", key=f"camera_offline:{alert.incident_id}", at=at, **base))
    for entry in alert.history:
        kind = _entry_kind(entry.state, entry.note)
        if kind is None:
            continue
        moved = escalation(entry.note) if kind == "escalated" else None
        fields = {**base, "unit_id": moved[1], "level": moved[2]} if moved else base
        key = f"{kind}:{alert.incident_id}:{entry.at}"
        out.append(Event(kind=kind, key=key, at=from_iso(entry.at), **fields))
    return out


def _entry_kind(state: str, note: str) -> str | None:
    if escalation(note) is not None:
        return "escalated"
    if state == "overdue" and is_past_due(note):
        return "overdue"
    if state == "reopened":
        return "reopened"
    return None
