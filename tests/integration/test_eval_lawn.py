"""`citywatch eval` of people on a lawn (lawn_trampling, 园林绿化) with the real model: a man
who stands on the lot's green belt past the dwell is found; by day the loudspeaker warns him,
at night (outside the category's ``warn_hours``) the incident opens without a warning.

The man who leaves before the dwell is a no-violation scene of test_eval_clips.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..eval_scenes import LAWN
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
