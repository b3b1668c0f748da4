"""OpenVINO's agreement with ONNX Runtime, as the detector bench computes it, on synthetic boxes."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.agreement import Agreement, agreement, matched_count
from detectors.types import Boxes


def boxes(*items: tuple[str, float, float, float, float]) -> Boxes:
    xyxy = np.array([item[1:] for item in items], np.float32).reshape(-1, 4)
    n = len(items)
    return Boxes(xyxy, np.ones(n, np.float32), np.zeros(n, np.float32), tuple(i[0] for i in items))


BUS = ("bus", 0, 0, 100, 100)
PERSON = ("person", 200, 200, 250, 300)

# (case, reference, other, matched)
CASES = [
    ("identical", [BUS, PERSON], [PERSON, BUS], 2),
    ("slightly moved box still matches", [BUS], [("bus", 5, 5, 105, 105)], 1),  # IoU 0.82
    ("same place, other label", [BUS], [("truck", 0, 0, 100, 100)], 0),
    ("IoU just below 0.5", [BUS], [("bus", 0, 0, 100, 201)], 0),  # 100*100 / 100*201
    ("IoU exactly 0.5 counts", [BUS], [("bus", 0, 0, 100, 200)], 1),
    ("missed", [BUS, PERSON], [BUS], 1),
    ("extra detections of the other do not count", [BUS], [BUS, PERSON, PERSON], 1),
    ("one box pairs once", [BUS, ("bus", 2, 2, 102, 102)], [BUS], 1),
    (
        "best pairs first",
        [("person", 0, 0, 10, 20), ("person", 4, 0, 14, 20)],
        [("person", 4, 0, 14, 20), ("person", 0, 0, 10, 20)],
        2,
    ),
    ("nothing found by either", [], [], 0),
]


@pytest.mark.parametrize(("case", "ref", "other", "matched"), CASES, ids=[c[0] for c in CASES])
def test_matched_count(case: str, ref: list, other: list, matched: int) -> None:
    assert matched_count(boxes(*ref), boxes(*other)) == matched


def test_agreement_over_pictures() -> None:
    ref = [boxes(BUS, PERSON), boxes(PERSON), boxes()]
    other = [boxes(BUS), boxes(PERSON), boxes(BUS)]
    result = agreement(ref, other)
    assert result == Agreement(matched=2, total=3)
    assert result.share == pytest.approx(2 / 3)


def test_agreement_with_nothing_to_find_is_full() -> None:
    assert agreement([boxes()], [boxes(BUS)]).share == 1.0


def test_agreement_needs_the_same_pictures() -> None:
    with pytest.raises(ValueError, match="2 reference pictures but 1"):
        agreement([boxes(), boxes()], [boxes()])
