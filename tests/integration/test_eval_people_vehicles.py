"""`citywatch eval` of people and vehicles that stay, with the real model: a bus that stops in
the lot's no-stopping zone is found (and, a vehicle, opens no piled_materials on the camera that
also watches static objects); a man who stands on the lot's green belt (lawn_trampling, 园林绿化)
past the dwell is found, warned by day and, at night (outside the category's ``warn_hours``),
opened without a warning.

The bus and the man who leave before their dwell are no-violation scenes of test_eval_clips.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..eval_scenes import LAWN, PARKED
from .test_eval_clips import DATA, citywatch_eval, needs

pytestmark = [pytest.mark.integration, pytest.mark.model]

FOUND = {"precision": "1", "recall": "1", "false_per_hour": "0", "false_warnings_per_camera_hour": "0"}
# the clip's first frame in Asia/Shanghai (warn_hours 07:00-21:00 of tests/data/eval-cameras.yaml)
DAY = "2026-05-26T02:00:00Z"  # 10:00
NIGHT = "2026-05-26T15:00:00Z"  # 23:00


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scene = LAWN["lawn_person_stays"]
    needs(scene.footage.path)
    return scene.make(tmp_path_factory.mktemp("lawn") / "lawn_person_stays.mp4")


@pytest.mark.parametrize(("start", "warned"), [(DAY, True), (NIGHT, False)], ids=["day", "night"])
def test_a_person_who_stays_on_the_lawn_is_found_and_warned_only_by_day(
    clip: Path, start: str, warned: bool
) -> None:
    scene = LAWN["lawn_person_stays"]
    assert scene.truth is not None
    got, out = citywatch_eval(scene.camera, clip, DATA / scene.truth, "--start", start)
    assert got == FOUND, out
    assert out.count("person in zone lawn since") == 1, out  # one incident opened
    assert ("LOUDSPEAKER" in out) is warned, out
    assert (" warned " in out) is warned, out
    assert ("no warning: outside the category's warning hours 07:00-21:00" in out) is not warned, out


def test_a_bus_that_stops_in_the_lot_is_found_and_is_no_static_object(tmp_path: Path) -> None:
    scene = PARKED["lot_bus_stops"]
    assert scene.truth is not None
    needs(scene.footage.path)
    got, out = citywatch_eval(scene.camera, scene.make(tmp_path / "lot_bus_stops.mp4"), DATA / scene.truth)
    assert got == FOUND, out
    rows = {
        line.split()[0]: line.split()[1:4]
        for line in out.splitlines()
        if line.startswith(("illegal", "piled"))
    }
    # truth, found, opened
    assert rows == {"illegal_parking": ["1", "1", "1"], "piled_materials": ["0", "0", "0"]}, out
