"""The camera wall's data: each configured camera with its live picture, zones and open incidents.

The edge detector writes each camera's latest frame and a sidecar beside it
(``<evidence.dir>/live/<camera_id>.jpg`` and ``.json``, detectors/live.py). The
web reads them on each request and judges a camera's status from the sidecar's
age: ``offline`` without one, or when it is older than ``health.status_timeout_s``;
else the detector's own word (``online`` or ``degraded``).

    GET /api/cameras                  every camera (``camera_view``), in configuration order
    GET /api/cameras/{camera_id}      one camera (404: not in the configuration)
    GET /cameras/{camera_id}/live.jpg its live picture (404: none yet), never cached
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from streams.config import Camera, Config
from streams.contract.errors import WebError
from streams.contract.timeutil import from_iso
from streams.logic.lifecycle import FINAL_STATES
from streams.web.scope import cameras_in_scope, scoped_incidents
from streams.web.state import STATE_KEY, WebState, who

logger = logging.getLogger(__name__)

LIVE_DIR = "live"  # under evidence.dir, as detectors/live.py writes it
MAX_SIDECAR_BYTES = 256 * 1024  # a sidecar lists one frame's objects: far less


def camera_status(sidecar: Mapping[str, Any] | None, now: float, timeout_s: float) -> str:
    """online | degraded | offline: offline without a sidecar, with one whose ``captured_at`` is
    missing or unreadable, or older than ``timeout_s`` at ``now``; else its ``status`` (anything
    but online counts as degraded). Pure."""
    if not sidecar:
        return "offline"
    try:
        captured = from_iso(str(sidecar.get("captured_at")))
    except ValueError:
        return "offline"
    if now - captured > timeout_s:
        return "offline"
    return "online" if sidecar.get("status") == "online" else "degraded"


def open_counts(incidents: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Open (not final) incidents per camera id. Pure."""
    counts: dict[str, int] = {}
    for alert in incidents:
        if alert.get("state") in FINAL_STATES or not alert.get("camera_id"):
            continue
        camera_id = str(alert["camera_id"])
        counts[camera_id] = counts.get(camera_id, 0) + 1
    return counts


def zone_view(camera: Camera, cfg: Config) -> list[dict[str, Any]]:
    """A camera's zones as pages draw them: polygons normalised 0..1, and each zone's active
    hours (its own, else those of its categories that set them)."""
    out = []
    for zone in camera.zones:
        hours = zone.active_hours
        if hours is None:
            own = [cfg.categories[k].active_hours for k in zone.categories if k in cfg.categories]
            hours = next((h for h in own if h), None)
        out.append(
            {
                "id": zone.id,
                "name": zone.name,
                "polygon": [list(p) for p in zone.polygon],
                "categories": list(zone.categories),
                "active_hours": hours,
            }
        )
    return out


def camera_view(
    camera: Camera,
    cfg: Config,
    sidecar: Mapping[str, Any] | None,
    *,
    now: float,
    open_incidents: int,
    has_picture: bool,
) -> dict[str, Any]:
    """One camera as the API shows it (pure): configuration, live status, picture link, zones,
    the latest detection's objects and its open incidents. ``snapshot_url`` carries the
    picture's time, so that a new picture is a new URL."""
    status = camera_status(sidecar, now, cfg.health.status_timeout_s)
    snapshot_at = str(sidecar.get("captured_at")) if sidecar and sidecar.get("captured_at") else None
    url = None
    if has_picture:
        url = f"/cameras/{quote(camera.id)}/live.jpg" + (f"?t={quote(snapshot_at)}" if snapshot_at else "")
    objects = sidecar.get("objects") if sidecar else None
    return {
        "id": camera.id,
        "name": camera.name,
        "address": camera.location.address,
        "shop": camera.location.shop,
        "grid": camera.grid,
        "speaker": camera.speaker,
        "lat": camera.location.lat,
        "lon": camera.location.lon,
        "enabled": camera.enabled,
        "status": status,
        "fps": sidecar.get("fps") if sidecar else None,
        "frame_size": sidecar.get("frame_size") if sidecar else None,
        "snapshot_at": snapshot_at,
        "snapshot_url": url,
        "zones": zone_view(camera, cfg),
        "objects": objects if isinstance(objects, list) else [],
        "open_incidents": open_incidents,
    }


# ---------------------------------------------------------------- files


def live_folder(state: WebState) -> Path:
    return state.evidence.root / LIVE_DIR


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """A sidecar's content, or None when it is missing, too big or not a JSON object (a
    half-written file cannot be read here: the detector renames finished ones into place)."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            logger.warning("web: live sidecar %s is over %d bytes; ignored", path, MAX_SIDECAR_BYTES)
            return None
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("web: cannot read live sidecar %s (%s)", path, exc)
        return None
    return data if isinstance(data, dict) else None


def known_camera(cfg: Config, camera_id: str) -> Camera:
    """The configured camera ``camera_id``; 404 naming the cameras there are otherwise."""
    for camera in cfg.cameras:
        if camera.id == camera_id:
            return camera
    known = ", ".join(c.id for c in cfg.cameras) or "none"
    raise WebError(f"no camera {camera_id!r} in the configuration (cameras: {known})", 404)


def _view(state: WebState, camera: Camera, counts: Mapping[str, int]) -> dict[str, Any]:
    folder = live_folder(state)
    return camera_view(
        camera,
        state.cfg,
        read_sidecar(folder / f"{camera.id}.json"),
        now=state.now(),
        open_incidents=counts.get(camera.id, 0),
        has_picture=(folder / f"{camera.id}.jpg").is_file(),
    )


# ---------------------------------------------------------------- handlers


async def list_cameras(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    counts = open_counts(scoped_incidents(principal, state.cfg, state.board.incidents.values()))
    return web.json_response(
        {"cameras": [_view(state, c, counts) for c in cameras_in_scope(principal, state.cfg)]},
        headers={"Cache-Control": "no-store"},
    )


async def get_camera(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    camera = known_camera(state.cfg, request.match_info["camera_id"])
    counts = open_counts(scoped_incidents(who(request), state.cfg, state.board.incidents.values()))
    return web.json_response(_view(state, camera, counts), headers={"Cache-Control": "no-store"})


async def live_picture(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    camera = known_camera(state.cfg, request.match_info["camera_id"])
    try:
        body = (live_folder(state) / f"{camera.id}.jpg").read_bytes()  # whole: it is replaced, not written
    except FileNotFoundError:
        raise WebError(
            f"camera {camera.id} has no live picture yet (is its edge detector running?)", 404
        ) from None
    return web.Response(body=body, content_type="image/jpeg", headers={"Cache-Control": "no-store"})
