"""What the case record says is still open: the incidents to re-seed into an empty worker.

``open_incidents`` reads every incident whose last stored alert is not final, with its open
case (the case its alert names, as last dispatched); ``restore_inputs`` turns them into the
worker's ``restore`` inputs (internal.incident-inputs, keyed by the incident's camera or
sensor), each with an id derived from the incident and its stored version, so the same
record re-seeded twice, or by two workers, changes nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, inspect, select

from streams.contract.internal_records import RestoreInput
from streams.logic.incident_restore import restore_id
from streams.logic.lifecycle import FINAL_STATES
from streams.store import schema

logger = logging.getLogger(__name__)

MAX_RESTORED = 20_000  # open incidents read back at most (the oldest first); more is logged


@dataclass(frozen=True)
class OpenIncident:
    """One open incident of the case record: its last alert and its open case (or None)."""

    incident_id: str
    version: int
    state: str
    subject: str  # the camera (or sensor) whose book holds it: the input's key
    alert: dict[str, Any]
    case: dict[str, Any] | None

    @property
    def case_id(self) -> str | None:
        return None if self.case is None else str(self.case.get("case_id"))

    @property
    def unit_id(self) -> str | None:
        return None if self.case is None else str(self.case.get("unit_id"))


def has_tables(engine: Engine) -> bool:
    """Whether the database holds the case record's incidents and cases (it was migrated)."""
    names = set(inspect(engine).get_table_names())
    return {"incidents", "cases"} <= names


def open_incidents(engine: Engine, limit: int = MAX_RESTORED) -> list[OpenIncident]:
    """Every incident not closed in the case record, oldest first, with its open case."""
    inc, cases = schema.incidents, schema.cases
    query = (
        select(inc.c.incident_id, inc.c.version, inc.c.state, inc.c.record)
        .where(inc.c.state.not_in(FINAL_STATES))
        .order_by(inc.c.opened_at, inc.c.incident_id)
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        if len(rows) > limit:
            logger.error(
                "the case record holds more than %d open incidents: the oldest %d are read", limit, limit
            )
            rows = rows[:limit]
        wanted = {
            str(r.record.get("case_id"))
            for r in rows
            if isinstance(r.record, dict) and r.record.get("case_id")
        }
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(wanted), 500):
            for c in conn.execute(select(cases.c.case_id, cases.c.record).where(cases.c.case_id.in_(chunk))):
                found[c.case_id] = c.record
    out = []
    for r in rows:
        record: dict[str, Any] = r.record if isinstance(r.record, dict) else {}
        subject = str(record.get("sensor_id") or record.get("camera_id") or "")
        if not subject:
            logger.warning(
                "incident %s in the case record has no camera or sensor: not restored", r.incident_id
            )
            continue
        case = found.get(str(record.get("case_id"))) if record.get("case_id") else None
        out.append(OpenIncident(r.incident_id, int(r.version), r.state, subject, record, case))
    return out


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def restore_inputs(incidents: list[OpenIncident], at: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``restore`` inputs (key, value) of the incidents, dated ``at`` (the restorer's clock)."""
    out = []
    for o in incidents:
        value = RestoreInput(
            kind="restore",
            restore_id=restore_id(o.incident_id, o.version),
            incident=o.alert,
            case=o.case,
            at=at,
        )
        out.append((o.subject, value.model_dump(mode="json")))
    return out
