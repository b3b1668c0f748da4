"""The map page's data: cameras, sensors, speakers, grid outlines and open incidents by lat/lon.

``map_view`` is pure: the configuration, the board's incidents and what is known of the cameras
in, one JSON object out. What has no coordinates is listed under ``unplaced`` (the page shows it
beside the map), never dropped.

    GET /map       the page (static/map.html, map.js: ``citywatchMap.mount(element, options)``)
    GET /api/map   ``map_view`` of the board now
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from streams.config import Config
from streams.config.models import Camera, Location, Sensor, Speaker
from streams.logic.lifecycle import FINAL_STATES
from streams.web.cameras import camera_status, live_folder, read_sidecar
from streams.web.scope import scoped_config, scoped_incidents
from streams.web.state import STATE_KEY, WebState, who

Item = dict[str, Any]

UNKNOWN = "unknown"  # a camera or sensor whose state the web does not know (drawn neutral)


Entry = tuple[Item, float | None, float | None]  # a feature and its lat, lon (None: not known)


def _split(kind: str, entries: list[Entry], unplaced: list[Item]) -> list[Item]:
    """The features with a lat/lon, placed; the others go to ``unplaced`` with their kind."""
    placed = []
    for item, lat, lon in entries:
        if lat is None or lon is None:
            unplaced.append({"kind": kind, **item})
        else:
            placed.append({**item, "lat": lat, "lon": lon})
    return placed


def _subject_states(cfg: Config, incidents: Iterable[Item]) -> tuple[dict[str, str], dict[str, int]]:
    """From the open incidents: which cameras are offline and sensors stale (their health
    incidents), and how many open incidents each camera or sensor has."""
    health = {cfg.health.offline_category: "offline", cfg.health.stale_category: "stale"}
    states: dict[str, str] = {}
    counts: dict[str, int] = {}
    for inc in incidents:
        subject = _subject(inc)
        if not subject:
            continue
        counts[subject] = counts.get(subject, 0) + 1
        key = (inc.get("category") or {}).get("key")
        if key in health:
            states[subject] = health[key]
    return states, counts


def map_view(
    cfg: Config, incidents: Iterable[Item], camera_status: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The map of ``cfg`` with the open ones of ``incidents`` (board records).

    A camera's ``status`` is ``offline`` while it has an open camera-offline incident, else its
    entry in ``camera_status`` (its last camera-status, where the caller knows it), else
    ``unknown``; a sensor's is ``stale`` while it has an open stale-sensor incident.
    """
    open_incidents = [i for i in incidents if i.get("state") not in FINAL_STATES]
    health, counts = _subject_states(cfg, open_incidents)
    known = camera_status or {}
    unplaced: list[Item] = []
    cameras = _split("camera", [_camera(c, health, known, counts) for c in cfg.cameras], unplaced)
    sensors = _split("sensor", [_sensor(s, health, counts) for s in cfg.sensors], unplaced)
    speakers = _split("speaker", [_speaker(cfg, s) for s in cfg.speakers], unplaced)
    grids = [
        {"id": g.id, "name": g.name, "unit": g.unit, "polygon": [list(p) for p in g.polygon]}
        for g in cfg.grids
        if g.polygon is not None
    ]
    where = {c.id: (c.location.lat, c.location.lon) for c in cfg.cameras}
    where |= {s.id: (s.location.lat, s.location.lon) for s in cfg.sensors}
    latest_first = sorted(open_incidents, key=lambda i: str(i.get("updated_at") or ""), reverse=True)
    placed_incidents = _split("incident", [_incident(i, where) for i in latest_first], unplaced)
    return {
        "tiles": cfg.web.map_tiles,
        "attribution": cfg.web.map_attribution,
        "cameras": cameras,
        "sensors": sensors,
        "speakers": speakers,
        "grids": grids,
        "incidents": placed_incidents,
        "unplaced": unplaced,
        "final_states": list(FINAL_STATES),  # a live incident in one of these leaves the map
    }


def _camera(
    cam: Camera, health: Mapping[str, str], known: Mapping[str, str], counts: Mapping[str, int]
) -> Entry:
    item = {
        "id": cam.id,
        "name": cam.name,
        "address": _address(cam.location),
        "grid": cam.grid,
        "speaker": cam.speaker,
        "status": health.get(cam.id) or known.get(cam.id) or UNKNOWN,
        "open_incidents": counts.get(cam.id, 0),
    }
    return item, cam.location.lat, cam.location.lon


def _sensor(sensor: Sensor, health: Mapping[str, str], counts: Mapping[str, int]) -> Entry:
    item = {
        "id": sensor.id,
        "name": sensor.name,
        "kind": sensor.kind,
        "address": _address(sensor.location),
        "grid": sensor.grid,
        "status": health.get(sensor.id) or (UNKNOWN if sensor.enabled else "disabled"),
        "open_incidents": counts.get(sensor.id, 0),
    }
    return item, sensor.location.lat, sensor.location.lon


def _incident(inc: Item, where: Mapping[str, tuple[float | None, float | None]]) -> Entry:
    """An incident where its record says, else at its camera (or sensor)."""
    marker = incident_marker(inc)
    lat, lon = marker.pop("lat"), marker.pop("lon")
    if lat is None or lon is None:
        lat, lon = where.get(_subject(inc), (None, None))
    return marker, lat, lon


def _speaker(cfg: Config, spk: Speaker) -> Entry:
    """A speaker where its location says, else where the first camera that uses it is."""
    users = [c for c in cfg.cameras if c.speaker == spk.id]
    item: Item = {"id": spk.id, "name": spk.name, "cameras": [c.id for c in users]}
    if spk.location is not None:
        item.update(address=spk.location.address, placed_at=None)
        return item, spk.location.lat, spk.location.lon
    first = next((c for c in users if c.location.lat is not None and c.location.lon is not None), None)
    if first is None:
        item.update(address="", placed_at=None)
        return item, None, None
    item.update(address=_address(first.location), placed_at=first.id)
    return item, first.location.lat, first.location.lon


def incident_marker(inc: Item) -> Item:
    """What the map shows of an incident (the page makes the same of a live ``alert`` event)."""
    loc = inc.get("location") or {}
    category = inc.get("category") or {}
    return {
        "id": inc.get("incident_id"),
        "category": {"key": category.get("key"), "name": category.get("name"), "code": category.get("code")},
        "state": inc.get("state"),
        "lat": loc.get("lat"),
        "lon": loc.get("lon"),
        "address": " · ".join(str(p) for p in (loc.get("shop"), loc.get("address")) if p),
        "grid": loc.get("grid_id"),
        "camera_id": inc.get("camera_id"),
        "sensor_id": inc.get("sensor_id"),
        "opened_at": inc.get("opened_at"),
        "updated_at": inc.get("updated_at"),
    }


def _subject(inc: Item) -> str:
    """The camera or the sensor an incident is about ("" for neither)."""
    return str(inc.get("camera_id") or inc.get("sensor_id") or "")


def _address(loc: Location) -> str:
    return " · ".join(p for p in (loc.shop, loc.address) if p)


async def map_data(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    incidents = scoped_incidents(principal, state.cfg, state.board.incidents.values())
    cfg = scoped_config(principal, state.cfg)
    return web.json_response(map_view(cfg, incidents, live_statuses(state, cfg)))


def live_statuses(state: WebState, cfg: Config) -> dict[str, str]:
    """online / degraded / offline of each camera whose detector has written a live picture's
    sidecar (the camera wall's rule, streams/web/cameras.py); a camera without one is left out."""
    folder, now, timeout = live_folder(state), state.now(), state.cfg.health.status_timeout_s
    out: dict[str, str] = {}
    for camera in cfg.cameras:
        sidecar = read_sidecar(folder / f"{camera.id}.json")
        if sidecar is not None:
            out[camera.id] = camera_status(sidecar, now, timeout)
    return out
