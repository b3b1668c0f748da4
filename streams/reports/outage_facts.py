"""Camera outages from the case record: what its camera-offline incidents say.

Camera health opens an incident of ``health.offline_category`` when a camera has been down for
longer than ``health.blip_s`` (shorter outages leave no trace in the case record, and are not
counted); its first entry says since when the camera was down (``camera_offline``), and the entry
``camera_back`` says when it reported again. An outage runs from the first to the second; without
a ``camera_back`` entry it ends when the incident closed (an operator closed it) or, while the
incident is open, runs on to the end of the period (or ``now``, when that is earlier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from streams.contract.timeutil import from_iso
from streams.logic.history_notes import CAMERA_BACK_LIKE, is_camera_back, offline_since
from streams.reports.case_facts import chunks
from streams.store.schema import incident_events as events
from streams.store.schema import incidents


@dataclass(frozen=True)
class Outage:
    camera_id: str
    start: float
    end: float  # may lie beyond the period: callers clip


def _incidents(conn: Connection, category: str, start: str, end: str) -> list[Any]:
    c = incidents.c
    query = select(c.incident_id, c.camera_id, c.opened_at, c.state, c.updated_at).where(
        c.category == category,
        c.camera_id.is_not(None),
        c.opened_at < end,
        or_(c.state != "closed", c.updated_at >= start),
    )
    return list(conn.execute(query))


def _marks(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per incident: its first note, when the camera came back, when it closed."""
    e = events.c
    marks: dict[str, dict[str, Any]] = {i: {} for i in ids}
    for part in chunks(ids):
        query = (
            select(e.incident_id, e.at, e.state, e.actor, e.note)
            .where(
                e.incident_id.in_(part),
                or_(
                    and_(e.state == "open", e.actor == "rules"),
                    and_(e.actor == "rules", e.note.like(CAMERA_BACK_LIKE)),
                    e.state == "closed",
                ),
            )
            .order_by(e.incident_id, e.at)
        )
        for row in conn.execute(query):
            mark = marks[row.incident_id]
            if row.state == "open" and row.actor == "rules" and "since" not in mark:
                mark["since"] = offline_since(row.note)
            if is_camera_back(row.note) and "back" not in mark:
                mark["back"] = from_iso(row.at)
            if row.state == "closed" and "closed" not in mark:
                mark["closed"] = from_iso(row.at)
    return marks


def outages(conn: Connection, category: str, start: str, end: str, now: float) -> list[Outage]:
    """The camera outages that overlap ``[start, end)`` (their whole length; callers clip)."""
    found = _incidents(conn, category, start, end)
    marks = _marks(conn, [row.incident_id for row in found])
    period_end = min(from_iso(end), now)
    out: list[Outage] = []
    for row in found:
        mark = marks[row.incident_id]
        began = mark.get("since") or from_iso(row.opened_at)
        ended = mark.get("back") or mark.get("closed") or max(period_end, began)
        out.append(Outage(row.camera_id, began, ended))
    return out
