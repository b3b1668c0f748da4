"""Check one camera's edited zones as ``citywatch check`` would (pure: text in, findings out).

The whole configuration is rebuilt with that camera's zones replaced (streams/config/zone_yaml.py)
and parsed by ``parse_config``: the same model validation and ``verify_*`` checks as
``citywatch check --no-model``. Each problem is tied to the zone (its index in the edited list)
and the field it is about, so the zone editor shows it beside that polygon.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from streams.config.load import parse_config
from streams.config.models import Config
from streams.config.zone_yaml import ZoneData, camera_index, replace_zones, zones_block
from streams.contract.errors import ConfigError, ConfigProblem

_ZONE_PATH = re.compile(r"^cameras\[(\d+)\]\.zones(?:\[(\d+)\](?:\.([A-Za-z_]+))?)?")


@dataclass(frozen=True)
class ZoneProblem:
    """A problem of the edited zones: which zone (index, or None: the camera or the file), its id,
    the field and what to do."""

    zone: int | None
    zone_id: str | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"zone": self.zone, "zone_id": self.zone_id, "field": self.field, "message": self.message}


@dataclass
class ZoneCheck:
    """What checking a camera's edited zones found: the problems, its ``zones:`` YAML, the whole
    updated file, and the parsed configuration when there is no problem."""

    problems: list[ZoneProblem] = field(default_factory=list)
    zones_yaml: str = ""
    config_yaml: str = ""
    cfg: Config | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def zone_problem(problem: ConfigProblem, camera: int, zones: Sequence[Any]) -> ZoneProblem:
    """A config problem tied to the edited zone its key path names (else to no zone)."""
    match = _ZONE_PATH.match(problem.path)
    if match is None or int(match.group(1)) != camera or match.group(2) is None:
        where = f"line {problem.line}: " if problem.line else ""
        return ZoneProblem(None, None, problem.path or None, f"{where}{problem.message}")
    index = int(match.group(2))
    zone = zones[index] if index < len(zones) else None
    zone_id = zone.get("id") if isinstance(zone, dict) else None
    return ZoneProblem(index, str(zone_id) if zone_id is not None else None, match.group(3), problem.message)


def _shape_problems(zones: Sequence[Any]) -> list[ZoneProblem]:
    return [
        ZoneProblem(i, None, None, f"zone {i} is not an object: send {{id, polygon, categories, ...}}")
        for i, zone in enumerate(zones)
        if not isinstance(zone, dict)
    ]


def check_zones(text: str, file: str, camera_id: str, zones: Sequence[Any]) -> ZoneCheck:
    """Check cameras.yaml ``text`` with camera ``camera_id``'s zones replaced by ``zones``.

    Raises ``KeyError`` when the camera is not in the file."""
    shape = _shape_problems(zones)
    if shape:
        return ZoneCheck(problems=shape)
    plain: list[ZoneData] = [dict(z) for z in zones]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return ZoneCheck(problems=[ZoneProblem(None, None, None, f"{file} is not valid YAML: {exc}")])
    index = camera_index(data, camera_id)
    if index is None:
        raise KeyError(camera_id)
    updated = replace_zones(text, camera_id, plain)
    out = ZoneCheck(zones_yaml=zones_block(plain), config_yaml=updated)
    try:
        out.cfg = parse_config(updated, file)
    except ConfigError as exc:
        out.problems = [zone_problem(p, index, plain) for p in exc.problems]
        out.problems += _problems_of_the_others(text, file, camera_id, index, plain, out.problems)
    return out


def _problems_of_the_others(
    text: str, file: str, camera_id: str, index: int, zones: list[ZoneData], found: list[ZoneProblem]
) -> list[ZoneProblem]:
    """The checks again without the zones that have problems: when a zone does not validate,
    ``parse_config`` stops before the cross-reference checks, which would then find the other
    zones' problems (duplicate ids, polygons) only on the next round."""
    bad = {p.zone for p in found if p.zone is not None}
    kept = [i for i in range(len(zones)) if i not in bad]
    if not bad or not kept:
        return []
    try:
        parse_config(replace_zones(text, camera_id, [zones[i] for i in kept]), file)
    except ConfigError as exc:
        more = [zone_problem(p, index, [zones[i] for i in kept]) for p in exc.problems]
        return [
            ZoneProblem(kept[p.zone], p.zone_id, p.field, p.message)
            for p in more
            if p.zone is not None and kept[p.zone] not in bad
        ]
    return []
