"""Operators' commands to a camera's detector (pure logic), shared by the web API and the CLI.

``recapture_command`` checks a "this zone is clean now" request against the configuration
and returns the ``citywatch.camera-commands`` record (key: its ``camera_id``); the detector
process that reads the camera (``edge``, ``detect``) then takes the zone's static-object
reference background again. Only a zone that has a category counting ``static_object``
has such a background; asking for another one is refused with the zones that have one.
"""

from __future__ import annotations

from streams.config import Camera, Config
from streams.config.camera import STATIC_LABEL
from streams.config.static import static_zones
from streams.contract.errors import CameraCommandError
from streams.contract.ids import make_id
from streams.contract.records import CameraCommand
from streams.contract.timeutil import to_iso

RECAPTURE = "recapture_background"


def background_zones(cfg: Config, camera: Camera) -> list[str]:
    """The zones of ``camera`` that keep a static-object reference background: those with a
    category counting ``static_object`` (and not narrowed by the zone's own ``labels`` to
    other labels)."""
    return [zone.id for zone in static_zones(cfg, camera)]


def _camera(cfg: Config, camera_id: str) -> Camera:
    cam = next((c for c in cfg.cameras if c.id == camera_id), None)
    if cam is None:
        known = ", ".join(c.id for c in cfg.cameras) or "none"
        raise CameraCommandError(f"unknown camera {camera_id!r}; known cameras: {known}", 404)
    return cam


def recapture_command(
    cfg: Config,
    *,
    camera_id: str,
    zone_id: str | None,
    requested_by: str,
    reason: str,
    now: float,
) -> CameraCommand:
    """The command that re-captures the reference background of ``zone_id`` of ``camera_id``
    (None: every zone of the camera that has one). ``CameraCommandError`` 404 for an unknown
    camera or zone, 409 for a zone (or camera) without a static-object category. The id is
    derived from its inputs, so a redelivered command is recognised."""
    cam = _camera(cfg, camera_id)
    zones = background_zones(cfg, cam)
    if zone_id is not None and zone_id not in {z.id for z in cam.zones}:
        known = ", ".join(z.id for z in cam.zones) or "none"
        raise CameraCommandError(f"camera {camera_id} has no zone {zone_id!r}; its zones: {known}", 404)
    if zone_id is not None and zone_id not in zones:
        cats = next(z.categories for z in cam.zones if z.id == zone_id)
        others = f"; zones of {camera_id} that have one: {', '.join(zones)}" if zones else ""
        raise CameraCommandError(
            f"zone {zone_id} of camera {camera_id} has no reference background to re-capture: none of "
            f"its categories ({', '.join(cats)}) counts the label {STATIC_LABEL!r} (piled materials, "
            f"exposed garbage){others}",
            409,
        )
    if zone_id is None and not zones:
        raise CameraCommandError(
            f"camera {camera_id} has no zone with a reference background to re-capture: no zone has a "
            f"category that counts the label {STATIC_LABEL!r} (piled materials, exposed garbage)",
            409,
        )
    stamp = to_iso(now)
    return CameraCommand(
        command_id=make_id("camcmd", camera_id, zone_id or "*", RECAPTURE, requested_by, stamp),
        camera_id=camera_id,
        zone_id=zone_id,
        action=RECAPTURE,
        requested_by=requested_by,
        reason=reason.strip(),
        requested_at=stamp,
    )
