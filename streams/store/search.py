"""The incident history search of the case record (SQLAlchemy Core; SQLite, PostgreSQL, MySQL).

``HistorySearch.from_params`` checks what a caller asks for (the ``/api/incidents`` query
parameters) and raises ``QueryError`` naming the parameter and the fix; ``search`` answers one
page, newest first (``updated_at``, then the id), with the total count.

    from, to    a time range on the incidents' events (``incident_events.at``): an incident is
                in it when one of its events (a state change, a note) happened at or after
                ``from`` and before ``to``. ISO-8601 with a timezone (``2026-05-26T02:14:03Z``,
                ``…+08:00``) or a UTC day (``2026-05-26``; as ``to``: to the end of that day)
    category, camera, state   the incident's own
    grid        the incident's location.grid_id
    unit        the unit one of the incident's cases is with (its latest dispatch)
    open        true: not closed
    q           free text, case-insensitive: part of the incident id, its category (key or
                name), its camera, a case id, or a note of one of its events
    page, per_page   1-based page; per_page 1..200 (default 50)

Stored times are the contract's one fixed format (streams/store/schema.py), so a bound in that
format compares as text on every dialect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, literal, or_, select

from streams.contract.errors import QueryError
from streams.contract.params import flag_value
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.lifecycle import FINAL_STATES, STATES
from streams.store import schema

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000  # far past any real paging; bounds the offset a caller can make the database skip
MAX_TEXT = 200
LATEST_EPOCH = 253_402_300_799.0  # 9999-12-31T23:59:59Z: four-digit years keep text order
PARAMS = ("from", "to", "q", "page", "per_page", "unit", "category", "grid", "camera", "state", "open")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class HistorySearch:
    """A checked search: bounds in the stored time format, ``end`` exclusive."""

    start: str | None = None
    end: str | None = None
    category: str | None = None
    grid: str | None = None
    unit: str | None = None
    camera: str | None = None
    state: str | None = None
    open_only: bool = False
    text: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    # a scoped caller's bounds (streams/web/scope.py): these grids or these cameras/sensors;
    # these categories
    within_grids: tuple[str, ...] | None = None
    within_subjects: tuple[str, ...] = ()
    within_categories: tuple[str, ...] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> HistorySearch:
        """The search ``params`` ask for; ``QueryError`` saying what to fix."""
        start = time_bound(params.get("from"), "from", end=False)
        end = time_bound(params.get("to"), "to", end=True)
        if start is not None and end is not None and start >= end:
            raise QueryError(f"from ({start}) must be before to ({end}): swap them or widen the range")
        state = _text(params.get("state"), "state")
        if state is not None and state not in STATES:
            raise QueryError(f"unknown state {state!r}; one of: {', '.join(STATES)}")
        return cls(
            start=start,
            end=end,
            category=_text(params.get("category"), "category"),
            grid=_text(params.get("grid"), "grid"),
            unit=_text(params.get("unit"), "unit"),
            camera=_text(params.get("camera"), "camera"),
            state=state,
            open_only=_flag(params.get("open"), "open"),
            text=_text(params.get("q"), "q"),
            page=_whole(params.get("page"), "page", 1, MAX_PAGE, 1),
            per_page=_whole(params.get("per_page"), "per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
        )


def time_bound(value: str | None, name: str, *, end: bool) -> str | None:
    """``value`` in the stored format: a timestamp with its timezone, or a UTC day (as an
    ``end``: the start of the next day, so the range takes the whole day)."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    fix = f"{name} must be an ISO-8601 time with a timezone (2026-05-26T02:14:03Z) or a day (2026-05-26)"
    try:
        if _DAY.fullmatch(text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            epoch = (day + timedelta(days=1) if end else day).timestamp()
        else:
            epoch = from_iso(text)
    except (ValueError, OverflowError) as exc:
        raise QueryError(f"{fix}, not {text[:60]!r} ({exc})") from None
    if not 0 <= epoch <= LATEST_EPOCH:
        raise QueryError(f"{fix} between 1970 and 9999, not {text[:60]!r}")
    return to_iso(epoch)


def _text(value: str | None, name: str) -> str | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise QueryError(f"{name} is longer than {MAX_TEXT} characters ({len(text)}): shorten it")
    return text


def _flag(value: str | None, name: str) -> bool:
    parsed = flag_value(value)
    if parsed is None:
        raise QueryError(f"{name} must be true or false, not {str(value)[:60]!r}")
    return parsed


def _whole(value: str | None, name: str, least: int, most: int, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise QueryError(
            f"{name} must be a whole number from {least} to {most}, not {value[:60]!r}"
        ) from None
    if not least <= n <= most:
        raise QueryError(f"{name} must be from {least} to {most}, not {n}")
    return n


# ---------------------------------------------------------------- the query


@dataclass
class Found:
    """One incident found: its newest record, its current case and that case's updates."""

    record: dict[str, Any]
    case: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class HistoryPage:
    items: list[Found]
    total: int
    page: int
    per_page: int


def conditions(s: HistorySearch, dialect: str = "sqlite") -> list[ColumnElement[bool]]:
    """The search as conditions on ``incidents`` (for the dialect's own LIKE)."""
    inc, ev, cases = schema.incidents, schema.incident_events, schema.cases
    where: list[ColumnElement[bool]] = []
    if s.start is not None or s.end is not None:
        during = select(ev.c.incident_id)
        if s.start is not None:
            during = during.where(ev.c.at >= s.start)
        if s.end is not None:
            during = during.where(ev.c.at < s.end)
        where.append(inc.c.incident_id.in_(during))
    for column, value in ((inc.c.category, s.category), (inc.c.camera_id, s.camera), (inc.c.state, s.state)):
        if value is not None:
            where.append(column == value)
    if s.grid is not None:
        where.append(inc.c.record[("location", "grid_id")].as_string() == s.grid)
    if s.unit is not None:
        held = select(cases.c.case_id).where(
            cases.c.incident_id == inc.c.incident_id, cases.c.unit_id == s.unit
        )
        where.append(held.exists())
    if s.within_grids is not None:
        grid = inc.c.record[("location", "grid_id")].as_string()
        where.append(or_(grid.in_(s.within_grids), inc.c.camera_id.in_(s.within_subjects)))
    if s.within_categories is not None:
        where.append(inc.c.category.in_(s.within_categories))
    if s.open_only:
        where.append(inc.c.state.not_in(FINAL_STATES))
    if s.text is not None:
        where.append(_mentions(s.text, dialect))
    return where


def _like(column: Any, text: str, dialect: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, case-insensitive. SQLite's LIKE already ignores ASCII case
    (and its lower() knows no other), so it is used as it is there: a third faster."""
    if dialect == "sqlite":
        return column.contains(text, autoescape=True)  # type: ignore[no-any-return]
    return column.icontains(text, autoescape=True)  # type: ignore[no-any-return]


def _mentions(text: str, dialect: str) -> ColumnElement[bool]:
    """The fields free text searches (``%``, ``_`` taken literally). Notes and case ids are
    looked up per incident (correlated EXISTS, on their incident_id index): only for the
    incidents the other conditions left."""
    inc, ev, cases = schema.incidents, schema.incident_events, schema.cases
    noted = select(ev.c.row_key).where(ev.c.incident_id == inc.c.incident_id, _like(ev.c.note, text, dialect))
    cased = select(cases.c.case_id).where(
        cases.c.incident_id == inc.c.incident_id, _like(cases.c.case_id, text, dialect)
    )
    return or_(
        _like(inc.c.incident_id, text, dialect),
        _like(inc.c.category, text, dialect),
        _like(inc.c.camera_id, text, dialect),
        _like(inc.c.record[("category", "name")].as_string(), text, dialect),
        noted.exists(),
        cased.exists(),
    )


def search(conn: Connection, s: HistorySearch, *, updates_per_case: int = 50) -> HistoryPage:
    """One page of the incidents ``s`` finds, newest first, with the total. With conditions the
    total is counted in the same statement (a window count), so they run once; without any, a
    plain count is cheaper than numbering every row."""
    inc = schema.incidents
    where = conditions(s, conn.dialect.name)
    counted = func.count().over() if where else literal(None)
    query = (
        select(inc.c.record, counted.label("total"))
        .where(*where)
        .order_by(inc.c.updated_at.desc(), inc.c.incident_id.desc())
        .limit(s.per_page)
        .offset((s.page - 1) * s.per_page)
    )
    rows = conn.execute(query).all()
    if rows and rows[0].total is not None:
        total = int(rows[0].total)
    elif where and s.page == 1:
        total = 0
    else:  # no conditions, or a page past the end
        total = int(conn.execute(select(func.count()).select_from(inc).where(*where)).scalar_one())
    items = [Found(dict(row.record)) for row in rows]
    _attach_cases(conn, items, updates_per_case)
    return HistoryPage(items, total, s.page, s.per_page)


def _attach_cases(conn: Connection, items: list[Found], updates_per_case: int) -> None:
    """Each item's current case (the one its record names) and that case's latest updates."""
    wanted = {str(f.record["case_id"]) for f in items if f.record.get("case_id")}
    if not wanted:
        return
    cases, upd = schema.cases, schema.case_updates
    found = {
        row.case_id: dict(row.record)
        for row in conn.execute(select(cases.c.case_id, cases.c.record).where(cases.c.case_id.in_(wanted)))
    }
    updates: dict[str, list[dict[str, Any]]] = {}
    query = select(upd.c.case_id, upd.c.record).where(upd.c.case_id.in_(wanted)).order_by(upd.c.at)
    for row in conn.execute(query):
        updates.setdefault(row.case_id, []).append(dict(row.record))
    for item in items:
        case_id = str(item.record.get("case_id") or "")
        item.case = found.get(case_id)
        item.updates = updates.get(case_id, [])[-updates_per_case:]
