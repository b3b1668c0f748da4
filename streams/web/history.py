"""Incident history on the JSON API, read from the case record (streams/store/).

    GET /api/incidents?from=&to=&q=&page=&per_page=&unit=   (with state, category, grid, camera, open)
        a page of the stored incidents, newest first: {"incidents", "total", "page",
        "per_page", "source": "store"}; any of from, to, q, page, per_page, unit asks the
        store, none of them the live board (streams/web/incidents.py)
    GET /api/incidents/{id}
        the incident as the board shows it (or as the case record keeps it, once it left the
        board), with its whole history from the case record, every case with its updates and
        every evidence path

Queries run in a thread (``asyncio.to_thread``), never on the event loop. A case record that
is absent or does not answer makes a history request 503 with the reason; the live board
keeps working without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import Connection

from streams.contract.errors import QueryError, StoreError, WebError
from streams.store.queries import IncidentHistory, incident_history, merged_history
from streams.store.search import HistorySearch, search
from streams.web.auth import Principal
from streams.web.board import MAX_UPDATES_PER_CASE, incident_view
from streams.web.scope import cameras_in_scope, incident_in_scope
from streams.web.state import STATE_KEY, WebState, out_of_scope, who

T = TypeVar("T")

HISTORY_PARAMS = ("from", "to", "q", "page", "per_page", "unit")
NO_RECORD = (
    "this web has no case record (streams/store): the history needs `citywatch store` and its database"
)


def asks_history(query: Mapping[str, str]) -> bool:
    """Whether a listing asks the case record rather than the live board."""
    return any(query.get(name, "").strip() for name in HISTORY_PARAMS)


async def read_history(state: WebState, read: Callable[[Connection], T]) -> T:
    """``read`` on the case record in a thread; 503 saying why when it cannot answer."""
    if state.history is None:
        raise WebError(f"the incident history is not available: {NO_RECORD}", 503)
    try:
        return await asyncio.to_thread(state.history.run, read)
    except StoreError as exc:
        raise WebError(f"the incident history is not available: {exc}", 503) from None


async def search_incidents(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.query.get("limit", "").strip():
        raise WebError("limit is the live board's; a history search pages with page and per_page (1 to 200)")
    try:
        wanted = within_scope(who(request), state, HistorySearch.from_params(request.query))
    except QueryError as exc:
        raise WebError(str(exc)) from None
    found = await read_history(state, partial(search, s=wanted, updates_per_case=MAX_UPDATES_PER_CASE))
    return web.json_response(
        {
            "incidents": [
                incident_view(f.record, f.case, f.updates, state.evidence_url) for f in found.items
            ],
            "total": found.total,
            "page": found.page,
            "per_page": found.per_page,
            "source": "store",
        }
    )


def within_scope(principal: Principal, state: WebState, wanted: HistorySearch) -> HistorySearch:
    """The search bounded to a scoped caller's grids (and their cameras and sensors) or
    categories; as it is for everyone else."""
    scope = principal.scope
    if scope is None:
        return wanted
    if scope.kind == "dept":
        return replace(wanted, within_categories=tuple(sorted(scope.categories)))
    subjects = [c.id for c in cameras_in_scope(principal, state.cfg)]
    subjects += [s.id for s in state.cfg.sensors if s.grid in scope.grids]
    return replace(wanted, within_grids=tuple(sorted(scope.grids)), within_subjects=tuple(subjects))


async def get_incident(request: web.Request) -> web.Response:
    """One incident. A scoped caller gets the same 403 for an incident outside its scope and
    for one that does not exist, so it cannot learn which ids exist in another street."""
    state = request.app[STATE_KEY]
    principal = who(request)
    incident_id = request.match_info["incident_id"]
    alert = state.board.incident(incident_id)
    stored: IncidentHistory | None = None
    if state.history is not None:
        try:
            stored = await read_history(state, partial(incident_history, incident_id=incident_id))
        except WebError:
            if alert is None:
                raise
    if principal.scope is not None:
        record = alert if alert is not None else stored.record if stored is not None else None
        if record is None or not incident_in_scope(principal, state.cfg, record):
            raise out_of_scope(principal, f"incident {incident_id}")
    if alert is None and stored is None:
        raise WebError(f"no incident {incident_id!r} on the board or in the case record", 404)
    return web.json_response(detail(state, alert, stored))


def detail(state: WebState, alert: dict[str, Any] | None, stored: IncidentHistory | None) -> dict[str, Any]:
    """The incident's view, the board's where it is on the board, with the case record's history."""
    if alert is not None:
        view = state.board.view(alert, state.evidence_url, state.now())
    elif stored is not None:
        case_id = stored.record.get("case_id")
        case = next((c for c in stored.cases if c.get("case_id") == case_id), None)
        updates = (case or {}).get("updates") or []
        plain = {k: v for k, v in case.items() if k != "updates"} if case else None
        view = incident_view(stored.record, plain, updates[-MAX_UPDATES_PER_CASE:], state.evidence_url)
    else:
        raise ValueError("an incident's detail needs its board record or its stored one")
    view["source"] = "board" if alert is not None else "store"
    if stored is None:
        view["history_source"] = "board"
        return view
    record = alert if alert is not None else stored.record
    history = merged_history(stored.events, record.get("history") or [])
    counted = len(record.get("history") or []) + int(record.get("history_omitted") or 0)
    view |= {
        "history": history,
        "history_omitted": max(0, counted - len(history)),  # entries nobody kept
        "history_source": "store",
        "cases": stored.cases,
        "evidence_paths": stored.evidence,
    }
    return view
