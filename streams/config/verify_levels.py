"""Checks of the three levels: streets, departments and the escalation chain of units
(a grid's unit -> its street's office -> the district). Each error names the thing and the fix."""

from __future__ import annotations

from collections.abc import Iterator

from streams.config.levels import LEVEL_RANK
from streams.config.models import Config, Unit
from streams.config.yamlmap import Finding

CHAIN = "street -> street_office -> district"


def _dupes(ids: list[str], section: str, what: str) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in seen:
            yield (
                (section, i, "id"),
                f"duplicate {what} id {ident!r} (also item {seen[ident]}); ids must be unique: rename one",
            )
        seen.setdefault(ident, i)


def verify_streets(cfg: Config) -> Iterator[Finding]:
    from streams.config.verify import undefined  # verify.py imports this module's checks

    yield from _dupes([s.id for s in cfg.streets], "streets", "street")
    grids = [g.id for g in cfg.grids]
    units = {u.id: u for u in cfg.units}
    owner: dict[str, str] = {}
    for si, street in enumerate(cfg.streets):
        for gi, grid in enumerate(street.grids):
            loc = ("streets", si, "grids", gi)
            if grid not in grids:
                yield undefined(loc, f"street {street.id} lists grid", grid, "grids", grids)
            elif grid in owner and owner[grid] != street.id:
                yield (
                    loc,
                    f"grid {grid} is in streets {owner[grid]} and {street.id}; a grid belongs to one "
                    "street: remove it from one of them",
                )
            owner.setdefault(grid, street.id)
        if street.unit is None:
            continue
        unit = units.get(street.unit)
        if unit is None:
            yield undefined(
                ("streets", si, "unit"), f"street {street.id} names unit", street.unit, "units", units
            )
        elif unit.level != "street_office":
            yield (
                ("streets", si, "unit"),
                f"street {street.id}'s office unit {unit.id} has level {unit.level}; set level: "
                "street_office on that unit, or name the street office's own unit",
            )


def verify_departments(cfg: Config) -> Iterator[Finding]:
    from streams.config.verify import undefined

    yield from _dupes([d.id for d in cfg.departments], "departments", "department")
    owner: dict[str, str] = {}
    units = [u.id for u in cfg.units]
    for di, dept in enumerate(cfg.departments):
        for ki, key in enumerate(dept.categories):
            loc = ("departments", di, "categories", ki)
            if key not in cfg.categories:
                yield undefined(loc, f"department {dept.id} owns category", key, "categories", cfg.categories)
            elif key in owner and owner[key] != dept.id:
                yield (
                    loc,
                    f"category {key} is owned by departments {owner[key]} and {dept.id}; a category has one "
                    "owner: remove it from one of them",
                )
            owner.setdefault(key, dept.id)
        if dept.unit is not None and dept.unit not in units:
            yield undefined(
                ("departments", di, "unit"), f"department {dept.id} names unit", dept.unit, "units", units
            )


def _cycle(start: Unit, units: dict[str, Unit]) -> list[str] | None:
    """The ids around a cycle reached from ``start`` (closing on ``start``), or None."""
    path = [start.id]
    current = start
    while current.escalates_to in units:
        nxt = units[current.escalates_to]
        if nxt.id in path:
            return [*path[path.index(nxt.id) :], nxt.id] if nxt.id == start.id else None
        path.append(nxt.id)
        current = nxt
    return None


def verify_unit_escalation(cfg: Config) -> Iterator[Finding]:
    """escalates_to names a defined unit one level up (street -> street_office -> district),
    never in a cycle; a grid's unit in a street with an office escalates to that office."""
    from streams.config.verify import undefined

    units = {u.id: u for u in cfg.units}
    has_district = any(u.level == "district" for u in cfg.units)
    for ui, unit in enumerate(cfg.units):
        loc = ("units", ui, "escalates_to")
        target = unit.escalates_to
        if target is None:
            if unit.level == "street_office" and has_district:
                yield (
                    ("units", ui),
                    f"street office unit {unit.id} escalates nowhere: set escalates_to to a district unit "
                    f"({', '.join(u.id for u in cfg.units if u.level == 'district')})",
                )
            continue
        if target not in units:
            yield undefined(loc, f"unit {unit.id} escalates to", target, "units", units)
        elif target == unit.id:
            yield loc, f"unit {unit.id} escalates to itself; name another unit"
        elif (ring := _cycle(unit, units)) is not None:
            yield (
                loc,
                f"units escalate in a cycle ({' -> '.join(ring)}); the chain must end at a district unit",
            )
        elif LEVEL_RANK[units[target].level] <= LEVEL_RANK[unit.level]:
            yield (
                loc,
                f"unit {unit.id} (level {unit.level}) escalates to {target} (level {units[target].level}): "
                f"escalation goes up a level ({CHAIN}); name a unit above {unit.level} or fix the levels",
            )
    yield from _grid_units_escalate_to_office(cfg, units)


def _grid_units_escalate_to_office(cfg: Config, units: dict[str, Unit]) -> Iterator[Finding]:
    street_of = {g: s for s in cfg.streets for g in s.grids}
    told: set[str] = set()
    for grid in cfg.grids:
        street = street_of.get(grid.id)
        unit = units.get(grid.unit)
        if street is None or street.unit is None or unit is None or street.unit not in units:
            continue
        if unit.id == street.unit or unit.escalates_to == street.unit or unit.id in told:
            continue
        told.add(unit.id)
        yield (
            ("units", cfg.units.index(unit), "escalates_to"),
            f"grid {grid.id} is in street {street.id}, whose office is unit {street.unit}, but its unit "
            f"{unit.id} escalates to {unit.escalates_to or 'nobody'}: set escalates_to: {street.unit}",
        )
