"""The facts of the loudspeaker warnings and broadcast decisions of a period, by SQL.

An incident is warned when its history enters ``warned`` (the broadcast policy sent its warning
to the loudspeaker); it belongs to the period of that entry. The warning worked (喊话有效) when
all of these hold, before ``until``:

- the incident closed with the note ``WARNING_WORKED`` (seen clear while warned, before dispatch);
- no ``grace_over`` note since it was warned (the clear came within the grace period);
- the loudspeaker played it (a ``played`` acknowledgement), and the clear came after it started:
  an incident that cleared before its warning played was not cleared by the warning.

A warning's speaker is the loudspeaker of the incident's first automatic command (the warning
itself); a decision's is the one it was asked for.

Broadcast decisions belong to the period of their time (``at``); ``reason_kind`` folds a reason's
details (ids, numbers, hours) away so that decisions group by why they were made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, Subquery, case, exists, func, select

from streams.logic.history_notes import GRACE_OVER_LIKE, WARNING_WORKED
from streams.logic.lifecycle import OPEN_STATES
from streams.reports.case_facts import FOREVER, fetched
from streams.store.schema import broadcast_decisions as decisions
from streams.store.schema import incident_events as events
from streams.store.schema import incidents
from streams.store.schema import loudspeaker_acks as acks
from streams.store.schema import loudspeaker_commands as commands


def _warned(start: str, end: str) -> Subquery:
    """The incidents whose history first entered ``warned`` in ``[start, end)``, and when."""
    e = events
    earlier = events.alias("earlier")
    older = exists().where(
        earlier.c.incident_id == e.c.incident_id, earlier.c.state == "warned", earlier.c.at < e.c.at
    )
    return (
        select(e.c.incident_id, func.min(e.c.at).label("warned_at"))
        .where(e.c.state == "warned", e.c.at >= start, e.c.at < end, ~older)
        .group_by(e.c.incident_id)
        .subquery("warned")
    )


def warning_facts_query(start: str, end: str, until: str | None) -> Select[Any]:
    """One row per incident first warned in ``[start, end)``, with what ``effective`` judges."""
    until = until or FOREVER
    w = _warned(start, end)
    iid, e = w.c.incident_id, events.c
    cleared = select(func.min(e.at)).where(e.incident_id == iid, e.state == "cleared", e.at < until)
    worked = exists().where(e.incident_id == iid, e.state == "closed", e.note == WARNING_WORKED, e.at < until)
    grace_over = exists().where(
        e.incident_id == iid,
        e.state.in_(OPEN_STATES),  # grace runs (and runs out) before any case
        e.at >= w.c.warned_at,
        e.at < until,
        e.note.like(GRACE_OVER_LIKE),
    )
    began = func.coalesce(acks.c.started_at, acks.c.finished_at)
    played = select(func.min(began)).where(
        acks.c.incident_id == iid, acks.c.status == "played", began < until
    )
    speaker = (
        select(commands.c.speaker_id)
        .where(commands.c.incident_id == iid, commands.c.source == "auto")
        .order_by(commands.c.requested_at, commands.c.command_id)
        .limit(1)
    )
    return (
        select(
            iid,
            w.c.warned_at,
            incidents.c.category,
            incidents.c.camera_id,
            cleared.scalar_subquery().label("cleared_at"),
            case((worked, 1), else_=0).label("worked"),
            case((grace_over, 1), else_=0).label("grace_over"),
            played.scalar_subquery().label("played_at"),
            speaker.scalar_subquery().label("speaker_id"),
        )
        .select_from(w)
        .join(incidents, incidents.c.incident_id == iid)
        .order_by(w.c.warned_at, iid)
    )


def effective(row: Mapping[str, Any]) -> bool:
    """The warning worked: closed as ``WARNING_WORKED``, no grace over since the warning, and
    cleared once the loudspeaker had started playing it."""
    played, cleared = row["played_at"], row["cleared_at"]
    return bool(row["worked"] and not row["grace_over"] and played and cleared and played <= cleared)


def decisions_query(start: str, end: str) -> Select[Any]:
    """Every broadcast decision of ``[start, end)`` with its incident's camera and category."""
    d = decisions.c
    return (
        select(d.decision, d.reason, d.at, d.source, d.speaker_id)
        .add_columns(incidents.c.camera_id, incidents.c.category)
        .select_from(decisions)
        .outerjoin(incidents, incidents.c.incident_id == d.incident_id)
        .where(d.at >= start, d.at < end)
        .order_by(d.at)
    )


def warning_rows(conn: Connection, start: str, end: str, until: str | None) -> list[dict[str, Any]]:
    rows = fetched(conn, warning_facts_query(start, end, until))
    for row in rows:
        row["effective"] = effective(row)
    return rows


def decision_rows(conn: Connection, start: str, end: str) -> list[dict[str, Any]]:
    rows = fetched(conn, decisions_query(start, end))
    for row in rows:
        row["reason"] = reason_kind(row["reason"])
    return rows


# from the first detail on: a colon, a quote or bracket, a word with a digit (an id, a time, a
# count), or "with" (what a speaker is busy with)
_DETAIL = re.compile(r"\s*(?:\band\s+)?(?:[:('\"]|\S*\d|\bwith\b).*$", re.DOTALL)
MAX_KIND = 80


def reason_kind(reason: str) -> str:
    """A decision's reason without its details: "rate limit: last broadcast 35s ago, …" is
    "rate limit", "quiet hours 22:00-07:00" is "quiet hours"; an empty one is "(none)"."""
    text = reason.strip()
    kind = _DETAIL.sub("", text).strip(" ;,.")
    return (kind or text or "(none)")[:MAX_KIND]
