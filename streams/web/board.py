"""The district's board: incidents, cases, patrol updates and broadcast decisions (pure).

Fed with already-decoded records of ``citywatch.alerts``, ``citywatch.dispatch``,
``citywatch.dispatch-updates`` and ``citywatch.broadcast-decisions``; answers the
queries of the pages and the API. Each ``apply_*`` returns the event to push to
live clients, or None when the record changes nothing (a stale redelivery).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# states in which a case is in a patrol unit's hands (or being checked by the camera)
CASE_STATES = frozenset({"dispatched", "accepted", "arrived", "overdue", "reopened", "resolved", "verifying"})
# states in which an operator may still act
FINAL_STATES = frozenset({"closed"})
DISPATCHABLE = frozenset({"open", "warned"})
MAX_DECISIONS = 500
MAX_UPDATES_PER_CASE = 50

EvidenceUrl = Callable[[str], str | None]


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    category: str | None = None
    grid: str | None = None
    camera: str | None = None
    open_only: bool = False

    def match(self, alert: dict[str, Any]) -> bool:
        if self.state and alert.get("state") != self.state:
            return False
        if self.category and (alert.get("category") or {}).get("key") != self.category:
            return False
        if self.grid and (alert.get("location") or {}).get("grid_id") != self.grid:
            return False
        if self.camera and alert.get("camera_id") != self.camera:
            return False
        return not (self.open_only and alert.get("state") in FINAL_STATES)


@dataclass(frozen=True)
class Event:
    """Something live clients are told: kind is alert | case | decision."""

    kind: str
    data: dict[str, Any]
    units: frozenset[str] = frozenset()  # patrol units that may see it


@dataclass
class Board:
    closed_kept: int = 500
    incidents: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    decisions: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    units_seen: dict[str, set[str]] = field(default_factory=dict)

    # ------------------------------------------------------------ records in

    def apply_alert(self, alert: dict[str, Any]) -> Event | None:
        incident_id = str(alert["incident_id"])
        known = self.incidents.get(incident_id)
        if known is not None and _version(alert) < _version(known):
            return None  # an older state of this incident (a replay behind a newer record)
        if known is not None and _version(alert) == _version(known) and alert == known:
            return None
        self.incidents[incident_id] = alert
        self.incidents.move_to_end(incident_id)
        seen = self.units_seen.setdefault(incident_id, set())
        if alert.get("unit_id"):
            seen.add(str(alert["unit_id"]))
        self._forget_closed()
        return Event("alert", alert, frozenset(seen))

    def apply_case(self, case: dict[str, Any]) -> Event | None:
        case_id = str(case["case_id"])
        self.cases[case_id] = case
        seen = self.units_seen.setdefault(str(case["incident_id"]), set())
        seen.add(str(case["unit_id"]))
        return Event("case", case, frozenset(seen))

    def apply_update(self, update: dict[str, Any]) -> Event | None:
        case_id = str(update["case_id"])
        items = self.updates.setdefault(case_id, [])
        if update in items:
            return None
        items.append(update)
        del items[:-MAX_UPDATES_PER_CASE]
        unit = str(update.get("unit_id") or "")
        return Event("update", update, frozenset({unit}) if unit else frozenset())

    def apply_decision(self, decision: dict[str, Any]) -> Event | None:
        request_id = str(decision["request_id"])
        if self.decisions.get(request_id) == decision:
            return None
        self.decisions[request_id] = decision
        self.decisions.move_to_end(request_id)
        while len(self.decisions) > MAX_DECISIONS:
            self.decisions.popitem(last=False)
        return Event("decision", decision)

    def _forget_closed(self) -> None:
        closed = [i for i, a in self.incidents.items() if a.get("state") in FINAL_STATES]
        for incident_id in closed[: max(0, len(closed) - self.closed_kept)]:
            alert = self.incidents.pop(incident_id)
            self.units_seen.pop(incident_id, None)
            case_id = alert.get("case_id")
            if case_id:
                self.cases.pop(str(case_id), None)
                self.updates.pop(str(case_id), None)

    # ------------------------------------------------------------ queries

    def query(self, filters: Filters) -> list[dict[str, Any]]:
        """Matching incidents, the most recently changed first."""
        found = [a for a in self.incidents.values() if filters.match(a)]
        found.sort(key=lambda a: str(a.get("updated_at") or ""), reverse=True)
        return found

    def counts(self, filters: Filters | None = None) -> dict[str, dict[str, int]]:
        """Incidents per state and per category (of those matching ``filters``)."""
        by_state: dict[str, int] = {}
        by_category: dict[str, int] = {}
        for alert in self.incidents.values():
            if filters is not None and not filters.match(alert):
                continue
            state = str(alert.get("state"))
            by_state[state] = by_state.get(state, 0) + 1
            key = str((alert.get("category") or {}).get("key"))
            by_category[key] = by_category.get(key, 0) + 1
        return {"state": by_state, "category": by_category}

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.incidents.get(incident_id)

    def by_case(self, case_id: str) -> dict[str, Any] | None:
        for alert in self.incidents.values():
            if alert.get("case_id") == case_id:
                return alert
        return None

    def case_unit(self, case_id: str) -> str | None:
        """The unit a case is assigned to now (escalation moves it), or None if unknown."""
        alert = self.by_case(case_id)
        if alert is not None and alert.get("unit_id"):
            return str(alert["unit_id"])
        case = self.cases.get(case_id)
        return str(case["unit_id"]) if case else None

    def unit_cases(self, unit_id: str) -> list[dict[str, Any]]:
        """Incidents whose case is with ``unit_id`` now, the one due first on top."""
        found = [
            a
            for a in self.incidents.values()
            if a.get("unit_id") == unit_id and a.get("case_id") and a.get("state") in CASE_STATES
        ]
        found.sort(key=lambda a: str(a.get("due_at") or "9999"))
        return found

    def unit_evidence(self, unit_id: str) -> set[str]:
        """Every evidence path a patrol unit may open: its cases' pictures and its own photos."""
        paths: set[str] = set()
        for alert in self.unit_cases(unit_id):
            paths.update(str(e) for e in alert.get("evidence") or [])
            for upd in self.updates.get(str(alert.get("case_id")), []):
                if upd.get("photo"):
                    paths.add(str(upd["photo"]))
        return paths

    def recent_decisions(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(reversed(self.decisions.values()))[:limit]

    # ------------------------------------------------------------ views

    def view(self, alert: dict[str, Any], evidence_url: EvidenceUrl) -> dict[str, Any]:
        """An incident as pages and the API show it: the alert plus its case, photos and evidence links."""
        case_id = str(alert.get("case_id") or "")
        updates = self.updates.get(case_id, []) if case_id else []
        evidence = [str(e) for e in alert.get("evidence") or []]
        items = [
            {"path": p, "url": evidence_url(p), "label": _evidence_label(i, len(evidence))}
            for i, p in enumerate(evidence)
        ]
        for upd in updates:
            if upd.get("photo"):
                photo = str(upd["photo"])
                items.append({"path": photo, "url": evidence_url(photo), "label": "after (patrol photo)"})
        return {
            **alert,
            "evidence_items": items,
            "case": self.cases.get(case_id) if case_id else None,
            "updates": updates,
        }


def _version(alert: dict[str, Any]) -> tuple[int, str]:
    """Order of two records of one incident: its history only grows, updated_at never goes back."""
    return len(alert.get("history") or []), str(alert.get("updated_at") or "")


def _evidence_label(index: int, count: int) -> str:
    if index == 0:
        return "before"
    if index == count - 1:
        return "after"
    return f"#{index + 1}"
