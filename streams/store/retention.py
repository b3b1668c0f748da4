"""Retention of the case record: ``store.retention_days`` after an incident closed (by its
``updated_at``), its row goes with its events, its evidence rows and the evidence files those
rows name (files only; one already gone is fine). Before they go, ``incident_daily`` counts
them: incidents per day of their events, category, camera, zone and state; ``pruned_incidents``
remembers which incidents were counted, so an incident that comes back (a replay) and is
pruned again is not counted twice. ``None`` keeps everything.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update

from streams.contract.timeutil import to_iso
from streams.store.schema import evidence, incident_daily, incident_events, incidents, pruned_incidents

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
CHUNK = 500  # ids per statement: well under every dialect's parameter limit
Key = tuple[str, str, str, str, str]  # day, category, camera_id, zone_id, state


KINDS = ("incidents", "events", "evidence", "files")  # what a prune counts


def summary(pruned: Counter[str]) -> str:
    """``incidents=N events=N evidence=N files=N``."""
    return " ".join(f"{kind}={pruned[kind]}" for kind in KINDS)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _counts(conn: Connection, closed: dict[str, Any]) -> Counter[Key]:
    """Incidents per key among ``closed`` (id -> its row): each counts once per key it reached."""
    seen: set[tuple[Key, str]] = set()
    for row in closed.values():  # its last state on its last day, even without events
        seen.add(
            (
                (row.updated_at[:10], row.category, row.camera_id or "", row.zone_id or "", row.state),
                row.incident_id,
            )
        )
    query = select(incident_events.c.incident_id, incident_events.c.at, incident_events.c.state)
    for ev in conn.execute(query.where(incident_events.c.incident_id.in_(list(closed)))):
        inc = closed[ev.incident_id]
        seen.add(
            ((ev.at[:10], inc.category, inc.camera_id or "", inc.zone_id or "", ev.state), ev.incident_id)
        )
    return Counter(key for key, _ in seen)


def _add(conn: Connection, counts: Counter[Key]) -> None:
    c = incident_daily.c
    for key, n in sorted(counts.items()):
        where = and_(
            *(
                col == value
                for col, value in zip((c.day, c.category, c.camera_id, c.zone_id, c.state), key, strict=True)
            )
        )
        if conn.execute(update(incident_daily).where(where).values(incidents=c.incidents + n)).rowcount == 0:
            day, category, camera, zone, state = key
            values = {"day": day, "category": category, "camera_id": camera, "zone_id": zone, "state": state}
            conn.execute(insert(incident_daily).values(**values, incidents=n))


def _prune_chunk(conn: Connection, rows: dict[str, Any], now: float, pruned: Counter[str]) -> list[str]:
    """Count the chunk's incidents not counted before, delete them; the evidence paths they named."""
    ids = list(rows)
    counted = set(
        conn.scalars(select(pruned_incidents.c.incident_id).where(pruned_incidents.c.incident_id.in_(ids)))
    )
    new = {i: row for i, row in rows.items() if i not in counted}
    if new:
        _add(conn, _counts(conn, new))
        conn.execute(insert(pruned_incidents), [{"incident_id": i, "pruned_at": to_iso(now)} for i in new])
    paths = list(conn.scalars(select(evidence.c.path).where(evidence.c.incident_id.in_(ids))))
    pruned["events"] += conn.execute(
        incident_events.delete().where(incident_events.c.incident_id.in_(ids))
    ).rowcount
    pruned["evidence"] += conn.execute(evidence.delete().where(evidence.c.incident_id.in_(ids))).rowcount
    pruned["incidents"] += conn.execute(incidents.delete().where(incidents.c.incident_id.in_(ids))).rowcount
    return paths


def remove_files(paths: Sequence[str], base: Path) -> int:
    """Delete the files named (relative ones under ``base``); directories and missing files stay."""
    removed = 0
    for name in paths:
        path = base / name
        try:
            if path.is_file():
                path.unlink()
                removed += 1
        except OSError as exc:
            logger.warning("retention: cannot delete %s (%s)", path, exc)
    return removed


def prune(engine: Engine, retention_days: float | None, now: float, base: Path | None = None) -> Counter[str]:
    """Prune what closed more than ``retention_days`` before ``now`` (epoch seconds)."""
    pruned: Counter[str] = Counter()
    if retention_days is None:
        return pruned
    before = to_iso(now - retention_days * DAY_S)
    c = incidents.c
    query = select(c.incident_id, c.category, c.camera_id, c.zone_id, c.state, c.updated_at)
    query = query.where(c.state == "closed", c.updated_at < before).order_by(c.incident_id)
    paths: list[str] = []
    with engine.begin() as conn:
        rows = {row.incident_id: row for row in conn.execute(query)}
        ids = list(rows)
        for chunk in _chunks(ids):
            paths += _prune_chunk(conn, {i: rows[i] for i in chunk}, now, pruned)
    pruned["files"] = remove_files(paths, base or Path.cwd())  # after the commit: a rollback keeps them
    if pruned["incidents"]:
        logger.info("retention: incidents closed before %s pruned: %s", before, summary(pruned))
    return pruned
