"""Zone membership tables: anchors, polygons and per-zone filters."""

from __future__ import annotations

from typing import Any

import pytest

from detectors.zones import anchor_point, point_in_polygon, zones_of
from streams.config import Zone

WALKWAY = [[0.0, 0.55], [0.6, 0.55], [0.6, 1.0], [0.0, 1.0]]
TRIANGLE = [[0.5, 0.1], [0.9, 0.9], [0.1, 0.9]]


def zone(**kw: Any) -> Zone:
    base: dict[str, Any] = {"id": "z", "polygon": WALKWAY, "categories": ["c"]}
    base.update(kw)
    return Zone(**base)


@pytest.mark.parametrize(
    ("x", "y", "polygon", "inside"),
    [
        (0.3, 0.8, WALKWAY, True),
        (0.7, 0.8, WALKWAY, False),
        (0.3, 0.5, WALKWAY, False),
        (0.3, 1.0, WALKWAY, True),  # standing on the frame's bottom edge
        (0.0, 0.8, WALKWAY, True),  # on the left edge
        (0.5, 0.5, TRIANGLE, True),
        (0.2, 0.3, TRIANGLE, False),  # inside the bounding box, outside the triangle
        (0.85, 0.85, TRIANGLE, True),
    ],
)
def test_point_in_polygon(x: float, y: float, polygon: list[list[float]], inside: bool) -> None:
    assert point_in_polygon(x, y, polygon) is inside


def test_anchors() -> None:
    box = [0.2, 0.2, 0.4, 0.6]
    assert anchor_point(box, "bottom_center") == pytest.approx((0.3, 0.6))
    assert anchor_point(box, "center") == pytest.approx((0.3, 0.4))


@pytest.mark.parametrize(
    ("label", "score", "box", "z", "expected"),
    [
        # a chair whose feet stand on the walkway, its top above it
        ("chair", 0.8, [0.1, 0.4, 0.2, 0.7], zone(), ["z"]),
        # same box, centre anchor: centre at y=0.55 is on the edge -> inside
        ("chair", 0.8, [0.1, 0.4, 0.2, 0.7], zone(anchor="center"), ["z"]),
        # centre above the zone
        ("chair", 0.8, [0.1, 0.1, 0.2, 0.7], zone(anchor="center"), []),
        # feet outside (right of the walkway)
        ("chair", 0.8, [0.62, 0.6, 0.8, 0.9], zone(), []),
        # label filter
        ("person", 0.9, [0.1, 0.6, 0.2, 0.9], zone(labels=["chair", "bench"]), []),
        ("bench", 0.9, [0.1, 0.6, 0.2, 0.9], zone(labels=["chair", "bench"]), ["z"]),
        # score filter
        ("chair", 0.3, [0.1, 0.6, 0.2, 0.9], zone(min_score=0.5), []),
        ("chair", 0.5, [0.1, 0.6, 0.2, 0.9], zone(min_score=0.5), ["z"]),
        # size filters (area 0.1 x 0.3 = 0.03)
        ("chair", 0.9, [0.1, 0.6, 0.2, 0.9], zone(min_area=0.05), []),
        ("chair", 0.9, [0.1, 0.6, 0.2, 0.9], zone(max_area=0.02), []),
        ("chair", 0.9, [0.1, 0.6, 0.2, 0.9], zone(min_area=0.02, max_area=0.04), ["z"]),
    ],
)
def test_zone_membership(label: str, score: float, box: list[float], z: Zone, expected: list[str]) -> None:
    assert zones_of(label, score, box, [z]) == expected


def test_object_in_several_zones_lists_each_in_config_order() -> None:
    zones = [
        zone(id="kerb", polygon=[[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]),
        zone(id="walkway"),
        zone(id="far", polygon=[[0, 0], [1, 0], [1, 0.3], [0, 0.3]]),
    ]
    assert zones_of("car", 0.9, [0.45, 0.5, 0.6, 0.8], zones) == ["kerb", "walkway"]
