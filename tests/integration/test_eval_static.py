"""`citywatch eval` of the categories watched through the class-agnostic ``static_object`` label
(piled_materials, exposed_garbage): a box and a garbage bag that are put down and stay must be
found, once each, with no false alarm in any other category of the camera.

Their no-violation counterparts (a box carried through, people who stop, light, shake) are in
test_eval_clips.py and run whether or not the detector produces ``static_object``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..eval_scenes import VIOLATION
from .test_eval_clips import DATA, citywatch_eval, needs

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.mark.parametrize("scene", list(VIOLATION))
def test_an_object_left_in_a_zone_is_found(tmp_path: Path, scene: str) -> None:
    s = VIOLATION[scene]
    assert s.truth is not None
    needs(s.footage.path)
    clip = s.make(tmp_path / f"{scene}.mp4")
    got, out = citywatch_eval(s.camera, clip, DATA / s.truth)
    assert got == {
        "precision": "1",
        "recall": "1",
        "false_per_hour": "0",
        "false_warnings_per_camera_hour": "0",
    }, out
