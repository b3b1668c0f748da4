"""streets:, departments: and the escalation chain (street -> street_office -> district):
each mistake is reported at its key with what to fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.commands.check import summary
from streams.config import load_config

from ..config_support import Site, cam_a, cam_b, category, parse, problems_for, site, speakers, to_yaml
from ..conftest import REPO


def levels_site() -> Site:
    """Two streets with an office each over a district unit; two departments."""
    b = cam_b(speaker="spk-b") | {"grid": "grid-b"}
    return site(
        categories={k: category(k) for k in ("out_of_store_business", "illegal_parking", "bin_overflow")},
        speakers=speakers(100),
        units=[
            {"id": "unit-a", "level": "street", "escalates_to": "office-n"},
            {"id": "unit-b", "level": "street", "escalates_to": "office-s"},
            {"id": "office-n", "level": "street_office", "escalates_to": "unit-d"},
            {"id": "office-s", "level": "street_office", "escalates_to": "unit-d"},
            {"id": "unit-d", "level": "district"},
        ],
        grids=[{"id": "grid-a", "unit": "unit-a"}, {"id": "grid-b", "unit": "unit-b"}],
        streets=[
            {"id": "north", "name": "北街道", "grids": ["grid-a"], "unit": "office-n"},
            {"id": "south", "name": "南街道", "grids": ["grid-b"], "unit": "office-s"},
        ],
        departments=[
            {"id": "parking", "name": "停车", "categories": ["illegal_parking"]},
            {"id": "shops", "categories": ["out_of_store_business"]},
        ],
        cameras=[cam_a(speaker="spk-a"), b],
    )


def test_the_levels_site_and_the_sample_are_valid() -> None:
    cfg = parse(levels_site())
    assert [s.id for s in cfg.streets] == ["north", "south"]
    sample = load_config(REPO / "cameras.yaml")
    assert {s.name: s.grids for s in sample.streets} == {
        "和平街道": ["grid-hp-01"],
        "兴华街道": ["grid-xh-02"],
    }
    assert {d.name: d.categories for d in sample.departments} == {
        "环卫": ["exposed_garbage", "bin_overflow"],
        "园林": ["lawn_trampling"],
        "环保": ["air_quality", "noise"],
    }
    chain = {u.id: (u.level, u.escalates_to) for u in sample.units}
    assert chain["unit-hp-1"] == ("street", "unit-hp-office")
    assert chain["unit-hp-office"] == ("street_office", "unit-district")


def edited(change: Any) -> str:
    out = copy.deepcopy(levels_site())
    change(out)
    return to_yaml(out)


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(s: Site) -> None:
        target: Any = s
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


CASES: list[tuple[str, Any, str, str]] = [
    (
        "a street's unknown grid",
        _set(("streets", 0, "grids"), ["grid-c"]),
        "streets[0].grids[0]",
        "street north lists grid 'grid-c', which is not defined under grids:",
    ),
    (
        "a grid in two streets",
        _set(("streets", 1, "grids"), ["grid-b", "grid-a"]),
        "streets[1].grids[1]",
        "grid grid-a is in streets north and south; a grid belongs to one street",
    ),
    (
        "a street office of the wrong level",
        _set(("streets", 0, "unit"), "unit-d"),
        "streets[0].unit",
        "office unit unit-d has level district; set level: street_office",
    ),
    (
        "a street's unknown unit",
        _set(("streets", 0, "unit"), "office-x"),
        "streets[0].unit",
        "street north names unit 'office-x'",
    ),
    (
        "a department's unknown category",
        _set(("departments", 0, "categories"), ["illegal_parkng"]),
        "departments[0].categories[0]",
        "did you mean illegal_parking?",
    ),
    (
        "a category owned twice",
        _set(("departments", 1, "categories"), ["illegal_parking"]),
        "departments[1].categories[0]",
        "category illegal_parking is owned by departments parking and shops",
    ),
    (
        "a department's unknown unit",
        _set(("departments", 0, "unit"), "unit-x"),
        "departments[0].unit",
        "department parking names unit 'unit-x'",
    ),
    (
        "escalation to the same level",
        _set(("units", 2, "escalates_to"), "office-s"),
        "units[2].escalates_to",
        "unit office-n (level street_office) escalates to office-s (level street_office): escalation goes up",
    ),
    (
        "escalation in a cycle",
        _set(("units", 4, "escalates_to"), "office-n"),
        "units[2].escalates_to",
        "units escalate in a cycle (office-n -> unit-d -> office-n)",
    ),
    (
        "a grid's unit that skips its street office",
        _set(("units", 0, "escalates_to"), "unit-d"),
        "units[0].escalates_to",
        "grid grid-a is in street north, whose office is unit office-n, but its unit unit-a escalates to "
        "unit-d: set escalates_to: office-n",
    ),
    (
        "a street office that escalates nowhere",
        lambda s: s["units"][3].pop("escalates_to"),
        "units[3]",
        "street office unit office-s escalates nowhere: set escalates_to to a district unit (unit-d)",
    ),
]


@pytest.mark.parametrize(("case", "change", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_mistake_in_the_levels_is_reported_with_its_fix(
    case: str, change: Any, path: str, words: str
) -> None:
    problems = problems_for(edited(change))
    match = [p for p in problems if p.path == path]
    assert match, f"no problem at {path}; got {[str(p) for p in problems]}"
    assert words in match[0].message, str(match[0])
    assert match[0].line is not None


def test_check_prints_the_streets_departments_and_escalation_chains() -> None:
    text = summary(parse(levels_site()), "levels.yaml")
    assert "streets   north [grid-a] office office-n, south [grid-b] office office-s" in text
    assert "depts     parking [illegal_parking], shops [out_of_store_business]" in text
    assert "escalate  unit-a -> office-n -> unit-d; unit-b -> office-s -> unit-d" in text
