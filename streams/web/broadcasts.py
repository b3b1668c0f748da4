"""Operators' loudspeaker broadcasts on the JSON API, and the policy's decisions on them.

    GET  /api/broadcasts                  recent policy decisions
    POST /api/broadcasts                  an operator broadcast (202, pending)
    GET  /api/broadcasts/{request_id}     its decision, or pending

Who may call each is declared in the route table (streams/web/api.py). A
broadcast is a request on the broadcast-requests topic; the policy decides it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from streams.config import Config
from streams.contract.errors import WebError
from streams.contract.ids import make_id
from streams.contract.timeutil import to_iso
from streams.web.auth import Principal
from streams.web.board import MAX_DECISIONS
from streams.web.bodies import BroadcastBody, parse_body, query_limit
from streams.web.scope import decision_in_scope, speaker_in_scope
from streams.web.state import STATE_KEY, WebState, out_of_scope, who

logger = logging.getLogger(__name__)

MAX_PENDING = 1000  # broadcast requests remembered while their decisions are awaited


async def list_broadcasts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    limit = query_limit(request.query.get("limit"), default=50, most=500)
    principal = who(request)
    if principal.scope is None:
        return web.json_response({"decisions": state.board.recent_decisions(limit)})
    shown = [d for d in state.board.recent_decisions(MAX_DECISIONS) if _sees(principal, state, d)]
    return web.json_response({"decisions": shown[:limit]})


def _sees(principal: Principal, state: WebState, decision: dict[str, Any]) -> bool:
    incident_id = decision.get("incident_id")
    incident = state.board.incident(str(incident_id)) if incident_id else None
    return decision_in_scope(principal, state.cfg, decision, incident)


async def get_broadcast(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    request_id = request.match_info["request_id"]
    decision = state.board.decisions.get(request_id)
    principal = who(request)
    hidden = decision is None or not _sees(principal, state, decision)
    # a pending request's id is known only to its sender
    if principal.scope is not None and hidden and request_id not in state.pending_broadcasts:
        raise out_of_scope(principal, f"broadcast request {request_id}")
    if decision is not None:
        return web.json_response({"status": decision.get("decision"), **decision})
    if request_id in state.pending_broadcasts:
        return web.json_response({"request_id": request_id, "status": "pending"})
    raise WebError(f"no broadcast request {request_id!r} known to this worker", 404)


def target(cfg: Config, body: BroadcastBody) -> tuple[str, str | None]:
    """The speaker a broadcast goes to, and its camera: from the body's camera or speaker."""
    if bool(body.speaker_id) == bool(body.camera_id):
        raise WebError("name exactly one of speaker_id or camera_id")
    if bool(body.text) == bool(body.template):
        raise WebError("give exactly one of text or template")
    if body.camera_id:
        cam = next((c for c in cfg.cameras if c.id == body.camera_id), None)
        if cam is None:
            known = ", ".join(c.id for c in cfg.cameras)
            raise WebError(f"unknown camera {body.camera_id!r}; one of: {known}")
        if not cam.speaker:
            raise WebError(f"camera {body.camera_id} has no loudspeaker")
        speaker_id: str = cam.speaker
        camera_id: str | None = body.camera_id
    else:
        speaker_id = str(body.speaker_id)
        if speaker_id not in {s.id for s in cfg.speakers}:
            listed = ", ".join(s.id for s in cfg.speakers) or "none"
            raise WebError(f"unknown speaker {speaker_id!r}; one of: {listed}")
        camera_id = next((c.id for c in cfg.cameras if c.speaker == speaker_id), None)
    if body.template and body.template not in cfg.categories:
        raise WebError(f"unknown template {body.template!r}; one of: {', '.join(cfg.categories)}")
    return speaker_id, camera_id


async def send_broadcast(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    body = await parse_body(request, BroadcastBody)
    speaker_id, camera_id = target(state.cfg, body)
    if principal.scope is not None and not speaker_in_scope(principal, state.cfg, speaker_id):
        raise WebError(
            f"forbidden: speaker {speaker_id} has no camera in {principal.scope.describe()}'s scope: "
            "broadcast on a speaker of one of its cameras",
            403,
        )
    stamp = to_iso(state.now())
    request_id = make_id("req", principal.name, speaker_id, stamp, body.text or body.template)
    value: dict[str, Any] = {
        "v": 1,
        "request_id": request_id,
        "speaker_id": speaker_id,
        "text": body.text,
        "template": body.template,
        "requested_by": principal.name,
        "reason": body.reason,
        "force": body.force,
        "camera_id": camera_id,
        "requested_at": stamp,
    }
    state.pending_broadcasts[request_id] = time.monotonic()
    while len(state.pending_broadcasts) > MAX_PENDING:
        state.pending_broadcasts.pop(next(iter(state.pending_broadcasts)))
    try:
        await state.publisher.send(state.topics.broadcast_requests, speaker_id, value)
    except WebError:
        state.pending_broadcasts.pop(request_id, None)  # not sent: no decision will come
        raise
    logger.info("web: %s asks speaker %s to broadcast (%s)", principal.name, speaker_id, request_id)
    return web.json_response({"status": "pending", **value}, status=202)
