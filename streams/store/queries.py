"""The read side of the case record (SQLAlchemy Core; SQLite, PostgreSQL, MySQL/MariaDB).

    incident_history(conn, id)     one incident whole: every event in order, never cut, its
                                   cases with their updates, its evidence paths
    merged_history(events, hist)   those events with a record's history, each entry once
    board_records(conn, …)         what the board starts from: open incidents, the latest
                                   closed ones, their cases and updates, recent decisions
    unit_open_cases(conn, unit)    a patrol unit's open cases, each with its incident's record
    cases_now(conn, case_ids)      the latest record of each case and of its incident

The history search is streams/store/search.py. Everything here reads: nothing writes, creates
or migrates (streams/store/reader.py opens the database for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from streams.contract.timeutil import from_iso, to_iso
from streams.logic.lifecycle import FINAL_STATES, FINISHED_STATES, STATES
from streams.store import schema

CHUNK = 500  # ids per IN (…): well under every dialect's parameter limit

Record = dict[str, Any]


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


# ---------------------------------------------------------------- one incident, whole


@dataclass
class IncidentHistory:
    record: Record  # the newest record of the incident
    events: list[Record]  # {at, state, by, note}: every event the store has seen, in order
    cases: list[Record]  # every case of it, oldest first, each with its "updates" (in order)
    evidence: list[str]  # every evidence path, the record's order first


def event_order(events: Iterable[Record], history: Sequence[Any]) -> list[Record]:
    """Events by time; those of one instant in the order the incident's record lists them, the
    rest (left out of the record) by their place in the lifecycle, then their note."""
    place: dict[tuple[Any, ...], int] = {}
    for i, h in enumerate(history):
        if isinstance(h, dict):
            place.setdefault((h.get("at"), h.get("state"), h.get("by"), h.get("note")), i)
    rank = {s: i for i, s in enumerate(STATES)}

    def key(e: Record) -> tuple[str, int, int, str]:
        at, state = str(e.get("at") or ""), str(e.get("state"))
        where = place.get((e.get("at"), e.get("state"), e.get("by"), e.get("note")), len(history))
        return at, where, rank.get(state, len(rank)), str(e.get("note"))

    return sorted(events, key=key)


def merged_history(events: Iterable[Record], history: Sequence[Any]) -> list[Record]:
    """The stored events and a record's ``history`` as one list in order, each entry once (a
    record read from Kafka may carry entries the store has not written yet)."""
    seen: dict[tuple[Any, ...], Record] = {}
    for h in history:
        if isinstance(h, dict):
            at = _stored_time(h.get("at"))
            seen.setdefault((at, h.get("state"), h.get("by"), h.get("note")), {**h, "at": at})
    for e in events:
        seen.setdefault((e["at"], e["state"], e["by"], e["note"]), e)
    listed = [{**h, "at": _stored_time(h.get("at"))} for h in history if isinstance(h, dict)]
    return event_order(seen.values(), listed)


def _stored_time(value: Any) -> Any:
    """A record's time in the stored format (as the store writes it), else as it is."""
    try:
        return to_iso(from_iso(value))
    except (ValueError, OverflowError, TypeError):
        return value


def incident_history(conn: Connection, incident_id: str) -> IncidentHistory | None:
    """The incident whole, or None when the case record does not hold it."""
    inc, ev, evi = schema.incidents, schema.incident_events, schema.evidence
    row = conn.execute(select(inc.c.record).where(inc.c.incident_id == incident_id)).first()
    if row is None:
        return None
    record = dict(row.record)
    query = select(ev.c.at, ev.c.state, ev.c.actor, ev.c.note).where(ev.c.incident_id == incident_id)
    events = [{"at": r.at, "state": r.state, "by": r.actor, "note": r.note} for r in conn.execute(query)]
    paths = {r.path for r in conn.execute(select(evi.c.path).where(evi.c.incident_id == incident_id))}
    listed = [str(p) for p in record.get("evidence") or []]
    evidence = list(dict.fromkeys(listed + sorted(paths)))
    return IncidentHistory(
        record, event_order(events, record.get("history") or []), _cases_of(conn, incident_id), evidence
    )


def _cases_of(conn: Connection, incident_id: str) -> list[Record]:
    cases = schema.cases
    query = select(cases.c.case_id, cases.c.record).where(cases.c.incident_id == incident_id)
    found = [(r.case_id, dict(r.record)) for r in conn.execute(query.order_by(cases.c.created_at))]
    updates = _updates(conn, [case_id for case_id, _ in found], None)
    return [{**record, "updates": updates.get(case_id, [])} for case_id, record in found]


def _updates(conn: Connection, case_ids: Iterable[str], last: int | None) -> dict[str, list[Record]]:
    """Each case's updates in time order (only its ``last`` ones unless None)."""
    upd = schema.case_updates
    out: dict[str, list[Record]] = {}
    for chunk in _chunks(case_ids):
        query = select(upd.c.case_id, upd.c.record).where(upd.c.case_id.in_(chunk))
        for row in conn.execute(query.order_by(upd.c.at)):
            out.setdefault(row.case_id, []).append(dict(row.record))
    if last is not None:
        for case_id, items in out.items():
            out[case_id] = items[-last:]
    return out


# ---------------------------------------------------------------- the board's start


@dataclass
class BoardRecords:
    """Records to apply to a fresh board, each list in the order to apply it."""

    incidents: list[Record]  # least recently changed first
    cases: list[Record]  # oldest first
    updates: list[Record]  # oldest first
    decisions: list[Record]  # oldest first


def board_records(
    conn: Connection,
    *,
    closed_kept: int,
    max_incidents: int,
    rounds: int,
    updates_per_case: int,
    decisions: int,
) -> BoardRecords:
    """Open incidents (at most ``max_incidents``, the latest changed) and the ``closed_kept``
    latest closed ones; the last ``rounds`` cases of each with their last ``updates_per_case``
    updates; the last ``decisions`` broadcast decisions."""
    inc = schema.incidents
    newest = (inc.c.updated_at.desc(), inc.c.incident_id.desc())
    columns = (inc.c.incident_id, inc.c.updated_at, inc.c.record)
    open_q = select(*columns).where(inc.c.state.not_in(FINAL_STATES)).order_by(*newest)
    closed_q = select(*columns).where(inc.c.state.in_(FINAL_STATES)).order_by(*newest)
    rows = list(conn.execute(open_q.limit(max_incidents)))
    rows += list(conn.execute(closed_q.limit(max(0, closed_kept))))
    rows.sort(key=lambda row: (str(row.updated_at or ""), row.incident_id))
    found = [dict(row.record) for row in rows]
    cases = _latest_cases(conn, [row.incident_id for row in rows], rounds)
    updates = _updates(conn, [str(c["case_id"]) for c in cases], updates_per_case)
    flat = sorted((u for items in updates.values() for u in items), key=lambda u: str(u.get("at") or ""))
    return BoardRecords(found, cases, flat, _decisions(conn, decisions))


def _latest_cases(conn: Connection, incident_ids: list[str], rounds: int) -> list[Record]:
    cases = schema.cases
    by_incident: dict[str, list[tuple[str, Record]]] = {}
    for chunk in _chunks(incident_ids):
        query = select(cases.c.incident_id, cases.c.created_at, cases.c.record)
        for row in conn.execute(query.where(cases.c.incident_id.in_(chunk))):
            by_incident.setdefault(row.incident_id, []).append((str(row.created_at or ""), dict(row.record)))
    kept = [c for items in by_incident.values() for c in sorted(items, key=lambda x: x[0])[-rounds:]]
    return [record for _, record in sorted(kept, key=lambda x: (x[0], str(x[1]["case_id"])))]


def _decisions(conn: Connection, count: int) -> list[Record]:
    d = schema.broadcast_decisions
    query = select(d).order_by(d.c.at.desc(), d.c.row_key.desc()).limit(max(0, count))
    names = ("request_id", "speaker_id", "decision", "reason", "command_id", "source", "requested_by")
    rows = [
        {"v": 1, **{n: getattr(r, n) for n in names}, "incident_id": r.incident_id, "at": r.at}
        for r in conn.execute(query)
    ]
    return rows[::-1]


# ---------------------------------------------------------------- a patrol unit's cases


def case_over(case_id: str, incident: Record | None) -> str | None:
    """Why ``case_id`` is over by its incident's newest record, or None while it is open: the
    incident's state once past the patrol's part, or ``superseded`` when it names another case
    (a reopened incident comes back under a new case id)."""
    if incident is None:
        return None  # the incident's record is not stored yet: its alerts will tell
    state = incident.get("state")
    if state in FINISHED_STATES:
        return str(state)
    return None if incident.get("case_id") in (None, case_id) else "superseded"


def unit_open_cases(
    conn: Connection, unit_id: str, *, limit: int = 10_000
) -> list[tuple[Record, Record | None]]:
    """The cases whose latest dispatch is with ``unit_id`` and which are still open, oldest
    first, each with its incident's newest record (None where not stored yet)."""
    cases, inc = schema.cases, schema.incidents
    query = (
        select(cases.c.case_id, cases.c.record.label("case"), inc.c.record.label("incident"))
        .select_from(cases.outerjoin(inc, inc.c.incident_id == cases.c.incident_id))
        .where(cases.c.unit_id == unit_id)
        .where(or_none_open(inc.c.state))
        .order_by(cases.c.created_at, cases.c.case_id)
        .limit(limit)
    )
    out: list[tuple[Record, Record | None]] = []
    for row in conn.execute(query):
        incident = dict(row.incident) if row.incident is not None else None
        if case_over(row.case_id, incident) is None:
            out.append((dict(row.case), incident))
    return out


def or_none_open(state: Any) -> Any:
    """The incident is not stored (outer join) or not past the patrol's part."""
    return state.is_(None) | state.not_in(FINISHED_STATES)


def cases_now(conn: Connection, case_ids: Iterable[str]) -> list[tuple[Record, Record | None]]:
    """The latest record of each of ``case_ids`` the store holds, with its incident's newest."""
    cases, inc = schema.cases, schema.incidents
    out: list[tuple[Record, Record | None]] = []
    for chunk in _chunks(case_ids):
        query = (
            select(cases.c.record.label("case"), inc.c.record.label("incident"))
            .select_from(cases.outerjoin(inc, inc.c.incident_id == cases.c.incident_id))
            .where(cases.c.case_id.in_(chunk))
        )
        for row in conn.execute(query):
            out.append((dict(row.case), dict(row.incident) if row.incident is not None else None))
    return out
