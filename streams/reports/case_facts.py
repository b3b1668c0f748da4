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

Escalations are the dispatch records of a case after its first one (``due_and_escalations``).

Three queries read a period: its cases (``case_facts_query``), the milestone entries of all of
them (``entries_query``) and all their dispatch records (``dispatches_query``); the first and last
entries, the due time and the escalations are then picked per case in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Select, Subquery, and_, exists, func, or_, select

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


MILESTONES = ("accepted", "arrived", "resolved", "verified", "closed", "reopened", "overdue")


def case_facts_query(start: str, end: str) -> Select[Any]:
    """One row per case of ``[start, end)``: where it belongs (its milestones: ``entries_query``)."""
    first = first_dispatches(start, end)
    iid = first.c.incident_id
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
        )
        .select_from(first)
        .join(incidents, incidents.c.incident_id == iid)
        .order_by(first.c.dispatched_at, iid)
    )


def entries_query(start: str, end: str, until: str) -> Select[Any]:
    """(incident_id, state, at) of every milestone entry before ``until`` of the cases of
    ``[start, end)``: one walk along each case's entries in the milestones index. The state is
    tested through ``coalesce`` (it is never null) so that no database starts from the
    ``(state, at)`` index instead, which would read every milestone entry of the whole record."""
    first = first_dispatches(start, end)
    e = events.c
    return (
        select(e.incident_id, e.state, e.at)
        .select_from(first)
        .join(events, e.incident_id == first.c.incident_id)
        .where(e.at < until, func.coalesce(e.state, "").in_(MILESTONES))
    )


def add_milestones(rows: dict[str, dict[str, Any]], entries: Iterable[Any]) -> None:
    """When each case's history entered each milestone: accepted, arrived, the first resolve and
    the close at their first entry; the final resolve and the verification at their last;
    reopened and overdue: entered at all (1/0)."""
    for row in rows.values():
        row.update(dict.fromkeys((*FIRST.values(), *LAST.values())), reopened=0, overdue=0)
    for incident_id, state, at in entries:
        row = rows[incident_id]
        if state in EVER:
            row[state] = 1
        first, last = FIRST.get(state), LAST.get(state)
        if first and (row[first] is None or at < row[first]):
            row[first] = at
        if last and (row[last] is None or at > row[last]):
            row[last] = at


# a milestone state -> the field of its first entry; of its last; entered at all
FIRST = {
    "accepted": "accepted_at",
    "arrived": "arrived_at",
    "resolved": "first_resolved_at",
    "closed": "closed_at",
}
LAST = {"resolved": "last_resolved_at", "verified": "verified_at"}
EVER = ("reopened", "overdue")


def dispatches_query(start: str, end: str, until: str) -> Select[Any]:
    """Every dispatch record before ``until`` of the cases of ``[start, end)``."""
    first = first_dispatches(start, end)
    d = dispatches.c
    return (
        select(d.incident_id, d.case_id, d.level, d.created_at, d.row_key, d.due_at)
        .select_from(first)
        .join(dispatches, d.incident_id == first.c.incident_id)
        .where(d.created_at < until)
    )


def on_time(row: Mapping[str, Any]) -> bool:
    """Closed, never overdue, and resolved for the last time (else closed) before the due time
    in force then."""
    done = row["last_resolved_at"] or row["closed_at"]
    return bool(row["closed_at"] and not row["overdue"] and row["due_at"] and done < row["due_at"])


def due_and_escalations(row: dict[str, Any], records: list[Any]) -> None:
    """From a case's dispatch records: the due time in force at its final resolve (else close),
    the latest ``due_at`` of the records made by then; and its escalations ``{level: n}``, the
    records after the first one of their case id."""
    done = row["last_resolved_at"] or row["closed_at"]
    dues = [r.due_at for r in records if done is not None and r.created_at <= done]
    row["due_at"] = max(dues) if dues else None
    seen: set[str] = set()
    escalations: dict[str, int] = {}
    for r in sorted(records, key=lambda r: (r.created_at, r.row_key)):
        if r.case_id in seen:
            escalations[r.level] = escalations.get(r.level, 0) + 1
        seen.add(r.case_id)
    row["escalations"] = escalations


def chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def fetched(conn: Connection, query: Select[Any]) -> list[dict[str, Any]]:
    """The rows of ``query`` as dicts (zipped with the keys once: faster than a mapping per row)."""
    result = conn.execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def case_rows(conn: Connection, start: str, end: str, until: str | None) -> list[dict[str, Any]]:
    """The facts of every case of ``[start, end)``, each with ``escalations: {level: n}``: three
    queries, each over all the period's cases at once (not a look-up per case and milestone)."""
    until = until or FOREVER
    rows = fetched(conn, case_facts_query(start, end))
    by_id = {row["incident_id"]: row for row in rows}
    add_milestones(by_id, conn.execute(entries_query(start, end, until)))
    records: dict[str, list[Any]] = {iid: [] for iid in by_id}
    for record in conn.execute(dispatches_query(start, end, until)):
        records[record.incident_id].append(record)
    for row in rows:
        due_and_escalations(row, records[row["incident_id"]])
        row["on_time"] = on_time(row)
    return rows
