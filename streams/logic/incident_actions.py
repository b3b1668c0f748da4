"""What the incident logic does to an incident: publish it, dispatch and escalate its case,
ask for its warning, close it. Each takes the incident, the event time and the list of
effects to add to (``streams.logic.incidents`` decides when).
"""

from __future__ import annotations

from typing import Any

from streams.config.models import Category
from streams.config.timerange import in_range
from streams.contract.ids import make_id
from streams.contract.records import Alert, DispatchCase
from streams.contract.timeutil import to_iso
from streams.logic.history_notes import CLEARED_BEFORE_ACTION, WARNING_WORKED, escalated
from streams.logic.incident_book import (
    HISTORY_HEAD,
    HISTORY_TAIL,
    MAX_CLOSED_REMEMBERED,
    MAX_EVIDENCE,
    Book,
    Effect,
    Incident,
    bound_history,
)
from streams.logic.incident_config import ConfigIndex
from streams.logic.lifecycle import OPEN_STATES
from streams.logic.rules import minute_of_day


def transition(
    inc: Incident, at: float, state: str, by: str, note: str, effects: list[Effect], ctx: ConfigIndex
) -> None:
    """Record one history entry (a state change or a decision) and publish the incident."""
    inc.state = state
    inc.updated_at = max(inc.updated_at, at)
    inc.history.append({"at": to_iso(at), "state": state, "by": by, "note": note})
    bound_history(inc, HISTORY_HEAD, HISTORY_TAIL)
    publish(inc, ctx, effects)


def publish(inc: Incident, ctx: ConfigIndex, effects: list[Effect]) -> None:
    inc.revision += 1
    effects.append(Effect("alert", inc.incident_id, alert_record(inc, ctx)))


def alert_record(inc: Incident, ctx: ConfigIndex) -> dict[str, Any]:
    """The whole incident as an alerts-topic record (contract v1, with extras)."""
    fields = {
        "v": 1,
        "incident_id": inc.incident_id,
        "category": ctx.category_ref(inc.category),
        "camera_id": inc.camera_id or None,
        "zone_id": inc.zone_id or None,
        "sensor_id": inc.sensor_id,
        "location": ctx.location(inc.subject),
        "state": inc.state,
        "opened_at": to_iso(inc.opened_at),
        "updated_at": to_iso(inc.updated_at),
        "evidence": list(inc.evidence),
        "history": list(inc.history),
        "history_omitted": inc.history_omitted,
        "revision": inc.revision,
        "labels": list(inc.labels),
        "case_id": inc.case_id,
        "unit_id": inc.unit_id,
        "level": inc.level,
        "due_at": to_iso(inc.due_at) if inc.due_at is not None else None,
        "rework": inc.rework,
        "warnings": inc.warnings,
        "held": inc.held,
        "review": inc.review,
        "frames_seen": inc.frames_seen,
        "frames": inc.frames,
        "scores": dict(inc.scores),
    }
    return Alert.written(fields)


def close(book: Book, inc: Incident, effects: list[Effect]) -> None:
    book.open.pop(inc.key, None)
    book.closed = [*book.closed, inc.incident_id][-MAX_CLOSED_REMEMBERED:]
    # every case round of the incident is over: the case index may forget them
    for n in range(1, inc.round + 1):
        case_id = make_id("case", inc.incident_id, n)
        effects.append(Effect("case", case_id, {"kind": "closed", "incident_id": inc.incident_id}))


def merge_evidence(inc: Incident, evidence: list[str] | tuple[str, ...]) -> bool:
    new = [e for e in evidence if e and e not in inc.evidence]
    if not new:
        return False
    inc.evidence = [*inc.evidence, *new][-MAX_EVIDENCE:]
    return True


def dispatch(inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], note: str) -> None:
    """Open a new case round for the grid's unit."""
    unit_id = ctx.grid_unit(inc.subject)
    inc.grace_until = None
    if unit_id is None:
        transition(
            inc,
            at,
            inc.state,
            "policy",
            "no patrol unit for this camera's grid: cannot dispatch",
            effects,
            ctx,
        )
        return
    inc.round += 1
    inc.case_id = make_id("case", inc.incident_id, inc.round)
    inc.unit_id = unit_id
    inc.level = ctx.unit_level(unit_id)
    inc.due_at = ctx.due_at(inc.category, at)
    inc.overdue_noted = False
    transition(inc, at, "dispatched", "policy", f"{note}; case {inc.case_id} to {unit_id}", effects, ctx)
    emit_case(inc, at, ctx, effects, "dispatched")


def emit_case(inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], state: str) -> None:
    if inc.case_id is None or inc.unit_id is None or inc.due_at is None:
        raise ValueError(f"incident {inc.incident_id} has no case to publish")
    loc = ctx.location(inc.subject)
    case = {
        "v": 1,
        "case_id": inc.case_id,
        "incident_id": inc.incident_id,
        "unit_id": inc.unit_id,
        "grid_id": loc.get("grid_id"),
        "category": ctx.category_ref(inc.category),
        "location": loc,
        "evidence": list(inc.evidence),
        "created_at": to_iso(at),
        "due_at": to_iso(inc.due_at),
        "state": state,
        "level": inc.level or ctx.unit_level(None),
        "camera_id": inc.camera_id or None,
        "zone_id": inc.zone_id or None,
        "sensor_id": inc.sensor_id,
        "rework": inc.rework,
    }
    effects.append(Effect("dispatch", inc.unit_id, DispatchCase.written(case)))
    # "camera_id" is the key of the incident's book (the sensor's id for a sensor incident)
    effects.append(Effect("case", inc.case_id, {"camera_id": inc.subject, "incident_id": inc.incident_id}))


def escalate(inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], why: str) -> bool:
    unit = ctx.units.get(inc.unit_id or "")
    target = ctx.units.get(unit.escalates_to) if unit and unit.escalates_to else None
    if target is None:
        return False
    previous = inc.unit_id
    inc.unit_id = target.id
    inc.level = target.level
    inc.due_at = ctx.due_at(inc.category, at)
    inc.overdue_noted = False
    transition(
        inc,
        at,
        inc.state,
        "policy",
        escalated(why, previous, target.id, target.level),
        effects,
        ctx,
    )
    emit_case(inc, at, ctx, effects, inc.state)
    return True


def request_warning(inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect]) -> None:
    cat = ctx.cfg.categories.get(inc.category)
    speaker = ctx.speaker_of(inc.subject)
    reason = _no_warning(inc, cat, speaker, at, ctx.cfg.site.timezone)
    if reason is not None or speaker is None or cat is None:
        transition(inc, at, inc.state, "policy", f"no warning: {reason}", effects, ctx)
        return
    if inc.frames_seen is not None and inc.frames_seen < cat.warn_min_frames:
        # a wrong warning shames a shop in public: too few sightings and an operator decides
        inc.review = True
        seen = f"seen in {inc.frames_seen} of {inc.frames} frames"
        note = f"no warning: needs review: {seen} (a warning needs {cat.warn_min_frames})"
        transition(inc, at, inc.state, "policy", note, effects, ctx)
        return
    command_id = make_id("cmd", inc.incident_id, "warn", inc.warnings + 1)
    warn(inc, at, ctx, effects, speaker=speaker, request_id=command_id, by="citywatch")


def outside_warn_hours(cat: Category, at: float, timezone: str) -> str | None:
    """Why a warning of ``cat`` at event time ``at`` is out of its ``warn_hours`` (local time in
    ``timezone``), or None when the category may warn then."""
    if cat.warn_hours is None or in_range(cat.warn_hours, minute_of_day(at, timezone)):
        return None
    return f"outside the category's warning hours {cat.warn_hours}"


def _no_warning(
    inc: Incident, cat: Category | None, speaker: str | None, at: float, timezone: str
) -> str | None:
    """Why the incident gets no automatic warning at ``at``, or None when it may have one."""
    if cat is None or not cat.warn:
        return "category has no automatic warning"
    hours = outside_warn_hours(cat, at, timezone)
    if hours is not None:
        return hours
    if speaker is None:
        return f"{observer(inc)} has no loudspeaker"
    if inc.held:
        return "camera offline: automatic warnings held"
    return None


def warn(
    inc: Incident,
    at: float,
    ctx: ConfigIndex,
    effects: list[Effect],
    *,
    speaker: str,
    request_id: str,
    by: str,
) -> None:
    """Ask the broadcast policy for the incident's warning (its answer comes back as an outcome)."""
    cat = ctx.cfg.categories[inc.category]
    inc.warn_pending = True
    effects.append(
        Effect(
            "warn",
            speaker,
            {
                "kind": "auto",
                "request_id": request_id,
                "speaker_id": speaker,
                "camera_id": inc.camera_id or None,
                "incident_id": inc.incident_id,
                "text": ctx.warning_text(inc.subject, inc.category),
                "lang": cat.lang,
                "requested_by": by,
                "reason": f"{cat.name} ({cat.code}) at {ctx.location(inc.subject)['address']}",
                "force": False,
                "at": to_iso(at),
            },
        )
    )


def clear_open(
    book: Book, inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], seen: str
) -> None:
    """An incident not yet dispatched is seen clear: cleared, then closed."""
    worked = inc.state == "warned"
    transition(inc, at, "cleared", "rules", seen, effects, ctx)
    note = WARNING_WORKED if worked else CLEARED_BEFORE_ACTION
    transition(inc, at, "closed", "rules", note, effects, ctx)
    close(book, inc, effects)


def apply_deferred_clear(book: Book, inc: Incident, ctx: ConfigIndex, effects: list[Effect]) -> bool:
    """Apply a clear seen while the warning was pending; True when it closed the incident."""
    cleared_at = inc.cleared_at
    if cleared_at is None or inc.present or inc.state not in OPEN_STATES:
        return False
    inc.cleared_at = None
    if inc.grace_until is not None and cleared_at >= inc.grace_until:
        return False  # cleared only after grace ran out: the deadline decides first
    clear_open(book, inc, cleared_at, ctx, effects, "camera sees the zone clear")
    return True


def confirm(
    inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], *, by: str, reason: str
) -> None:
    """An operator confirms a review incident: the warning it did not send goes to the policy.

    Only an open incident under review is confirmed (a repeat changes nothing). The request
    id is derived from the incident, so a redelivered confirmation asks for one warning.
    """
    if not inc.review or inc.state not in OPEN_STATES:
        return
    inc.review = False
    cat = ctx.cfg.categories.get(inc.category)
    speaker = ctx.speaker_of(inc.subject)
    why = f"confirmed by operator {by}{': ' + reason if reason else ''}"
    refusal = _no_warning(inc, cat, speaker, at, ctx.cfg.site.timezone)
    if refusal is not None or cat is None or speaker is None:
        if cat is not None and inc.grace_until is None and outside_warn_hours(cat, at, ctx.cfg.site.timezone):
            # out of its warning hours the incident goes on as one of a category that does not
            # warn: dispatched once grace (started again now) runs out
            inc.grace_until = at + cat.grace_s
        transition(inc, at, inc.state, by, f"{why}; no warning: {refusal}", effects, ctx)
        return
    if inc.grace_until is None:  # grace ran out during the review: it starts again from now
        inc.grace_until = at + cat.grace_s
    transition(inc, at, inc.state, by, f"{why}; warning requested", effects, ctx)
    request_id = make_id("cmd", inc.incident_id, "confirm")
    warn(inc, at, ctx, effects, speaker=speaker, request_id=request_id, by=by)


def observer(inc: Incident) -> str:
    return "sensor" if inc.sensor_id else "camera"
