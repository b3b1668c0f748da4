"""Incidents: the lifecycle named in ``streams.logic.lifecycle`` as pure functions over
one camera's book: one function per input.

    open (review: seen in too few frames) --operator confirm--> warning requested; no
      automatic warning and no automatic dispatch until an operator confirms, dispatches or closes

A warning asked for is answered by the broadcast policy before grace can end
(``warn_pending``); deadlines due before an input fire before it is applied; each
book keeps its own event clock (``KeyClock``). History is bounded (first and
latest entries, ``history_omitted``) and every alert carries a ``revision``.

Exactly one open incident per (camera, zone, category); its id is derived from
those and the violation's start, so a redelivered or replayed violation never
opens a twin. Every function takes the camera's ``Book``, one input and its
event time, mutates the book and returns the effects to publish.

The book and its bounds are in ``streams.logic.incident_book``, the configuration index in
``streams.logic.incident_config``, what is done to an incident in ``streams.logic.incident_actions``
and the deadlines in ``streams.logic.incident_deadlines``; their public names are here too.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.contract.ids import make_id
from streams.contract.timeutil import to_iso
from streams.logic.incident_actions import (
    alert_record,
    apply_deferred_clear,
    clear_open,
    close,
    confirm,
    dispatch,
    escalate,
    merge_evidence,
    publish,
    request_warning,
    transition,
)
from streams.logic.incident_book import (
    HISTORY_HEAD,
    HISTORY_TAIL,
    MAX_CLOSED_REMEMBERED,
    MAX_EVIDENCE,
    MAX_LABELS,
    MAX_VERIFY_WAITS,
    OUTCOME_WAIT_S,
    Book,
    Effect,
    Incident,
    shrink,
)
from streams.logic.incident_config import ConfigIndex
from streams.logic.incident_deadlines import on_tick
from streams.logic.incident_restore import on_restore, restore_id, restore_refusal
from streams.logic.lifecycle import CASE_STATES, OPEN_STATES, update_allowed
from streams.logic.rules import ViolationEvent

__all__ = [
    "HISTORY_HEAD",
    "HISTORY_TAIL",
    "MAX_CLOSED_REMEMBERED",
    "MAX_EVIDENCE",
    "MAX_LABELS",
    "MAX_VERIFY_WAITS",
    "OUTCOME_WAIT_S",
    "Book",
    "ConfigIndex",
    "Effect",
    "Incident",
    "alert_record",
    "on_ack",
    "on_condition",
    "on_operator",
    "on_outcome",
    "on_restore",
    "on_tick",
    "on_update",
    "on_violation",
    "restore_id",
    "restore_refusal",
    "set_held",
    "shrink",
    "update_refusal",
]


# ---------------------------------------------------------------- inputs


def on_rule_event(book: Book, ctx: ConfigIndex, ev: ViolationEvent) -> list[Effect]:
    """``on_violation`` for an event of ``rules.step`` taken in the same process (clips, evaluation)."""
    names = ("camera_id", "zone_id", "category", "state", "since", "at", "labels", "frames_seen", "frames")
    return on_violation(book, ctx, scores=dict(ev.scores), **{name: getattr(ev, name) for name in names})


def on_violation(
    book: Book,
    ctx: ConfigIndex,
    *,
    camera_id: str,
    zone_id: str,
    category: str,
    state: str,
    since: float,
    at: float,
    labels: list[str] | tuple[str, ...] = (),
    evidence: list[str] | tuple[str, ...] = (),
    sensor_id: str | None = None,
    source: str = "camera",
    note: str | None = None,
    frames_seen: int | None = None,
    frames: int | None = None,
    scores: Mapping[str, float] | None = None,
) -> list[Effect]:
    # deadlines due before this input fire first: the result does not depend on whether a
    # tick or this input reached the worker first
    effects: list[Effect] = on_tick(book, ctx, at)
    key = f"{zone_id}|{category}"
    inc = book.open.get(key)
    if state in ("started", "ongoing"):
        if inc is None:
            incident_id = make_id("inc", sensor_id or camera_id, zone_id, category, to_iso(since))
            if incident_id in book.closed:
                return []  # a redelivery of a violation whose incident is already closed
            inc = Incident(incident_id, camera_id, zone_id, category, "open", at, at, last_seen_at=at)
            inc.sensor_id, inc.source = sensor_id, source
            inc.held = book.held and source == "camera"
            inc.labels = sorted(labels)[:MAX_LABELS]
            inc.frames_seen, inc.frames = frames_seen, frames
            inc.scores = {k: float(v) for k, v in sorted((scores or {}).items())[:MAX_LABELS]}
            merge_evidence(inc, evidence)
            inc.grace_until = at + ctx.timing(category, "grace_s")
            book.open[key] = inc
            what = ", ".join(labels) or category
            opened = note or f"{what} in zone {zone_id} since {to_iso(since)}"
            transition(inc, at, "open", "rules", opened, effects, ctx)
            request_warning(inc, at, ctx, effects)
        else:
            _seen_again(inc, at, ctx, effects, labels=labels, evidence=evidence)
    elif state == "cleared":
        if inc is None:
            return []
        if not _seen_clear(book, inc, at, ctx, effects, note or "camera sees the zone clear"):
            return effects
    effects.extend(on_tick(book, ctx, at))
    return effects


def _seen_again(
    inc: Incident,
    at: float,
    ctx: ConfigIndex,
    effects: list[Effect],
    *,
    labels: list[str] | tuple[str, ...],
    evidence: list[str] | tuple[str, ...],
) -> None:
    """The violation of an open incident goes on: new labels and evidence join it."""
    inc.present = True
    inc.cleared_at = None
    inc.last_seen_at = max(inc.last_seen_at, at)
    inc.labels = sorted(set(inc.labels) | set(labels))[:MAX_LABELS]
    if merge_evidence(inc, evidence):
        inc.updated_at = max(inc.updated_at, at)
        publish(inc, ctx, effects)


def _seen_clear(
    book: Book, inc: Incident, at: float, ctx: ConfigIndex, effects: list[Effect], seen: str
) -> bool:
    """The camera (or sensor) sees the incident's zone clear; False when the clear waits (held, or
    a warning pending) and no deadline is to be looked at."""
    inc.present = False
    if inc.held:  # recorded (and kept) now, applied when the camera is released
        transition(inc, at, inc.state, "rules", f"{seen}; held: not cleared until released", effects, ctx)
        return False
    if inc.state in OPEN_STATES and inc.warn_pending:
        inc.cleared_at = at  # applied once the policy has answered the warning
        return False
    if inc.state in OPEN_STATES:
        clear_open(book, inc, at, ctx, effects, seen)
    elif inc.state in (*CASE_STATES, "verifying"):
        transition(inc, at, inc.state, "rules", seen, effects, ctx)
    return True


def _ignored_note(status: str, assigned: str | None) -> str:
    return f"update '{status}' ignored: case is assigned to {assigned}"


def update_refusal(book: Book, *, case_id: str, unit_id: str, status: str) -> str | None:
    """Why a patrol update would change nothing (and is refused), or None when it counts.

    Refused updates add no history, so a unit repeating itself cannot grow the record.
    """
    inc = book.by_case(case_id)
    if inc is None:
        return None  # unknown here: the caller dead-letters it
    if unit_id != inc.unit_id:
        last = inc.history[-1] if inc.history else {}
        if last.get("by") == unit_id and last.get("note") == _ignored_note(status, inc.unit_id):
            return f"case {case_id} is assigned to {inc.unit_id}, not {unit_id} (already noted)"
        return None
    if not update_allowed(status, inc.state):
        return f"case {case_id} is {inc.state}: '{status}' changes nothing"
    if status == "rejected" and inc.rejected_round == inc.round:
        return f"case {case_id} was already rejected and has no higher level: it waits for an operator"
    return None


def on_update(
    book: Book, ctx: ConfigIndex, *, case_id: str, unit_id: str, status: str, note: str, at: float
) -> list[Effect] | None:
    """A patrol unit's update; None when the case is unknown to this camera."""
    inc = book.by_case(case_id)
    if inc is None:
        return None
    effects: list[Effect] = on_tick(book, ctx, at)
    if update_refusal(book, case_id=case_id, unit_id=unit_id, status=status) is not None:
        return effects  # a duplicate, out of order or a repeat: redelivery is harmless
    if unit_id != inc.unit_id:
        transition(inc, at, inc.state, unit_id, _ignored_note(status, inc.unit_id), effects, ctx)
        return effects
    # update_refusal let it through: the case is in a state this status moves on from
    text = note or status
    if status in ("accepted", "arrived"):
        transition(inc, at, status, unit_id, text, effects, ctx)
    elif status == "resolved":
        transition(inc, at, "resolved", unit_id, text, effects, ctx)
        inc.resolved_at = at
        inc.verify_waits = 0
        inc.verify_until = at + ctx.timing(inc.category, "verify_s")
        inc.due_at = None
        what = "sensor checks its readings" if inc.sensor_id else "camera checks the zone"
        transition(inc, at, "verifying", "rules", f"{what} until {to_iso(inc.verify_until)}", effects, ctx)
    elif status == "rejected":
        transition(inc, at, inc.state, unit_id, f"rejected: {text}", effects, ctx)
        if not escalate(inc, at, ctx, effects, "rejected"):
            inc.rejected_round = inc.round
            why = "rejected and no higher level: needs an operator"
            transition(inc, at, inc.state, "policy", why, effects, ctx)
    effects.extend(on_tick(book, ctx, at))
    return effects


def on_outcome(
    book: Book,
    ctx: ConfigIndex,
    *,
    incident_id: str,
    decision: str,
    reason: str,
    text: str,
    at: float,
) -> list[Effect]:
    """The broadcast policy's decision on this incident's warning."""
    inc = book.by_id(incident_id)
    if inc is None:
        return []
    effects: list[Effect] = []
    inc.warn_pending = False
    if decision == "sent":
        inc.warnings += 1
        if inc.state == "open":
            inc.grace_until = at + ctx.timing(inc.category, "grace_s")
            transition(inc, at, "warned", "policy", f"loudspeaker: {text}", effects, ctx)
        else:
            transition(inc, at, inc.state, "policy", f"loudspeaker: {text}", effects, ctx)
    else:
        transition(inc, at, inc.state, "policy", f"warning {decision}: {reason}", effects, ctx)
    if apply_deferred_clear(book, inc, ctx, effects):
        return effects
    # the answer may come after this key's clock passed the grace deadline
    effects.extend(on_tick(book, ctx, max(at, book.clock or at)))
    return effects


def on_ack(
    book: Book, ctx: ConfigIndex, *, incident_id: str, status: str, reason: str, at: float
) -> list[Effect]:
    inc = book.by_id(incident_id)
    if inc is None:
        return []
    effects: list[Effect] = []
    transition(
        inc,
        at,
        inc.state,
        "speaker",
        f"loudspeaker {status}" + (f": {reason}" if reason else ""),
        effects,
        ctx,
    )
    return effects


def on_operator(
    book: Book, ctx: ConfigIndex, *, incident_id: str, action: str, by: str, reason: str, at: float
) -> list[Effect] | None:
    """An operator's action: acknowledge, confirm (a review), dispatch (now) or close (with a reason)."""
    inc = book.by_id(incident_id)
    if inc is None:
        return None
    effects: list[Effect] = []
    if action == "acknowledge":
        transition(inc, at, inc.state, by, f"acknowledged{': ' + reason if reason else ''}", effects, ctx)
    elif action == "confirm":
        confirm(inc, at, ctx, effects, by=by, reason=reason)
    elif action == "dispatch":
        if inc.state in OPEN_STATES:
            inc.review = False  # the operator decided: nothing waits for review any more
            dispatch(inc, at, ctx, effects, f"dispatched by operator {by}{': ' + reason if reason else ''}")
    elif action == "close":
        transition(inc, at, "closed", by, f"closed by operator: {reason}", effects, ctx)
        close(book, inc, effects)
    return effects


def set_held(book: Book, ctx: ConfigIndex, *, held: bool, reason: str, at: float) -> list[Effect]:
    """Camera offline (held) or back online: no auto-clear, no verification, no auto warning.

    Only the camera's own violation incidents are held (not its camera-offline
    incident). A clear seen while held is applied on release.
    """
    effects: list[Effect] = []
    book.held = held
    for inc in list(book.open.values()):
        if inc.held == held or inc.source != "camera":
            continue
        inc.held = held
        note = f"held: {reason}" if held else f"released: {reason}"
        transition(inc, at, inc.state, "health", note, effects, ctx)
        if not held and not inc.present and inc.state in OPEN_STATES:
            transition(inc, at, "cleared", "rules", "camera saw the zone clear while held", effects, ctx)
            transition(inc, at, "closed", "rules", "cleared after release", effects, ctx)
            close(book, inc, effects)
    if not held:
        effects.extend(on_tick(book, ctx, at))
    return effects


def on_condition(
    book: Book,
    ctx: ConfigIndex,
    *,
    subject: str,
    source: str,
    category: str,
    state: str,
    since: float,
    at: float,
    note: str,
) -> list[Effect]:
    """A sensor rule or camera health started / cleared: the same lifecycle as a violation.

    ``source`` is "sensor" (``subject`` is a sensor id; the incident has no camera)
    or "health" (``subject`` is the camera; e.g. camera offline). One open incident
    per (subject, category); "cleared" closes it before dispatch, verifies it after.
    """
    sensor_id = subject if source == "sensor" else None
    return on_violation(
        book,
        ctx,
        camera_id="" if sensor_id else subject,
        zone_id="",
        category=category,
        state=state,
        since=since,
        at=at,
        sensor_id=sensor_id,
        source=source,
        note=note,
    )
