"""A case record to read back: incidents with cases, updates, notes and evidence, written by the
store's own mapping and upserts (streams/store/writer.py, upsert.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.store import upsert, writer

from .store_support import T0, scenario

DAY = 86_400.0


def incident(
    n: int,
    *,
    state: str = "dispatched",
    at: float = 0.0,
    case: str | None = None,
    unit: str | None = None,
    camera: str = "cam-a",
    grid: str = "g-1",
    category: tuple[str, str] = ("out_of_store_business", "店外经营"),
    notes: tuple[str, ...] = ("seen",),
    revision: int = 1,
) -> r.Alert:
    """Incident ``inc-x{n}`` whose events are ``at`` seconds after T0 (one per note)."""
    key, name = category
    when = [to_iso(T0 + at + i) for i in range(len(notes))]
    history = [
        {"at": t, "state": state, "by": "policy", "note": note} for t, note in zip(when, notes, strict=True)
    ]
    extra: dict[str, Any] = {"case_id": case, "unit_id": unit} if case else {}
    return r.Alert(
        incident_id=f"inc-x{n}",
        category={"key": key, "code": "200504", "name": name},
        camera_id=camera,
        zone_id="z-1",
        location={"address": "1 Main St", "grid_id": grid},
        state=state,
        opened_at=when[0],
        updated_at=when[-1],
        evidence=[f"evidence/{camera}/inc-x{n}.jpg"],
        history=history,
        revision=revision,
        **extra,
    )


def case_of(n: int, unit: str, *, at: float = 1.0, incident_n: int | None = None) -> r.DispatchCase:
    """Case ``case-x{n}`` of ``inc-x{incident_n or n}`` with ``unit``."""
    return r.DispatchCase(
        case_id=f"case-x{n}",
        incident_id=f"inc-x{incident_n if incident_n is not None else n}",
        unit_id=unit,
        grid_id="g-1",
        category={"key": "out_of_store_business", "code": "200504", "name": "店外经营"},
        location={"address": "1 Main St", "grid_id": "g-1"},
        created_at=to_iso(T0 + at),
        due_at=to_iso(T0 + at + 600),
        state="dispatched",
        level="street",
    )


def store_records(engine: Engine, records: list[tuple[str, r.Record]]) -> None:
    """Write (topic suffix, record) pairs as the store does."""
    rows = [row for suffix, rec in records for row in writer.rows_of(suffix, rec.to_bytes())]
    with engine.begin() as conn:
        upsert.write(conn, writer.merge(rows))


def district() -> list[tuple[str, r.Record]]:
    """A small district's record, every kind of incident the searches tell apart:

    inc-x1  dispatched to unit-a (case-x1), notes "goods on the walkway", a day after T0
    inc-x2  closed, camera cam-b, grid g-2, note "100% cleared_now"
    inc-x3  illegal_parking (机动车乱停放), warned, no case, two days after T0
    inc-x4  reopened: its first case case-x4 is over, re-dispatched as case-x5 to unit-a
    inc-x6  resolved by unit-a (case-x6): past the patrol's part
    inc-x7  escalated: case-x7 re-sent from unit-a to unit-d
    plus store_support's scenario(3): inc-0..inc-2 closed (case-0 escalated to u-district)
    """
    out: list[tuple[str, r.Record]] = [(s, rec) for s, _, rec in scenario(3)]
    out += [
        (
            "alerts",
            incident(1, at=DAY, case="case-x1", unit="unit-a", notes=("opened", "goods on the walkway")),
        ),
        ("dispatch", case_of(1, "unit-a", at=DAY + 1)),
        (
            "dispatch-updates",
            r.DispatchUpdate(case_id="case-x1", unit_id="unit-a", status="accepted", at=to_iso(T0 + DAY + 2)),
        ),
        (
            "alerts",
            incident(2, state="closed", at=DAY / 2, camera="cam-b", grid="g-2", notes=("100% cleared_now",)),
        ),
        ("alerts", incident(3, state="warned", at=2 * DAY, category=("illegal_parking", "机动车乱停放"))),
        ("dispatch", case_of(4, "unit-a", at=10)),
        ("alerts", incident(4, state="dispatched", at=20, case="case-x5", unit="unit-a", revision=5)),
        ("dispatch", case_of(5, "unit-a", at=19, incident_n=4)),
        ("dispatch", case_of(6, "unit-a", at=30)),
        ("alerts", incident(6, state="resolved", at=31, case="case-x6", unit="unit-a")),
        ("dispatch", case_of(7, "unit-a", at=40)),
        ("dispatch", case_of(7, "unit-d", at=45)),
        ("alerts", incident(7, state="overdue", at=46, case="case-x7", unit="unit-d")),
    ]
    return out
