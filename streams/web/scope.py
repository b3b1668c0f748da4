"""What a street- or department-scoped token may see and act on (pure).

A token ``viewer:street:ID`` or ``operator:street:ID`` covers the grids of street ID (and
the cameras, sensors and speakers in them); ``dept:ID`` covers the department's categories
across the district (and the cameras whose zones count one of them). Unscoped tokens
(viewer, operator, admin) cover everything. The route handlers call these functions; new
routes (a camera wall, a map, a zone editor) should too:

    camera_in_scope(principal, cfg, camera)        a camera (its grid; a dept: its zones)
    incident_in_scope(principal, cfg, incident)    an incident, case or report row (a dict)
    speaker_in_scope(principal, cfg, speaker_id)   a speaker of an in-scope camera or sensor
    cameras_in_scope(principal, cfg)               the cameras, filtered
    scoped_incidents(principal, cfg, incidents)    the incidents, filtered
    scoped_config(principal, cfg)                  the configuration's cameras, sensors,
                                                   speakers and grids, filtered (the map)

Patrols keep their own rule (their unit's cases: Principal.can_patrol); these functions
answer False for a principal that cannot read the board.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from streams.config import Config
from streams.config.models import Camera, Sensor
from streams.reports.kpis import Facts
from streams.web.auth import Principal, Scope, Scopes, grid_of
from streams.web.board import Board, Event

Item = TypeVar("Item", bound=Mapping[str, Any])


def scopes_of(cfg: Config) -> Scopes:
    """The streets and departments of the configuration as token scopes."""
    grid_units = {g.id: g.unit for g in cfg.grids}
    streets = {
        s.id: Scope(
            "street",
            s.id,
            grids=frozenset(s.grids),
            units=frozenset(
                {*(grid_units[g] for g in s.grids if g in grid_units), *([s.unit] if s.unit else [])}
            ),
        )
        for s in cfg.streets
    }
    departments = {
        d.id: Scope(
            "dept", d.id, categories=frozenset(d.categories), units=frozenset([d.unit] if d.unit else [])
        )
        for d in cfg.departments
    }
    return Scopes(streets, departments)


def camera_in_scope(principal: Principal, cfg: Config, camera: Camera) -> bool:
    """A reader whose scope covers the camera: its grid (a street), a zone counting one of its
    categories (a department)."""
    return _covers(principal, camera.grid, (key for zone in camera.zones for key in zone.categories))


def cameras_in_scope(principal: Principal, cfg: Config) -> list[Camera]:
    return [c for c in cfg.cameras if camera_in_scope(principal, cfg, c)]


def sensor_in_scope(principal: Principal, cfg: Config, sensor: Sensor) -> bool:
    """A reader whose scope covers the sensor: its grid (a street), a sensor rule of its kind
    that opens one of its categories (a department)."""
    return _covers(principal, sensor.grid, (r.category for r in cfg.sensor_rules if r.kind == sensor.kind))


def _covers(principal: Principal, grid: str, categories: Iterable[str]) -> bool:
    """A reader whose scope covers this grid (a street) or one of these categories (a department)."""
    if not principal.can_read:
        return False
    scope = principal.scope
    if scope is None:
        return True
    if scope.kind == "street":
        return grid in scope.grids
    return any(key in scope.categories for key in categories)


def scoped_incidents(principal: Principal, cfg: Config, incidents: Iterable[Item]) -> list[Item]:
    return [inc for inc in incidents if incident_in_scope(principal, cfg, inc)]


def scoped_config(principal: Principal, cfg: Config) -> Config:
    """``cfg`` with only the cameras, sensors, speakers and grids the caller's scope covers (the
    whole of it for an unscoped reader)."""
    if principal.scope is None:
        return cfg
    cameras = cameras_in_scope(principal, cfg)
    sensors = [s for s in cfg.sensors if sensor_in_scope(principal, cfg, s)]
    speakers = [s for s in cfg.speakers if speaker_in_scope(principal, cfg, s.id)]
    used = {c.grid for c in cameras} | {s.grid for s in sensors}
    grids = [
        g
        for g in cfg.grids
        if principal.sees_grid(g.id) and (g.id in used or principal.scope.kind == "street")
    ]
    return cfg.model_copy(
        update={"cameras": cameras, "sensors": sensors, "speakers": speakers, "grids": grids}
    )


def placed(cfg: Config, item: Mapping[str, Any]) -> Mapping[str, Any]:
    """``item`` with its grid from its camera or sensor when it names none itself."""
    if grid_of(item) is not None:
        return item
    subject = item.get("camera_id") or item.get("sensor_id")
    grid = next((c.grid for c in cfg.cameras if c.id == subject), None)
    grid = grid or next((s.grid for s in cfg.sensors if s.id == subject), None)
    return {**item, "grid_id": grid} if grid else item


def incident_in_scope(principal: Principal, cfg: Config, incident: Mapping[str, Any]) -> bool:
    """A reader whose scope covers the incident (a board record, a stored one, a case or a
    report row): its grid (or its camera's or sensor's) and its category."""
    if principal.scope is None:
        return principal.can_read
    return principal.sees(placed(cfg, incident))


def speaker_in_scope(principal: Principal, cfg: Config, speaker_id: str | None) -> bool:
    """A reader whose scope covers a camera (or, for a street, a sensor) of this speaker."""
    if principal.scope is None:
        return principal.can_read
    if any(c.speaker == speaker_id and camera_in_scope(principal, cfg, c) for c in cfg.cameras):
        return True
    return principal.scope.kind == "street" and any(
        s.speaker == speaker_id and principal.sees_grid(s.grid) for s in cfg.sensors
    )


def decision_in_scope(
    principal: Principal, cfg: Config, decision: Mapping[str, Any], incident: Mapping[str, Any] | None
) -> bool:
    """A broadcast decision: by its incident when known, else by its speaker."""
    if principal.scope is None:
        return principal.can_read
    if incident is not None:
        return incident_in_scope(principal, cfg, incident)
    return speaker_in_scope(principal, cfg, decision.get("speaker_id"))


def event_in_scope(principal: Principal, cfg: Config, board: Board, event: Event) -> bool:
    """A live event for a scoped reader: by the incident it belongs to (as the board has it
    now), else by what the event itself says."""
    if principal.scope is None:
        return principal.can_read
    incident_id = event.incident_id or event.data.get("incident_id")
    incident = board.incident(str(incident_id)) if incident_id else None
    if event.kind == "decision":
        return decision_in_scope(principal, cfg, event.data, incident)
    return incident_in_scope(principal, cfg, incident if incident is not None else event.data)


def facts_in_scope(principal: Principal, cfg: Config, facts: Facts) -> Facts:
    """A report's facts kept to a scoped caller's grids or categories (all of them for others)."""
    if principal.scope is None:
        return facts
    cameras = {c.id for c in cameras_in_scope(principal, cfg)}

    def sees(row: Mapping[str, Any]) -> bool:
        return incident_in_scope(principal, cfg, row)

    def decided(row: Mapping[str, Any]) -> bool:
        if row.get("category") or row.get("camera_id"):
            return sees(row)
        return speaker_in_scope(principal, cfg, row.get("speaker_id"))

    return replace(
        facts,
        cases=[r for r in facts.cases if sees(r)],
        warnings=[r for r in facts.warnings if sees(r)],
        decisions=[r for r in facts.decisions if decided(r)],
        outages=[o for o in facts.outages if o.camera_id in cameras],
    )
