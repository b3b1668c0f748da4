"""What the incident logic needs of the configuration, indexed by id.

A subject (a camera or a sensor) or a category the configuration does not name gets
the configuration model's defaults, read from the model itself.
"""

from __future__ import annotations

from typing import Any, Literal

from streams.config import Config
from streams.config.models import Category, Unit
from streams.logic.worktime import SlaClocks

# the warning spoken for a category without its own template
DEFAULT_WARNING = "请注意：此处禁止{name}，请立即整改。"

Timing = Literal["grace_s", "verify_s", "sla_s"]


class ConfigIndex:
    """The configuration's cameras, units, grids and sensors by id, and what follows from them."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.cameras = {c.id: c for c in cfg.cameras}
        self.units = {u.id: u for u in cfg.units}
        self.grids = {g.id: g for g in cfg.grids}
        self.sensors = {s.id: s for s in cfg.sensors}
        self.clocks = SlaClocks(cfg)

    def timing(self, category: str, name: Timing) -> float:
        """A category's grace, verification or SLA seconds (the model's default for an unknown one)."""
        cat = self.cfg.categories.get(category)
        return float(getattr(cat, name) if cat else Category.model_fields[name].default)

    def due_at(self, category: str, at: float) -> float:
        """When a case of ``category`` dispatched (or escalated) at ``at`` is due: its SLA seconds
        on the category's clock (working time or wall)."""
        return self.clocks.of(category).add_working(at, self.timing(category, "sla_s"))

    def unit_level(self, unit_id: str | None) -> str:
        """A unit's level (the model's default for an unknown unit)."""
        unit = self.units.get(unit_id or "")
        return unit.level if unit else str(Unit.model_fields["level"].default)

    def category_ref(self, key: str) -> dict[str, str]:
        cat = self.cfg.categories.get(key)
        return {"key": key, "code": cat.code if cat else "", "name": cat.name if cat else key}

    def location(self, camera_id: str) -> dict[str, Any]:
        """Where a camera (or a sensor: any subject id) is."""
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        if cam is None:
            return {"address": "", "grid_id": None, "lat": None, "lon": None}
        loc = cam.location
        return {
            "address": loc.address,
            "shop": loc.shop,
            "grid_id": cam.grid,
            "lat": loc.lat,
            "lon": loc.lon,
        }

    def grid_unit(self, camera_id: str) -> str | None:
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        grid = self.grids.get(cam.grid) if cam else None
        return grid.unit if grid else None

    def speaker_of(self, subject: str) -> str | None:
        """The loudspeaker of a camera or a sensor, if it has one."""
        found = self.cameras.get(subject) or self.sensors.get(subject)
        return found.speaker if found else None

    def warning_text(self, camera_id: str, category: str) -> str:
        cat = self.cfg.categories.get(category)
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        template = (cat.template if cat else "") or DEFAULT_WARNING
        values = {
            "address": cam.location.address if cam else "",
            "shop": cam.location.shop if cam else "",
            "camera": cam.name if cam and cam.name else camera_id,
            "name": cat.name if cat else category,
        }
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template
