"""The board's incidents and the patrols' cases on the JSON API.

    GET  /api/incidents                   ?state=&category=&grid=&camera=&open=&limit= with counts
                                          (with from, to, q, page, per_page or unit: the case
                                          record's history, streams/web/history.py)
    POST /api/incidents/{id}/actions      acknowledge | confirm | dispatch | close
    GET  /api/units/{unit}/cases          a unit's open cases
    POST /api/cases/{case_id}/updates     accepted | arrived | resolved | rejected

Who may call each is declared in the route table (streams/web/api.py). An action
or an update is checked against the board, then sent to the worker's topics (202).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from streams.contract.errors import WebError
from streams.contract.timeutil import to_iso
from streams.logic.lifecycle import FINAL_STATES
from streams.logic.lifecycle import OPEN_STATES as DISPATCHABLE  # an operator may dispatch an open incident
from streams.web.auth import Principal
from streams.web.board import Filters
from streams.web.bodies import ActionBody, UpdateBody, filters_from, parse_body, photo_bytes, query_limit
from streams.web.history import asks_history, search_incidents
from streams.web.scope import incident_in_scope, placed
from streams.web.state import STATE_KEY, WebState, known_unit, out_of_scope, who

logger = logging.getLogger(__name__)

PHOTO_STATUSES = frozenset({"arrived", "resolved"})


# ---------------------------------------------------------------- reading


async def list_incidents(request: web.Request) -> web.Response:
    if asks_history(request.query):
        return await search_incidents(request)
    state = request.app[STATE_KEY]
    within = scoped_filter(who(request), state)
    filters = replace(filters_from(request.query, state.cfg), within=within)
    limit = query_limit(request.query.get("limit"))
    found = state.board.query(filters)
    now = state.now()
    return web.json_response(
        {
            "incidents": [state.board.view(a, state.evidence_url, now) for a in found[:limit]],
            "total": len(found),
            "counts": state.board.counts(filters),
            "all_counts": state.board.counts(Filters(within=within) if within else None),
        }
    )


def scoped_filter(principal: Principal, state: WebState) -> Callable[[dict[str, Any]], bool] | None:
    """For a scoped caller, whether an incident is in its scope; None for everyone else."""
    if principal.scope is None:
        return None
    return lambda alert: incident_in_scope(principal, state.cfg, alert)


async def unit_cases(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    unit_id = request.match_info["unit"]
    known_unit(state, unit_id)
    cases = state.board.unit_cases(unit_id)
    within = scoped_filter(who(request), state)
    if within is not None:
        cases = [a for a in cases if within(a)]
    now = state.now()
    return web.json_response(
        {"unit_id": unit_id, "cases": [state.board.view(a, state.evidence_url, now) for a in cases]}
    )


# ---------------------------------------------------------------- acting on incidents


def action_refusal(incident_id: str, alert: dict[str, Any], body: ActionBody) -> WebError | None:
    """Why ``body.action`` cannot be taken on the incident as the board has it, or None."""
    current = str(alert.get("state"))
    if current in FINAL_STATES:
        return WebError(f"incident {incident_id} is {current}: nothing to do", 409)
    if body.action == "close" and not body.reason:
        return WebError("closing an incident needs a reason")
    if body.action == "confirm" and not (alert.get("review") and current in DISPATCHABLE):
        return WebError(
            f"incident {incident_id} does not wait for review (it is {current}): nothing to confirm", 409
        )
    if body.action == "dispatch" and current not in DISPATCHABLE:
        return WebError(
            f"incident {incident_id} is already {current}: it can be dispatched only when open or warned", 409
        )
    return None


async def incident_action(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    incident_id = request.match_info["incident_id"]
    body = await parse_body(request, ActionBody)
    alert = state.board.incident(incident_id)
    if principal.scope is not None and (
        alert is None or not principal.can_operate_on(placed(state.cfg, alert))
    ):
        raise out_of_scope(principal, f"incident {incident_id}")
    if alert is None:
        raise WebError(f"no incident {incident_id!r} on the board", 404)
    refusal = action_refusal(incident_id, alert, body)
    if refusal is not None:
        raise refusal
    # the worker keeps an incident under its subject: the sensor of a sensor incident, else the camera
    subject = alert.get("sensor_id") or alert.get("camera_id")
    if not subject:
        raise WebError(
            f"incident {incident_id} names neither a camera nor a sensor: it cannot be acted on", 409
        )
    value = {
        "kind": "operator",
        "incident_id": incident_id,
        "action": body.action,
        "by": principal.name,
        "reason": body.reason,
        "at": to_iso(state.now()),
    }
    await state.publisher.send(state.topics.incident_inputs, str(subject), value)
    logger.info("web: %s %s incident %s", principal.name, body.action, incident_id)
    return web.json_response({"accepted": True, **value}, status=202)


# ---------------------------------------------------------------- patrols' case updates


def reports_on_case(principal: Principal, request: web.Request) -> bool:
    """The case's own patrol, or an admin (checked before the lookup: a 404 would tell which cases exist)."""
    return principal.can_patrol(request.app[STATE_KEY].board.case_unit(request.match_info["case_id"]))


def _save_photo(state: WebState, case_id: str, photo: str, stamp: str) -> str:
    """Keep an update's photo as evidence of the case; its path."""
    quota = state.cfg.web.max_photos_per_case
    if state.evidence.photo_count(case_id) >= quota:
        raise WebError(
            f"case {case_id} already has {quota} photos (web.max_photos_per_case): "
            "send this update without the photo",
            409,
        )
    max_bytes = int(state.cfg.web.max_photo_mb * 1024 * 1024)
    data = photo_bytes(photo, max_bytes)
    if len(data) > max_bytes:
        raise WebError(f"photo is larger than {state.cfg.web.max_photo_mb:g} MB", 413)
    return state.evidence.save_photo(case_id, data, stamp)


async def case_update(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    case_id = request.match_info["case_id"]
    unit_id = state.board.case_unit(case_id)
    if unit_id is None:
        raise WebError(f"no case {case_id!r} on the board", 404)
    body = await parse_body(request, UpdateBody)
    if body.photo and body.status not in PHOTO_STATUSES:
        raise WebError(
            f"a photo goes only with an arrived or resolved update, not {body.status}: "
            "send this update without the photo"
        )
    alert = state.board.by_case(case_id)
    if alert is not None and alert.get("state") in FINAL_STATES:
        raise WebError(f"case {case_id} is closed", 409)
    stamp = to_iso(state.now())
    value: dict[str, Any] = {
        "v": 1,
        "case_id": case_id,
        "unit_id": unit_id,
        "status": body.status,
        "note": body.note,
        "at": stamp,
        "by": principal.name,
    }
    if body.photo:
        value["photo"] = _save_photo(state, case_id, body.photo, stamp)
        value["note"] = f"{body.note} (photo attached)".strip()
    await state.publisher.send(state.topics.dispatch_updates, case_id, value)
    logger.info("web: %s reports case %s %s", principal.name, case_id, body.status)
    return web.json_response({"accepted": True, **value}, status=202)
