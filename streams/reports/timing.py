"""How long cases took: durations in wall time and in working time, and their median and p90.

Working time is what a ``WorkingSeconds`` callable says lies between two instants (epoch
seconds): the working hours of the district's calendar. ``working_clock`` is where the district's
calendar comes in; until there is one, working time is wall time and the report says so
(``working_time: "wall"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.config import Config
from streams.logic.worktime import site_clock

WorkingSeconds = Callable[[float, float], float]

# the durations of a case: (name, from which fact, to which fact)
SPANS: tuple[tuple[str, str, str], ...] = (
    ("dispatch_to_accept", "dispatched_at", "accepted_at"),
    ("dispatch_to_arrive", "dispatched_at", "arrived_at"),
    ("dispatch_to_resolve", "dispatched_at", "first_resolved_at"),
    ("open_to_close", "opened_at", "closed_at"),
)


def wall_seconds(start: float, end: float) -> float:
    return end - start


def working_clock(cfg: Config | None) -> tuple[str, WorkingSeconds]:
    """The district's working-time clock and its name ("working"): the site's working hours on
    the Chinese calendar; wall time ("wall") without a configuration or without working hours."""
    if cfg is None or cfg.site.working_hours is None:
        return "wall", wall_seconds
    return "working", site_clock(cfg.site).working_seconds


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, interpolated between the nearest two."""
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median_s": None, "p90_s": None}
    ordered = sorted(values)
    return {"median_s": round(percentile(ordered, 0.5), 3), "p90_s": round(percentile(ordered, 0.9), 3)}


@dataclass
class Durations:
    """The durations of one span over a group's cases, in wall and in working time."""

    wall: list[float] = field(default_factory=list)
    working: list[float] = field(default_factory=list)

    def add(self, start: float, end: float, working: WorkingSeconds) -> None:
        if end < start:
            return  # a record out of order: no negative durations
        self.wall.append(end - start)
        self.working.append(self.wall[-1] if working is wall_seconds else working(start, end))

    def to_json(self) -> dict[str, Any]:
        return {"n": len(self.wall), "wall": _summary(self.wall), "working": _summary(self.working)}
