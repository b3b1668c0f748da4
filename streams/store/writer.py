"""A contract record as the rows of the case record: pure, no database.

``rows_of(suffix, raw)`` decodes one payload of a topic (the contract boundary) and returns
its rows; a payload that does not decode, or whose values do not fit the tables, raises
``RecordError`` (the role dead-letters it). ``merge`` folds the rows of a batch into one row
per key, the newest where a table is versioned, so one statement per table writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import String, Table

from streams.contract import records as r
from streams.contract.errors import RecordError
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.lifecycle import alert_version
from streams.store import schema

# the topics the store reads (suffixes) and their record types
STORED: dict[str, type[r.Record]] = {
    "alerts": r.Alert,
    "dispatch": r.DispatchCase,
    "dispatch-updates": r.DispatchUpdate,
    "loudspeaker": r.LoudspeakerCommand,
    "loudspeaker-acks": r.LoudspeakerAck,
    "broadcast-decisions": r.BroadcastDecision,
}

_SEEN_SCALE = 1_000_000  # an alert's version: revision, then history seen, in one integer


@dataclass(frozen=True)
class Row:
    table: str
    values: dict[str, Any]

    def key(self) -> Any:
        return tuple(self.values[c.name] for c in schema.metadata.tables[self.table].primary_key)


@lru_cache(maxsize=65_536)  # an alert repeats its history: the same entries, the same keys
def row_key(*parts: str | None) -> str:
    """The digest that keys a row which only accumulates (its identifying fields)."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@lru_cache(maxsize=65_536)
def ts(value: str | None) -> str | None:
    """A contract timestamp in its one stored format (UTC, milliseconds)."""
    return None if value is None else to_iso(from_iso(value))


def _alert(a: r.Alert) -> list[Row]:
    revision, seen, _ = alert_version(a.to_dict())
    incident = {
        "incident_id": a.incident_id,
        "version": revision * _SEEN_SCALE + min(seen, _SEEN_SCALE - 1),
        "revision": revision,
        "state": a.state,
        "category": a.category.key,
        "camera_id": a.camera_id,
        "zone_id": a.zone_id,
        "opened_at": ts(a.opened_at),
        "updated_at": ts(a.updated_at),
        "history_omitted": a.history_omitted,
        "record": a.to_dict(),
    }
    rows = [Row("incidents", incident)]
    for h in a.history:
        at = ts(h.at)
        key = row_key(a.incident_id, at, h.state, h.by, h.note)
        event = {"row_key": key, "incident_id": a.incident_id, "at": at, "state": h.state}
        rows.append(Row("incident_events", {**event, "actor": h.by, "note": h.note}))
    for path in a.evidence:
        rows.append(
            Row(
                "evidence",
                {"row_key": row_key(a.incident_id, path), "incident_id": a.incident_id, "path": path},
            )
        )
    return rows


def _case(c: r.DispatchCase) -> list[Row]:
    version = round(from_iso(c.created_at) * 1000)  # a case's newest dispatch is its latest
    values = {
        "case_id": c.case_id,
        "version": version,
        "incident_id": c.incident_id,
        "unit_id": c.unit_id,
        "grid_id": c.grid_id,
        "state": c.state,
        "level": c.level,
        "created_at": ts(c.created_at),
        "due_at": ts(c.due_at),
        "record": c.to_dict(),
    }
    sent = {k: values[k] for k in ("case_id", "incident_id", "unit_id", "grid_id", "state", "level")}
    sent |= {"created_at": values["created_at"], "due_at": values["due_at"]}
    key = row_key(c.case_id, sent["created_at"], c.unit_id, c.level)
    return [Row("cases", values), Row("case_dispatches", {"row_key": key, **sent})]


def _photos(u: r.DispatchUpdate) -> list[str]:
    extra = u.model_extra or {}
    photos = [extra["photo"]] if isinstance(extra.get("photo"), str) else []
    listed = extra.get("photos")
    if isinstance(listed, list):
        photos += [p for p in listed if isinstance(p, str) and p not in photos]
    return photos


def _update(u: r.DispatchUpdate) -> list[Row]:
    at = ts(u.at)
    key = row_key(u.case_id, u.unit_id, u.status, at, u.note)
    values: dict[str, Any] = {"row_key": key, "case_id": u.case_id, "unit_id": u.unit_id, "status": u.status}
    values |= {"note": u.note, "at": at, "photos": _photos(u), "record": u.to_dict()}
    return [Row("case_updates", values)]


def _command(c: r.LoudspeakerCommand) -> list[Row]:
    values = c.to_dict()
    kept = {k: values[k] for k in ("command_id", "speaker_id", "incident_id", "camera_id", "text")}
    kept |= {"source": c.source, "requested_by": c.requested_by}
    kept |= {"requested_at": ts(c.requested_at), "not_after": ts(c.not_after), "record": values}
    return [Row("loudspeaker_commands", kept)]


def _ack(a: r.LoudspeakerAck) -> list[Row]:
    started, finished = ts(a.started_at), ts(a.finished_at)
    key = row_key(a.command_id, a.status, started, finished, a.reason)
    values: dict[str, Any] = {"row_key": key, "command_id": a.command_id, "speaker_id": a.speaker_id}
    values |= {"incident_id": a.incident_id, "status": a.status, "reason": a.reason}
    return [Row("loudspeaker_acks", {**values, "started_at": started, "finished_at": finished})]


def _decision(d: r.BroadcastDecision) -> list[Row]:
    at = ts(d.at)
    key = row_key(d.request_id, d.decision, at, d.command_id, d.reason)
    values: dict[str, Any] = {"row_key": key, "request_id": d.request_id, "speaker_id": d.speaker_id}
    values |= {"decision": d.decision, "reason": d.reason, "command_id": d.command_id}
    values |= {"source": d.source, "requested_by": d.requested_by, "incident_id": d.incident_id}
    return [Row("broadcast_decisions", {**values, "at": at})]


_MAPPERS: dict[type[r.Record], Callable[[Any], list[Row]]] = {
    r.Alert: _alert,
    r.DispatchCase: _case,
    r.DispatchUpdate: _update,
    r.LoudspeakerCommand: _command,
    r.LoudspeakerAck: _ack,
    r.BroadcastDecision: _decision,
}


def check_fits(row: Row, record: str) -> None:
    """Raise ``RecordError`` naming the field whose text is longer than its column."""
    for name, limit in _limits(row.table):
        value = row.values[name]
        if isinstance(value, str) and len(value) > limit:
            raise RecordError(record, name, f"longer than {limit} characters ({len(value)})")


@cache
def _limits(name: str) -> tuple[tuple[str, int], ...]:
    """The table's text columns of a bounded length, with their length."""
    table: Table = schema.metadata.tables[name]
    return tuple(
        (c.name, c.type.length)
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    )


def rows_of(suffix: str, raw: bytes | str | None) -> list[Row]:
    """The rows of one payload of topic ``suffix``; ``RecordError`` if it cannot be stored."""
    kind = STORED[suffix]
    try:
        rows = _MAPPERS[kind](r.decode(kind, raw))
    except RecordError:
        raise
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp that leaves the calendar
        raise RecordError(kind.__name__, "<payload>", f"cannot be stored ({exc})") from None
    for row in rows:
        check_fits(row, kind.__name__)
    return rows


def merge(rows: Iterable[Row]) -> dict[str, list[dict[str, Any]]]:
    """One row per key and table: the first seen, or the largest version where versioned."""
    kept: dict[str, dict[Any, dict[str, Any]]] = {}
    for row in rows:
        table = kept.setdefault(row.table, {})
        key = row.key()
        order = schema.VERSIONED.get(row.table)
        old = table.get(key)
        if old is None or (order is not None and row.values[order] > old[order]):
            table[key] = row.values
    return {name: list(by_key.values()) for name, by_key in kept.items()}
