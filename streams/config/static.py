"""Which zones count the detector's class-agnostic ``static_object`` label (and so keep a
reference background for it): one answer for the detector, the board and the command line."""

from __future__ import annotations

from streams.config.camera import STATIC_LABEL, Camera, Zone
from streams.config.models import Config


def static_zones(cfg: Config, camera: Camera) -> list[Zone]:
    """The camera's zones that count the ``static_object`` label (through a category, and the
    zone's own label filter)."""
    out = []
    for zone in camera.zones:
        labels = {
            lab for key in zone.categories if key in cfg.categories for lab in cfg.categories[key].labels
        }
        if zone.labels is not None:
            labels &= set(zone.labels)
        if STATIC_LABEL in labels:
            out.append(zone)
    return out
