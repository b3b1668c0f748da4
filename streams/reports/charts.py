"""What the reports page draws beyond the KPIs, from the same facts (pure): the cases dispatched
per local day and category, and how long cases took from dispatch to their first resolve.

    chart_data(facts)  # {"days": [...], "per_day_category": {category: [n per day]},
                       #  "resolve_minutes": {"buckets": [labels], "counts": [n per bucket]}}
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from streams.reports.kpis import Facts, epoch

# upper bounds (minutes) of the time-to-resolve buckets; the last bucket is open
RESOLVE_BOUNDS_MIN: tuple[int, ...] = (15, 30, 60, 120, 240, 480, 1440)


def bucket_labels() -> list[str]:
    labels, low = [], 0
    for high in RESOLVE_BOUNDS_MIN:
        labels.append(f"{low}-{high} min")
        low = high
    return [*labels, f">{low} min"]


def bucket_of(minutes: float) -> int:
    for i, high in enumerate(RESOLVE_BOUNDS_MIN):
        if minutes < high:
            return i
    return len(RESOLVE_BOUNDS_MIN)


def chart_data(facts: Facts) -> dict[str, Any]:
    """Cases per day and category (every local day of the period, zeros included), and the
    distribution of dispatch → first resolve in wall minutes (cases resolved before ``to``)."""
    period = facts.period
    days = [day for day, _, _ in period.day_bounds(period.start, period.end)]
    index = {day: i for i, day in enumerate(days)}
    per: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    counts = [0] * (len(RESOLVE_BOUNDS_MIN) + 1)
    for row in facts.cases:
        dispatched = epoch(row["dispatched_at"])
        day = index.get(period.day_of(dispatched))
        if day is not None:
            per[str(row.get("category") or "")][day] += 1
        if row.get("first_resolved_at") is not None:
            counts[bucket_of((epoch(row["first_resolved_at"]) - dispatched) / 60)] += 1
    return {
        "days": days,
        "per_day_category": dict(sorted(per.items())),
        "resolve_minutes": {"buckets": bucket_labels(), "counts": counts},
    }
