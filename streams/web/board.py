"""The district's board: incidents, cases, patrol updates and broadcast decisions (pure).

Fed with already-decoded records of ``citywatch.alerts``, ``citywatch.dispatch``,
``citywatch.dispatch-updates`` and ``citywatch.broadcast-decisions``; answers the
queries of the pages and the API. Each ``apply_*`` returns the event to push to
live clients, or None when the record changes nothing (a stale redelivery).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.contract.timeutil import from_iso
from streams.logic.lifecycle import ASSIGNED_STATES, CASE_STATES, FINAL_STATES, alert_version, newer
from streams.logic.worktime import WALL, SlaClocks

__all__ = ["FINAL_STATES", "Board", "Event", "Filters", "incident_view"]

MAX_DECISIONS = 500
MAX_UPDATES_PER_CASE = 50
ROUNDS_KEPT = 3  # cases per incident (dispatch rounds): the current one and the latest before it
MAX_LOOSE = 1000  # cases and updates whose incident is not on the board (yet, or any more)
MAX_INCIDENTS = 50_000  # above open incidents plus closed_kept: the least recently changed go first

EvidenceUrl = Callable[[str], str | None]


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    category: str | None = None
    grid: str | None = None
    camera: str | None = None
    open_only: bool = False
    within: Callable[[dict[str, Any]], bool] | None = None  # a scoped caller's incidents only

    def match(self, alert: dict[str, Any]) -> bool:
        if self.within is not None and not self.within(alert):
            return False
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
    """Something live clients are told: kind is alert | case | update | decision.

    ``incident_id`` names the incident it belongs to (when known): live clients of a
    patrol get it only while that incident is assigned to their unit. ``units`` is
    the unit the record itself names, which counts when the incident is not on the board.
    """

    kind: str
    data: dict[str, Any]
    units: frozenset[str] = frozenset()
    incident_id: str | None = None


@dataclass
class Board:
    """What the board keeps is bounded: open incidents plus the last ``closed_kept`` closed
    ones (at most ``max_incidents`` in all), ``ROUNDS_KEPT`` cases per incident, each with
    its last ``MAX_UPDATES_PER_CASE`` updates, ``MAX_LOOSE`` cases and updates of incidents
    not on the board, and ``MAX_DECISIONS`` broadcast decisions. ``forgotten`` counts
    what was let go."""

    closed_kept: int = 500
    max_incidents: int = MAX_INCIDENTS
    clocks: SlaClocks | None = None  # each category's SLA clock (None: the wall clock for all)
    incidents: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    decisions: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    # indexes, bounded with the records above
    closed: OrderedDict[str, None] = field(default_factory=OrderedDict)  # closed incidents, oldest first
    rounds: dict[str, list[str]] = field(default_factory=dict)  # incident -> its case ids, oldest first
    case_incident: dict[str, str] = field(default_factory=dict)  # case id -> incident id
    assignment: dict[str, str] = field(default_factory=dict)  # incident -> the unit it is with now
    loose: OrderedDict[str, None] = field(default_factory=OrderedDict)  # case ids of incidents not here
    forgotten: int = 0

    # ------------------------------------------------------------ records in

    def apply_alert(self, alert: dict[str, Any]) -> Event | None:
        incident_id = str(alert["incident_id"])
        known = self.incidents.get(incident_id)
        if known is not None and newer(known, alert):
            return None  # an older state of this incident (a replay behind a newer record)
        if known is not None and alert_version(alert) == alert_version(known) and alert == known:
            return None
        self.incidents[incident_id] = alert
        self.incidents.move_to_end(incident_id)
        if alert.get("unit_id"):
            self.assignment[incident_id] = str(alert["unit_id"])
        else:
            self.assignment.pop(incident_id, None)
        if alert.get("case_id"):
            self._link(str(alert["case_id"]), incident_id, current=True)
        for case_id in self.rounds.get(incident_id, []):
            self.loose.pop(case_id, None)  # its incident is on the board now
        if alert.get("state") in FINAL_STATES:
            self.closed[incident_id] = None
            self.closed.move_to_end(incident_id)
        else:
            self.closed.pop(incident_id, None)
        self._forget_old()
        unit = self.assignment.get(incident_id)
        return Event("alert", alert, frozenset({unit}) if unit else frozenset(), incident_id)

    def apply_case(self, case: dict[str, Any]) -> Event | None:
        case_id = str(case["case_id"])
        incident_id = str(case["incident_id"])
        unit = str(case["unit_id"])
        known = self.cases.get(case_id)
        if known is not None and str(case.get("created_at") or "") < str(known.get("created_at") or ""):
            return None  # an earlier dispatch of this case, read after a later one (its re-send)
        self.cases[case_id] = case
        self._link(case_id, incident_id, current=False)
        alert = self.incidents.get(incident_id)
        if alert is None or alert.get("case_id") in (None, case_id):
            self.assignment[incident_id] = unit  # the incident's case changed hands (escalation)
        if alert is None:
            self._loosen(case_id)
        return Event("case", case, frozenset({unit}), incident_id)

    def apply_update(self, update: dict[str, Any]) -> Event | None:
        case_id = str(update["case_id"])
        items = self.updates.setdefault(case_id, [])
        if update in items:
            return None
        items.append(update)
        del items[:-MAX_UPDATES_PER_CASE]
        incident_id = self.case_incident.get(case_id)
        if incident_id is None or incident_id not in self.incidents:
            self._loosen(case_id)
        unit = str(update.get("unit_id") or "")
        return Event("update", update, frozenset({unit}) if unit else frozenset(), incident_id)

    def apply_decision(self, decision: dict[str, Any]) -> Event | None:
        request_id = str(decision["request_id"])
        if self.decisions.get(request_id) == decision:
            return None
        self.decisions[request_id] = decision
        self.decisions.move_to_end(request_id)
        while len(self.decisions) > MAX_DECISIONS:
            self.decisions.popitem(last=False)
        return Event("decision", decision)

    def _link(self, case_id: str, incident_id: str, *, current: bool) -> None:
        """Remember ``case_id`` as a round of ``incident_id``; keep the last ``ROUNDS_KEPT``."""
        self.case_incident[case_id] = incident_id
        rounds = self.rounds.setdefault(incident_id, [])
        if case_id in rounds:
            if not current:
                return
            rounds.remove(case_id)
        rounds.append(case_id)
        keep = str((self.incidents.get(incident_id) or {}).get("case_id") or "")
        while len(rounds) > ROUNDS_KEPT:
            old = next(c for c in rounds if c != keep)
            rounds.remove(old)
            self._drop_case(old)

    def _loosen(self, case_id: str) -> None:
        """A case or update whose incident is not on the board: kept, up to ``MAX_LOOSE``."""
        self.loose[case_id] = None
        self.loose.move_to_end(case_id)
        while len(self.loose) > MAX_LOOSE:
            old, _ = self.loose.popitem(last=False)
            incident_id = self.case_incident.get(old)
            if incident_id is not None and incident_id not in self.incidents:
                for case_id in self.rounds.pop(incident_id, []):
                    self._drop_case(case_id)
                self.assignment.pop(incident_id, None)
            else:
                self._drop_case(old)

    def _drop_case(self, case_id: str) -> None:
        self.cases.pop(case_id, None)
        self.updates.pop(case_id, None)
        self.loose.pop(case_id, None)
        incident_id = self.case_incident.pop(case_id, None)
        rounds = self.rounds.get(incident_id or "")
        if rounds is not None and case_id in rounds:
            rounds.remove(case_id)
        self.forgotten += 1

    def _forget_old(self) -> None:
        while len(self.closed) > self.closed_kept:
            incident_id, _ = self.closed.popitem(last=False)
            self._forget(incident_id)
        while len(self.incidents) > self.max_incidents:
            self._forget(next(iter(self.incidents)))

    def _forget(self, incident_id: str) -> None:
        self.incidents.pop(incident_id, None)
        self.closed.pop(incident_id, None)
        self.assignment.pop(incident_id, None)
        for case_id in self.rounds.pop(incident_id, []):
            self._drop_case(case_id)
        self.forgotten += 1

    def assigned(self, incident_id: str) -> str | None:
        """The unit an incident is assigned to now (None: no unit, or not on the board)."""
        return self.assignment.get(incident_id)

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
        """The incident whose current case is ``case_id``."""
        alert = self.incidents.get(self.case_incident.get(case_id, ""))
        return alert if alert is not None and alert.get("case_id") == case_id else None

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
            if a.get("unit_id") == unit_id and a.get("case_id") and a.get("state") in ASSIGNED_STATES
        ]
        found.sort(key=lambda a: str(a.get("due_at") or "9999"))
        return found

    def unit_evidence(self, unit_id: str) -> set[str]:
        """Every evidence path a patrol unit may open: its cases' pictures and its own photos."""
        return self.evidence_of(self.unit_cases(unit_id))

    def evidence_of(self, alerts: Iterable[dict[str, Any]]) -> set[str]:
        """The pictures of these incidents and their cases' photos."""
        paths: set[str] = set()
        for alert in alerts:
            paths.update(str(e) for e in alert.get("evidence") or [])
            for upd in self.updates.get(str(alert.get("case_id")), []):
                if upd.get("photo"):
                    paths.add(str(upd["photo"]))
        return paths

    def recent_decisions(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(reversed(self.decisions.values()))[:limit]

    # ------------------------------------------------------------ views

    def view(
        self, alert: dict[str, Any], evidence_url: EvidenceUrl, now: float | None = None
    ) -> dict[str, Any]:
        """An incident as pages and the API show it: the alert plus its case, photos and evidence
        links; given the time ``now``, an open case's SLA clock and working time left too."""
        case_id = str(alert.get("case_id") or "")
        updates = self.updates.get(case_id, []) if case_id else []
        return {
            **incident_view(alert, self.cases.get(case_id) if case_id else None, updates, evidence_url),
            **(self.sla_left(alert, now) if now is not None else {}),
        }

    def sla_left(self, alert: dict[str, Any], now: float) -> dict[str, Any]:
        """``sla_clock`` (working | wall) and ``working_left_s``: the working time from ``now`` to
        the due time of an open case (negative once past it; None without an open case)."""
        key = str((alert.get("category") or {}).get("key") or "")
        kind = self.clocks.kind(key) if self.clocks is not None else "wall"
        due = alert.get("due_at")
        if not due or alert.get("state") not in CASE_STATES:
            return {"sla_clock": kind, "working_left_s": None}
        clock = self.clocks.of(key) if self.clocks is not None else WALL
        return {"sla_clock": kind, "working_left_s": round(clock.working_seconds(now, from_iso(str(due))), 3)}


def incident_view(
    alert: dict[str, Any],
    case: dict[str, Any] | None,
    updates: list[dict[str, Any]],
    evidence_url: EvidenceUrl,
) -> dict[str, Any]:
    """An incident record with its current case and that case's updates, as the API shows it
    (the board's and the case record's alike)."""
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
        "warning": warning_summary(alert),
        "evidence_items": items,
        "case": case,
        "updates": list(updates),  # a copy: a live event shows the incident as it was then
    }


def warning_summary(alert: dict[str, Any]) -> dict[str, Any]:
    """Whether the loudspeaker warned for an incident, and the decision that says why.

    ``status`` is sent, review (too few sightings: an operator confirms), requested (an
    operator confirmed: the policy decides), queued (the speaker is busy), not_sent (the
    policy's or the incident's reason) or none (no decision yet); ``why`` is the timeline's
    latest note on the warning.
    """
    count = int(alert.get("warnings") or 0)
    notes = [str(h.get("note") or "") for h in alert.get("history") or [] if isinstance(h, dict)]
    about = [n for n in notes if n.startswith("loudspeaker:") or "warning" in n]
    why = about[-1] if about else ""
    if count:
        status = "sent"
    elif alert.get("review"):
        status = "review"
    elif why.endswith("warning requested"):
        status = "requested"  # confirmed by an operator: the policy's answer is on its way
    elif why.startswith("warning queued"):
        status = "queued"  # the speaker is busy: the policy sends it when it is free
    elif why:
        status = "not_sent"
    else:
        status = "none"
    return {"sent": count > 0, "count": count, "status": status, "why": why}


def _evidence_label(index: int, count: int) -> str:
    if index == 0:
        return "before"
    if index == count - 1:
        return "after"
    return f"#{index + 1}"
