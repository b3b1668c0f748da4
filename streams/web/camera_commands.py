"""Operators' commands to a camera's detector on the JSON API.

    POST /api/cameras/{camera_id}/zones/{zone_id}/background   this zone is clean now (202)
    POST /api/cameras/{camera_id}/background                   every zone of the camera (202)

The body is optional: ``{"reason": "…"}``. The command goes to the camera-commands topic
(keyed by camera); the detector reading the camera re-captures the zone's static-object
reference background. Who may call each is declared in the route table (streams/web/api.py).
"""

from __future__ import annotations

import logging

from aiohttp import web

from streams.clients.camera_commands import recapture_command
from streams.contract.errors import CameraCommandError, WebError
from streams.web.bodies import RecaptureBody, parse_body
from streams.web.scope import camera_in_scope
from streams.web.state import STATE_KEY, who

logger = logging.getLogger(__name__)


async def recapture(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    body = await parse_body(request, RecaptureBody) if request.body_exists else RecaptureBody()
    camera_id = request.match_info["camera_id"]
    zone_id = request.match_info.get("zone_id")
    camera = next((c for c in state.cfg.cameras if c.id == camera_id), None)
    if (
        principal.scope is not None
        and camera is not None
        and not camera_in_scope(principal, state.cfg, camera)
    ):
        raise WebError(f"forbidden: camera {camera_id} is not in {principal.scope.describe()}'s scope", 403)
    try:
        command = recapture_command(
            state.cfg,
            camera_id=camera_id,
            zone_id=zone_id,
            requested_by=principal.name,
            reason=body.reason,
            now=state.now(),
        )
    except CameraCommandError as exc:
        raise WebError(str(exc), exc.status) from None
    value = command.to_dict()
    await state.publisher.send(state.topics.camera_commands, camera_id, value)
    logger.info(
        "%s: %s asks to re-capture the background of zone %s (%s)",
        camera_id,
        principal.name,
        zone_id or "(all)",
        command.command_id,
    )
    return web.json_response({"status": "sent", **value}, status=202)
