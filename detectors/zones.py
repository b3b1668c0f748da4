"""Zone membership of boxes: normalised polygons, anchors and per-zone filters (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from streams.config import Zone

Box = Sequence[float]  # normalised x1, y1, x2, y2


def anchor_point(box: Box, anchor: str) -> tuple[float, float]:
    """The point of a box that must lie in a zone: bottom centre (where it stands) or centre."""
    x1, y1, x2, y2 = box
    if anchor == "center":
        return (x1 + x2) / 2, (y1 + y2) / 2
    return (x1 + x2) / 2, y2


def point_in_polygon(x: float, y: float, polygon: Sequence[Sequence[float]]) -> bool:
    """Even-odd rule; a point on the bottom or right edge of a zone counts as inside it."""
    inside = False
    n = len(polygon)
    for i in range(n):
        xa, ya = polygon[i][0], polygon[i][1]
        xb, yb = polygon[(i + 1) % n][0], polygon[(i + 1) % n][1]
        if (ya > y) != (yb > y):
            x_cross = xa + (y - ya) * (xb - xa) / (yb - ya)
            if x < x_cross:
                inside = not inside
    if inside:
        return True
    # boxes standing on the frame's bottom edge (y2 == 1.0) must still count
    return any(_on_segment(x, y, polygon[i], polygon[(i + 1) % n]) for i in range(n))


def _on_segment(x: float, y: float, a: Sequence[float], b: Sequence[float], eps: float = 1e-9) -> bool:
    cross = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
    if abs(cross) > eps:
        return False
    return (
        min(a[0], b[0]) - eps <= x <= max(a[0], b[0]) + eps
        and min(a[1], b[1]) - eps <= y <= max(a[1], b[1]) + eps
    )


def box_area(box: Box) -> float:
    x1, y1, x2, y2 = box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def passes_filters(label: str, score: float, box: Box, zone: Zone) -> bool:
    """Whether an object passes ``zone``'s filters (labels, score, area), wherever it is."""
    if zone.labels is not None and label not in zone.labels:
        return False
    if score < zone.min_score:
        return False
    area = box_area(box)
    return zone.min_area <= area <= zone.max_area


def in_zone(label: str, score: float, box: Box, zone: Zone) -> bool:
    """Whether an object counts in ``zone``: its filters pass and its anchor lies inside."""
    if not passes_filters(label, score, box, zone):
        return False
    x, y = anchor_point(box, zone.anchor)
    return point_in_polygon(x, y, zone.polygon)


def zones_of(label: str, score: float, box: Box, zones: Sequence[Zone]) -> list[str]:
    """Ids of the zones the object counts in, in configuration order."""
    return [z.id for z in zones if in_zone(label, score, box, z)]
