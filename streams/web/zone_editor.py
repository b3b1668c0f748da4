"""The zone editor: draw and check a camera's zones on its latest picture, and save them.

    GET  /cameras/{camera_id}/zones              the editor page (operators)
    GET  /cameras/{camera_id}/zones/picture.jpg  the camera's latest frame (<evidence.dir>/live/)
    GET  /api/cameras/{camera_id}/zones          its zones as in cameras.yaml, the categories, the
                                                 latest detections (<evidence.dir>/live/ID.json)
    POST /api/cameras/{camera_id}/zones          {"zones": [...], "save": false|true}: the checks of
                                                 ``citywatch check`` on the file with those zones,
                                                 which detections each holds; with save (and
                                                 web.config_writable) the file is written

The file read and written is the one the worker was started with; every request reads it again,
so the editor always starts from what is on disk. Who may call each route is declared in the
route table (streams/web/api.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from pydantic import Field, StrictBool, ValidationError

from detectors.zones import in_zone
from streams.config.camera import Zone
from streams.config.write import save_config_text
from streams.config.zone_check import ZoneCheck, check_zones
from streams.config.zone_yaml import camera_index
from streams.contract.errors import WebError
from streams.web.bodies import Body, parse_body
from streams.web.pages import page
from streams.web.state import STATE_KEY, WebState, who

logger = logging.getLogger(__name__)

LIVE_DIR = "live"
READ_ONLY = "set web.config_writable: true to save from the browser; download the file instead"


class ZonesBody(Body):
    zones: list[Any] = Field(max_length=200)
    save: StrictBool = False


def _camera(state: WebState, camera_id: str) -> None:
    if camera_id not in {c.id for c in state.cfg.cameras}:
        raise WebError(f"no camera {camera_id!r} in the configuration", 404)


def _config_path(state: WebState) -> Path:
    if state.config_path is None:
        raise WebError(
            "this worker was started without a configuration file: zones cannot be edited here", 503
        )
    return state.config_path


def _config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WebError(f"cannot read {path}: {exc}", 503) from None


def _live(state: WebState, camera_id: str, suffix: str) -> Path:
    return Path(state.cfg.evidence.dir) / LIVE_DIR / f"{camera_id}{suffix}"


def live_objects(raw: Any) -> list[dict[str, Any]]:
    """The well-formed objects of a live sidecar ({"objects": [{label, score, box}]}), others left out."""
    objects = raw.get("objects") if isinstance(raw, dict) else None
    out = []
    for obj in objects if isinstance(objects, list) else []:
        if not isinstance(obj, dict):
            continue
        box, label, score = obj.get("box"), obj.get("label"), obj.get("score")
        if (
            isinstance(label, str)
            and isinstance(score, int | float)
            and isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, int | float) for v in box)
        ):
            out.append({"label": label, "score": float(score), "box": [float(v) for v in box]})
    return out


def _read_live(state: WebState, camera_id: str) -> dict[str, Any] | None:
    try:
        raw = json.loads(_live(state, camera_id, ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    size = raw.get("frame_size")
    return {
        "captured_at": raw.get("captured_at"),
        "frame_size": size if isinstance(size, list) and len(size) == 2 else None,
        "objects": live_objects(raw),
    }


def detections_inside(zones: Sequence[Any], objects: Sequence[dict[str, Any]]) -> list[list[int] | None]:
    """Per edited zone, the indexes of the objects that count in it by the detector's rule
    (detectors/zones.py: filters, then the anchor point in the polygon); None for a zone that
    is not valid on its own."""
    out: list[list[int] | None] = []
    for raw in zones:
        try:
            zone = Zone.model_validate(raw)
        except ValidationError:
            out.append(None)
            continue
        if len(zone.polygon) < 3:
            out.append(None)
            continue
        out.append([i for i, o in enumerate(objects) if in_zone(o["label"], o["score"], o["box"], zone)])
    return out


async def zone_editor_page(request: web.Request) -> web.Response:
    _camera(request.app[STATE_KEY], request.match_info["camera_id"])
    return page("zones.html")


async def zone_picture(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    camera_id = request.match_info["camera_id"]
    _camera(state, camera_id)
    path = _live(state, camera_id, ".jpg")
    if not path.is_file():
        raise WebError(
            f"no picture of camera {camera_id} yet: its detector writes {LIVE_DIR}/{camera_id}.jpg under "
            "evidence.dir while it runs",
            404,
        )
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg", "Cache-Control": "no-store"})


async def get_zones(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    camera_id = request.match_info["camera_id"]
    _camera(state, camera_id)
    text = _config_text(_config_path(state))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebError(f"{state.config_path} is not valid YAML now: {exc}", 503) from None
    index = camera_index(data, camera_id)
    if index is None:
        raise WebError(f"camera {camera_id!r} is no longer in {state.config_path}", 404)
    camera = data["cameras"][index]
    zones = camera.get("zones") or []
    categories = data.get("categories") if isinstance(data.get("categories"), dict) else {}
    return web.json_response(
        {
            "camera_id": camera_id,
            "camera_name": camera.get("name") or "",
            "zones": zones,
            "categories": [
                {"key": key, "name": value.get("name", "") if isinstance(value, dict) else ""}
                for key, value in categories.items()
            ],
            "writable": state.cfg.web.config_writable,
            "picture": _live(state, camera_id, ".jpg").is_file(),
            "live": _read_live(state, camera_id),
        }
    )


def _response(check: ZoneCheck, zones: Sequence[Any], live: dict[str, Any] | None) -> dict[str, Any]:
    by_index = detections_inside(zones, live["objects"] if live else [])
    inside = {
        str(z["id"]): found
        for z, found in zip(zones, by_index, strict=True)
        if found is not None and isinstance(z, dict)
    }
    return {
        "ok": check.ok,
        "problems": [p.to_dict() for p in check.problems],
        "zones_yaml": check.zones_yaml,
        "config_yaml": check.config_yaml,
        "inside": inside,
        "inside_by_zone": by_index,
        "saved": False,
        "backup": None,
    }


async def post_zones(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    camera_id = request.match_info["camera_id"]
    _camera(state, camera_id)
    body = await parse_body(request, ZonesBody)
    if body.save and not state.cfg.web.config_writable:
        raise WebError(f"forbidden: {READ_ONLY}", 403)
    path = _config_path(state)
    try:
        check = check_zones(_config_text(path), str(path), camera_id, body.zones)
    except KeyError:
        raise WebError(f"camera {camera_id!r} is no longer in {path}", 404) from None
    out = _response(check, body.zones, _read_live(state, camera_id))
    if body.save and check.ok:
        try:
            backup = save_config_text(path, check.config_yaml)
        except OSError as exc:
            raise WebError(f"cannot write {path}: {exc}", 503) from None
        logger.info("%s: %s saved %d zones to %s", camera_id, who(request).name, len(body.zones), path)
        out |= {"saved": True, "backup": str(backup)}
    return web.json_response(out)
