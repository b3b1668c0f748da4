"""A contract record as the rows of the case record: pure, no database.

``rows_of(suffix, raw)`` decodes one payload of a topic (the contract boundary) and returns
its rows; a payload that does not decode, or whose values do not fit the tables, raises
``RecordError`` (the role dead-letters it). ``Merged`` (``merge``) folds the rows of a batch
into one row per key, the newest where a table is versioned, so one statement per table writes
them.

Where the time goes: an alert carries its incident's history, so a batch holds the same
history entries and evidence paths many times over. Their rows are made and checked once,
cached by the fields that make them (a cached row is shared: it is never changed). A row's
``record`` column holds the decoded record itself; the engine turns it into JSON
(``database.json_text``) once, and only for the rows the merge keeps.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, Integer, String

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
    "camera-commands": r.CameraCommand,
}

_SEEN_SCALE = 1_000_000  # an alert's version: revision, then history seen, in one integer

# per table: its primary key's value(s) of a row, its text columns of a bounded length, and its
# integer columns with the bound of their type (SQL's INTEGER and BIGINT, on every dialect)
_KEY: dict[str, Callable[[dict[str, Any]], Any]] = {
    name: itemgetter(*(c.name for c in table.primary_key)) for name, table in schema.metadata.tables.items()
}
_LIMITS: dict[str, tuple[tuple[str, int], ...]] = {
    name: tuple(
        (c.name, c.type.length)
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    )
    for name, table in schema.metadata.tables.items()
}
_RANGES: dict[str, tuple[tuple[str, int], ...]] = {
    name: tuple(
        (c.name, 2**63 if isinstance(c.type, BigInteger) else 2**31)
        for c in table.columns
        if isinstance(c.type, Integer)
    )
    for name, table in schema.metadata.tables.items()
}


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    values: dict[str, Any]

    def key(self) -> Any:
        """The row's primary key: its value, or a tuple of values where the key has several columns."""
        return _KEY[self.table](self.values)


def checked(table: str, values: dict[str, Any], record: str) -> Row:
    """The row, or ``RecordError`` naming the field whose text is longer than its column or
    whose number is out of its column's range (the database would refuse it; SQLite's driver
    would raise outside its errors)."""
    for name, limit in _LIMITS[table]:
        value = values[name]
        if isinstance(value, str) and len(value) > limit:
            raise RecordError(record, name, f"longer than {limit} characters ({len(value)})")
    for name, bound in _RANGES[table]:
        value = values[name]
        if isinstance(value, int) and not -bound <= value < bound:
            raise RecordError(record, name, f"out of range ({value}; at most {bound - 1})")
    return Row(table, values)


_CACHED_CHARS = 1024  # the caches below keep a result only where its text is this short: bounded memory
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def row_key(*parts: str | None) -> str:
    """The digest that keys a row which only accumulates: sha256 of its identifying fields'
    compact JSON array, the same in every version."""
    try:  # the usual case, all text: spelled as _COMPACT spells it, without its per-call set-up
        text = "[" + ",".join(map(encode_basestring, parts)) + "]"  # type: ignore[arg-type]
    except TypeError:  # a None among them
        text = _COMPACT.encode(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# a contract timestamp already in its stored form (a year before 1000 is not: to_iso does not pad it)
_STORED_FORM = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def ts(value: str | None) -> str | None:
    """A contract timestamp (decoded, so valid) in its one stored format (UTC, milliseconds)."""
    if value is None or _STORED_FORM.fullmatch(value):
        return value
    return to_iso(from_iso(value))


def _event(incident_id: str, at: str, state: str, by: str, note: str) -> Row:
    stored = ts(at)
    values: dict[str, Any] = {"row_key": row_key(incident_id, stored, state, by, note)}
    values["incident_id"] = incident_id
    values |= {"at": stored, "state": state, "actor": by, "note": note}
    return checked("incident_events", values, "Alert")


def _evidence(incident_id: str, path: str) -> Row:
    values = {"row_key": row_key(incident_id, path), "incident_id": incident_id, "path": path}
    return checked("evidence", values, "Alert")


# every later alert of an incident repeats its history and evidence: their rows made once (a
# few times a poll's worth of entries; at most some 50 MB, the fields being checked or short)
_known_event = lru_cache(maxsize=16_384)(_event)
_known_evidence = lru_cache(maxsize=16_384)(_evidence)


def _events(a: r.Alert) -> list[Row]:
    rows = []
    for h in a.history:
        short = len(h.note) + len(h.at) <= _CACHED_CHARS
        rows.append((_known_event if short else _event)(a.incident_id, h.at, h.state, h.by, h.note))
    for path in a.evidence:
        rows.append((_known_evidence if len(path) <= _CACHED_CHARS else _evidence)(a.incident_id, path))
    return rows


def forget() -> None:
    """Empty the mapping's caches, and the contract's of checked timestamps (a benchmark starts cold)."""
    for known in (_known_event, _known_evidence):
        known.cache_clear()
    r.forget_checked()


def _alert(a: r.Alert) -> list[Row]:
    order = {"revision": a.revision, "history": a.history, "history_omitted": a.history_omitted}
    revision, seen, _ = alert_version(order)
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
        "record": a,
    }
    return [checked("incidents", incident, "Alert"), *_events(a)]


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
        "record": c,
    }
    sent = {k: values[k] for k in ("case_id", "incident_id", "unit_id", "grid_id", "state", "level")}
    sent |= {"created_at": values["created_at"], "due_at": values["due_at"]}
    key = row_key(c.case_id, ts(c.created_at), c.unit_id, c.level)
    return [checked("cases", values, "DispatchCase"), Row("case_dispatches", {"row_key": key, **sent})]


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
    values |= {"note": u.note, "at": at, "photos": _photos(u), "record": u}
    return [checked("case_updates", values, "DispatchUpdate")]


def _command(c: r.LoudspeakerCommand) -> list[Row]:
    values: dict[str, Any] = {"command_id": c.command_id, "speaker_id": c.speaker_id}
    values |= {"incident_id": c.incident_id, "camera_id": c.camera_id, "text": c.text}
    values |= {"source": c.source, "requested_by": c.requested_by}
    values |= {"requested_at": ts(c.requested_at), "not_after": ts(c.not_after), "record": c}
    return [checked("loudspeaker_commands", values, "LoudspeakerCommand")]


def _ack(a: r.LoudspeakerAck) -> list[Row]:
    started, finished = ts(a.started_at), ts(a.finished_at)
    key = row_key(a.command_id, a.status, started, finished, a.reason)
    values: dict[str, Any] = {"row_key": key, "command_id": a.command_id, "speaker_id": a.speaker_id}
    values |= {"incident_id": a.incident_id, "status": a.status, "reason": a.reason}
    values |= {"started_at": started, "finished_at": finished}
    return [checked("loudspeaker_acks", values, "LoudspeakerAck")]


def _decision(d: r.BroadcastDecision) -> list[Row]:
    at = ts(d.at)
    key = row_key(d.request_id, d.decision, at, d.command_id, d.reason)
    values: dict[str, Any] = {"row_key": key, "request_id": d.request_id, "speaker_id": d.speaker_id}
    values |= {"decision": d.decision, "reason": d.reason, "command_id": d.command_id}
    values |= {"source": d.source, "requested_by": d.requested_by, "incident_id": d.incident_id}
    return [checked("broadcast_decisions", {**values, "at": at}, "BroadcastDecision")]


def _camera_command(c: r.CameraCommand) -> list[Row]:
    values: dict[str, Any] = {"command_id": c.command_id, "camera_id": c.camera_id, "zone_id": c.zone_id}
    values |= {"action": c.action, "requested_by": c.requested_by, "reason": c.reason}
    return [checked("camera_commands", {**values, "requested_at": ts(c.requested_at)}, "CameraCommand")]


_MAPPERS: dict[type[r.Record], Callable[[Any], list[Row]]] = {
    r.Alert: _alert,
    r.DispatchCase: _case,
    r.DispatchUpdate: _update,
    r.LoudspeakerCommand: _command,
    r.LoudspeakerAck: _ack,
    r.BroadcastDecision: _decision,
    r.CameraCommand: _camera_command,
}


def rows_of(suffix: str, raw: bytes | str | None) -> list[Row]:
    """The rows of one payload of topic ``suffix``; ``RecordError`` if it cannot be stored."""
    kind = STORED[suffix]
    try:
        return _MAPPERS[kind](r.decode(kind, raw))
    except RecordError:
        raise
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp that leaves the calendar
        raise RecordError(kind.__name__, "<payload>", f"cannot be stored ({exc})") from None


class Merged:
    """A batch's rows as they come, one per key and table: the first seen, or the largest
    version where versioned. A row that loses is let go at once (with the record it holds)."""

    def __init__(self) -> None:
        self._kept: dict[str, dict[Any, dict[str, Any]]] = {}

    def add(self, rows: Iterable[Row]) -> None:
        for row in rows:
            table = self._kept.get(row.table)
            if table is None:
                table = self._kept[row.table] = {}
            key = _KEY[row.table](row.values)
            old = table.get(key)
            if old is None:
                table[key] = row.values
                continue
            order = schema.VERSIONED.get(row.table)
            if order is not None and row.values[order] > old[order]:
                table[key] = row.values

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The kept rows of each table, for ``upsert.write``."""
        return {name: list(by_key.values()) for name, by_key in self._kept.items()}


def merge(rows: Iterable[Row]) -> dict[str, list[dict[str, Any]]]:
    """One row per key and table: the first seen, or the largest version where versioned."""
    merged = Merged()
    merged.add(rows)
    return merged.tables()
