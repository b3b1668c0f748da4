"""The map's config: grid outlines are sound polygons of [lat, lon] corners (errors), and what
stands in a grid lies inside its outline (warnings of ``citywatch check``: a camera may well watch
across a grid's edge)."""

from __future__ import annotations

from collections.abc import Iterator

from streams.config.geometry import crossing_problem, inside
from streams.config.models import Config
from streams.config.yamlmap import Finding


def verify_grid_polygons(cfg: Config) -> Iterator[Finding]:
    for gi, grid in enumerate(cfg.grids):
        pts = grid.polygon
        if pts is None:
            continue
        loc: tuple[str | int, ...] = ("grids", gi, "polygon")
        where = f"grid {grid.id}"
        if len(pts) < 3:
            yield (
                loc,
                f"{where}: an outline needs at least 3 corners, this one has {len(pts)}; "
                "list them as [lat, lon] pairs in order around the grid",
            )
            continue
        bad = [i for i, (lat, lon) in enumerate(pts) if not (-90 <= lat <= 90 and -180 <= lon <= 180)]
        if bad:
            i = bad[0]
            lat, lon = pts[i]
            swapped = -90 <= lon <= 90 and -180 <= lat <= 180
            hint = " (lat and lon swapped? each corner is [lat, lon])" if swapped else ""
            yield (
                (*loc, i),
                f"{where}: corner {i} {pts[i]} is off the globe: lat must be -90..90 and lon -180..180{hint}",
            )
            continue
        crossing = crossing_problem(pts, "outline", "grid")
        if crossing:
            yield loc, f"{where}: {crossing}"


def map_warnings(cfg: Config) -> list[str]:
    """Cameras and sensors placed outside the outline of the grid they belong to."""
    outlines = {
        g.id: [(p[0], p[1]) for p in g.polygon]
        for g in cfg.grids
        if g.polygon is not None and len(g.polygon) >= 3
    }
    things = [("camera", c.id, c.grid, c.location) for c in cfg.cameras]
    things += [("sensor", s.id, s.grid, s.location) for s in cfg.sensors]
    found = []
    for what, ident, grid, loc in things:
        outline = outlines.get(grid)
        if outline is None or loc.lat is None or loc.lon is None:
            continue
        if not inside((loc.lat, loc.lon), outline):
            found.append(
                f"warning: {what} {ident} at [{loc.lat}, {loc.lon}] lies outside the outline of its "
                f"grid {grid} (grids[].polygon): check its lat/lon or the grid's corners"
            )
    return found
