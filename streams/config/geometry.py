"""Polygon checks for zones (normalised points) and grid outlines ([lat, lon]): pure geometry."""

from __future__ import annotations

from collections.abc import Sequence


def _segments_cross(
    p1: tuple[float, float], p2: tuple[float, float], p3: tuple[float, float], p4: tuple[float, float]
) -> bool:
    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(p3, p4, p1), orient(p3, p4, p2)
    d3, d4 = orient(p1, p2, p3), orient(p1, p2, p4)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


def self_intersection(points: list[tuple[float, float]]) -> tuple[int, int] | None:
    """Indices of two non-adjacent polygon edges that cross, or None."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


def crossing_problem(points: Sequence[Sequence[float]], edges: str, what: str) -> str | None:
    """``"<edges> edges 0->1 and 2->3 cross each other; list the corners in order around the
    <what>"`` when two edges of the polygon cross, else None."""
    crossing = self_intersection([(p[0], p[1]) for p in points])
    if crossing is None:
        return None
    a, b = crossing
    return (
        f"{edges} edges {a}->{a + 1} and {b}->{(b + 1) % len(points)} cross each other; "
        f"list the corners in order around the {what}"
    )


def inside(point: tuple[float, float], polygon: list[tuple[float, float]]) -> bool:
    """Whether ``point`` lies inside ``polygon`` (even-odd rule; a point on an edge may go either way)."""
    x, y = point
    hit = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit
