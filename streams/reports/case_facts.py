"""The facts of each case of a period, by SQL over the case record (SQLAlchemy Core; SQLite,
PostgreSQL and MySQL/MariaDB alike).

A case (案件) is an incident that was dispatched: it belongs to the period of its first dispatch
(the first ``case_dispatches`` row of the incident), and what happened to it counts when it
happened before ``until`` (the period's end for a report; None: everything stored). Its milestones
are the states its history entered (docs/reports.md says which state means what):

    accepted / arrived     first entry of the state        resolved      first and last entry
    reopened / overdue     entered at least once           closed        its entry
    verified               last entry                      due           of the latest dispatch
                                                                         before the final resolve
    on time: closed, never overdue, and the final resolve (else the close) before that due

Escalations are the dispatch records of a case after its first one (``escalations``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Select, Subquery, and_, case, exists, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from streams.store.schema import case_dispatches as dispatches
from streams.store.schema import incident_events as events
from streams.store.schema import incidents

FOREVER = "9999-12-31T23:59:59.999Z"  # later than any stored time: no end
CHUNK = 500  # ids per IN (...): well under every dialect's parameter limit


def first_dispatches(start: str, end: str) -> Subquery:
    """The first dispatch of every incident whose first dispatch is in ``[start, end)``."""
    d = dispatches
    earlier = dispatches.alias("earlier")
    before = or_(
        earlier.c.created_at < d.c.created_at,
        and_(earlier.c.created_at == d.c.created_at, earlier.c.row_key < d.c.row_key),
    )
    older = exists().where(earlier.c.incident_id == d.c.incident_id, before)
    return (
        select(d.c.incident_id, d.c.case_id, d.c.unit_id, d.c.grid_id, d.c.created_at.label("dispatched_at"))
        .where(d.c.created_at >= start, d.c.created_at < end, ~older)
        .subquery("first_dispatch")
    )


def _at(incident: ColumnElement[Any], state: str, until: str, last: bool = False) -> ColumnElement[Any]:
    """When ``incident``'s history first (or last) entered ``state`` before ``until``: one index seek."""
    e = events.c
    pick = func.max(e.at) if last else func.min(e.at)
    query = select(pick).where(e.incident_id == incident, e.state == state, e.at < until)
    return query.correlate_except(events).scalar_subquery()


def _ever(incident: ColumnElement[Any], state: str, until: str) -> ColumnElement[Any]:
    e = events.c
    entered = exists().where(e.incident_id == incident, e.state == state, e.at < until)
    return case((entered.correlate_except(events), 1), else_=0)


def case_facts_query(start: str, end: str, until: str | None) -> Select[Any]:
    """One row per case of ``[start, end)``: where it belongs and its milestones."""
    until = until or FOREVER
    first = first_dispatches(start, end)
    iid = first.c.incident_id
    last_resolved = _at(iid, "resolved", until, last=True)
    closed = _at(iid, "closed", until)
    later = dispatches.alias("in_force")
    due = (
        select(func.max(later.c.due_at))
        .where(later.c.incident_id == iid, later.c.created_at <= func.coalesce(last_resolved, closed))
        .scalar_subquery()
    )
    return (
        select(
            iid,
            first.c.case_id,
            first.c.unit_id,
            first.c.grid_id,
            first.c.dispatched_at,
            incidents.c.category,
            incidents.c.camera_id,
            incidents.c.opened_at,
            _at(iid, "accepted", until).label("accepted_at"),
            _at(iid, "arrived", until).label("arrived_at"),
            _at(iid, "resolved", until).label("first_resolved_at"),
            last_resolved.label("last_resolved_at"),
            _at(iid, "verified", until, last=True).label("verified_at"),
            closed.label("closed_at"),
            _ever(iid, "reopened", until).label("reopened"),
            _ever(iid, "overdue", until).label("overdue"),
            due.label("due_at"),
        )
        .select_from(first)
        .join(incidents, incidents.c.incident_id == iid)
        .order_by(first.c.dispatched_at, iid)
    )


def on_time(row: Mapping[str, Any]) -> bool:
    """Closed, never overdue, and resolved for the last time (else closed) before the due time
    in force then."""
    done = row["last_resolved_at"] or row["closed_at"]
    return bool(row["closed_at"] and not row["overdue"] and row["due_at"] and done < row["due_at"])


def escalations_query(ids: list[str], until: str | None) -> Select[Any]:
    """(incident_id, level, escalations) of ``ids``: dispatch records after a case's first one."""
    d = dispatches
    earlier = dispatches.alias("earlier")
    older = exists().where(
        earlier.c.incident_id == d.c.incident_id,  # the index's way to the case's other records
        earlier.c.case_id == d.c.case_id,
        or_(
            earlier.c.created_at < d.c.created_at,
            and_(earlier.c.created_at == d.c.created_at, earlier.c.row_key < d.c.row_key),
        ),
    )
    return (
        select(d.c.incident_id, d.c.level, func.count(literal(1)).label("n"))
        .where(d.c.incident_id.in_(ids), d.c.created_at < (until or FOREVER), older)
        .group_by(d.c.incident_id, d.c.level)
    )


def chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def case_rows(conn: Connection, start: str, end: str, until: str | None) -> list[dict[str, Any]]:
    """The facts of every case of ``[start, end)``, each with ``escalations: {level: n}``."""
    rows = [dict(row) for row in conn.execute(case_facts_query(start, end, until)).mappings()]
    by_id = {row["incident_id"]: row for row in rows}
    for row in rows:
        row["on_time"] = on_time(row)
        row["escalations"] = {}
    for part in chunks(list(by_id)):
        for incident_id, level, n in conn.execute(escalations_query(part, until)):
            by_id[incident_id]["escalations"][level] = int(n)
    return rows
