"""The notify tests' district and records: the streams district with a street (和平街道) over
grid-a, a camera_offline category and robots of each type; case and alert records as the
worker writes them."""

from __future__ import annotations

from typing import Any

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.logic.history_notes import escalated, past_due

from .config_support import Site, category, streams_site

T0 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC, 2026-05-29 04:26 in Asia/Shanghai
CATEGORY = {"key": "out_of_store_business", "code": "200504", "name": "店外经营"}
LOCATION = {"address": "和平路12号", "grid_id": "grid-a"}


def notify_site(robots: list[dict[str, Any]], rules: list[dict[str, Any]], **notify: Any) -> Site:
    out = streams_site()
    out["categories"]["camera_offline"] = category("camera_offline")
    out["streets"] = [{"id": "heping", "name": "和平街道", "grids": ["grid-a"]}]
    out["web"] = {"public_url": "https://citywatch.example.gov.cn"}
    out["notify"] = {"robots": robots, "rules": rules, **notify}
    return out


def case(n: int, *, at: float = T0, unit: str = "unit-a", state: str = "dispatched") -> r.DispatchCase:
    return r.DispatchCase(
        case_id=f"case-{n}",
        incident_id=f"inc-{n}",
        unit_id=unit,
        grid_id="grid-a",
        category=r.CategoryRef(**CATEGORY),
        location=r.Location(**LOCATION),
        created_at=to_iso(at),
        due_at=to_iso(at + 1800),
        state=state,
        level="street",
    )


def entry(at: float, state: str, note: str, by: str = "policy") -> dict[str, Any]:
    return {"at": to_iso(at), "state": state, "by": by, "note": note}


def alert(
    n: int, history: list[dict[str, Any]], *, category: dict[str, str] | None = None, at: float = T0
) -> r.Alert:
    return r.Alert(
        incident_id=f"inc-{n}",
        category=r.CategoryRef(**(category or CATEGORY)),
        camera_id="cam-a",
        zone_id="storefront",
        location=r.Location(**LOCATION),
        state=history[-1]["state"],
        opened_at=to_iso(at),
        updated_at=history[-1]["at"],
        history=[r.HistoryEntry(**h) for h in history],
        revision=len(history),
        case_id=f"case-{n}",
        unit_id="unit-a",
        level="street",
        due_at=to_iso(at + 1800),
    )


def overdue_then_escalated(n: int, at: float = T0) -> r.Alert:
    """Incident ``n``: dispatched, past due at ``at`` + 60, escalated to unit-d."""
    return alert(
        n,
        [
            entry(at, "open", "zone occupied"),
            entry(at + 1, "dispatched", f"grace over; case case-{n} to unit-a"),
            entry(at + 60, "overdue", past_due(f"case-{n}")),
            entry(at + 60, "overdue", escalated("overdue", "unit-a", "unit-d", "district")),
        ],
        at=at,
    )
