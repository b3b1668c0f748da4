"""The KPIs of a group of facts (pure: rows in, numbers out), in total and per group.

Each fact belongs to at most one group of a breakdown (``group_of``): a case to the unit it was
first dispatched to, the grid of that dispatch, its category, its camera and the local day of its
first dispatch; a warning to its incident's category, camera, camera's grid and the day it was
warned; a broadcast decision to its incident's camera, category and grid, and its day; an outage
to its camera and grid, cut at local midnights by day. What has no such group (a warning has no
unit; a sensor's case has no camera) counts in the total only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.contract.timeutil import from_iso
from streams.reports.outage_facts import Outage
from streams.reports.period import Period
from streams.reports.timing import SPANS, Durations, WorkingSeconds

HOUR = 3600.0


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


@dataclass
class Tally:
    """The running counts of one group."""

    dispatched: int = 0
    closed: int = 0
    on_time: int = 0
    resolved: int = 0
    reopened: int = 0
    overdue: int = 0
    escalations: Counter[str] = field(default_factory=Counter)
    warned: int = 0
    effective: int = 0
    broadcasts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    offline_s: float = 0.0
    times: dict[str, Durations] = field(default_factory=lambda: {name: Durations() for name, *_ in SPANS})

    def add_case(self, row: Mapping[str, Any], times: Mapping[str, float], working: WorkingSeconds) -> None:
        self.dispatched += 1
        self.closed += row["closed_at"] is not None
        self.on_time += bool(row["on_time"])
        self.resolved += row["first_resolved_at"] is not None
        self.reopened += bool(row["reopened"])
        self.overdue += bool(row["overdue"])
        self.escalations.update(row["escalations"])
        for name, begin, end in SPANS:
            if begin in times and end in times:
                self.times[name].add(times[begin], times[end], working)

    def add_warning(self, row: Mapping[str, Any]) -> None:
        self.warned += 1
        self.effective += bool(row["effective"])

    def to_json(self) -> dict[str, Any]:
        kpis: dict[str, Any] = {
            "cases_dispatched": self.dispatched,
            "cases_closed": self.closed,
            "close_rate": rate(self.closed, self.dispatched),
            "cases_on_time": self.on_time,
            "on_time_rate": rate(self.on_time, self.closed),
            "cases_resolved": self.resolved,
            "cases_reopened": self.reopened,
            "rework_rate": rate(self.reopened, self.resolved),
            "overdue": {"cases": self.overdue, "escalations": dict(sorted(self.escalations.items()))},
            "incidents_warned": self.warned,
            "warnings_effective": self.effective,
            "warning_effectiveness": rate(self.effective, self.warned),
        }
        kpis |= {name: durations.to_json() for name, durations in self.times.items()}
        kpis["broadcasts"] = {
            decision: dict(sorted(reasons.items())) for decision, reasons in sorted(self.broadcasts.items())
        }
        kpis["camera_offline_hours"] = round(self.offline_s / HOUR, 3)
        return kpis


@dataclass(frozen=True)
class Facts:
    """Everything a report of one period counts, as read from the case record."""

    period: Period
    cases: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    outages: list[Outage]
    grids: Mapping[str, str]  # camera id -> its grid, from the configuration


def epoch(stored: str) -> float:
    """A stored time (the contract's one format, ``…Z``) as epoch seconds: the quick way, for the
    many a report reads."""
    if stored.endswith("Z"):
        return datetime.fromisoformat(stored[:-1] + "+00:00").timestamp()
    return from_iso(stored)


SPAN_ENDS = tuple(dict.fromkeys(name for _, begin, end in SPANS for name in (begin, end)))


def case_times(row: Mapping[str, Any]) -> dict[str, float]:
    """The epoch seconds of a case's timestamps that are set."""
    return {name: epoch(row[name]) for name in SPAN_ENDS if row[name] is not None}


def group_of(
    by: str | None, row: Mapping[str, Any], period: Period, at: str, grids: Mapping[str, str]
) -> Any:
    """The group of a fact row under breakdown ``by`` (None: the total only); ``at`` names its time."""
    if by is None:
        return None
    if by == "day":
        return period.day_of(epoch(row[at]))
    if by == "unit":
        return row.get("unit_id")
    if by == "grid":
        return row.get("grid_id") or grids.get(row.get("camera_id") or "")
    if by == "category":
        return row.get("category")
    if by == "speaker":  # a warning's or a decision's loudspeaker; a case has none
        return row.get("speaker_id")
    return row.get("camera_id")


def _outage_pieces(by: str | None, outage: Outage, facts: Facts) -> Iterable[tuple[Any, float]]:
    """(group, seconds) of one outage within the period."""
    start, end = max(outage.start, facts.period.start), min(outage.end, facts.period.end)
    if end <= start:
        return []
    if by == "day":
        return [(day, b - a) for day, a, b in facts.period.day_bounds(start, end)]
    key = {"camera": outage.camera_id, "grid": facts.grids.get(outage.camera_id)}.get(by or "")
    return [(key, end - start)]


def tally(facts: Facts, by: str | None, working: WorkingSeconds) -> tuple[Tally, dict[Any, Tally]]:
    """The total and the groups of breakdown ``by`` (None: the total only)."""
    total, groups = Tally(), defaultdict[Any, Tally](Tally)

    def targets(key: Any) -> list[Tally]:
        return [total] if key is None else [total, groups[key]]

    for row in facts.cases:
        times = case_times(row)
        for t in targets(group_of(by, row, facts.period, "dispatched_at", facts.grids)):
            t.add_case(row, times, working)
    for row in facts.warnings:
        key = None if by == "unit" else group_of(by, row, facts.period, "warned_at", facts.grids)
        for t in targets(key):
            t.add_warning(row)
    for row in facts.decisions:
        key = None if by == "unit" else group_of(by, row, facts.period, "at", facts.grids)
        for t in targets(key):
            t.broadcasts[row["decision"]][row["reason"]] += 1
    for outage in facts.outages:
        for key, seconds in _outage_pieces(by, outage, facts):
            for t in targets(key):
                t.offline_s += seconds
    return total, dict(groups)
