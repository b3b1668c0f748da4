"""Re-seeding an open incident from the case record into a camera's (or sensor's) book (pure).

When the broker lost its topics (memory storage) and the worker's tables with them, the case
record still holds every open incident's last alert and its open case. ``on_restore`` puts
one of them back into its book as it was: the same id, state, history and revision; its
deadlines derived from the recorded event times (grace from the warning, verification from
the resolve, the case's due time as dispatched). It publishes the incident and its case again
unchanged (same revision, same history entries, the case record as stored), so the case
record, whose rows are keyed by those, stores nothing twice.

A restore changes nothing when the book already holds the incident (open or recently
closed), or another open incident on the same zone and category (``restore_refusal``
says why): re-seeding twice, or by two workers, is harmless.
"""

from __future__ import annotations

from typing import Any

from streams.contract.ids import make_id
from streams.contract.records import Alert, DispatchCase
from streams.contract.timeutil import from_iso
from streams.logic.incident_actions import alert_record
from streams.logic.incident_book import MAX_EVIDENCE, MAX_LABELS, Book, Effect, Incident
from streams.logic.incident_config import ConfigIndex
from streams.logic.lifecycle import ASSIGNED_STATES, FINAL_STATES, OPEN_STATES

MAX_ROUNDS = 100  # case rounds looked for when the round is read back from a case id


def restore_id(incident_id: str, version: int) -> str:
    """The restore input's id: one per incident and stored version."""
    return make_id("restore", incident_id, version)


def restore_refusal(book: Book, alert: Alert) -> str | None:
    """Why restoring ``alert`` into ``book`` would change nothing, or None when it counts."""
    if alert.state in FINAL_STATES:
        return f"incident {alert.incident_id} is {alert.state}"
    if alert.incident_id in book.closed:
        return f"incident {alert.incident_id} was closed here already"
    held = book.by_id(alert.incident_id)
    if held is not None:
        return f"incident {alert.incident_id} is open here already (revision {held.revision})"
    key = f"{alert.zone_id or ''}|{alert.category.key}"
    other = book.open.get(key)
    if other is not None:
        return f"incident {other.incident_id} is open on the same zone and category"
    return None


def on_restore(
    book: Book, ctx: ConfigIndex, *, incident: dict[str, Any], case: dict[str, Any] | None
) -> list[Effect]:
    """Put a stored open incident (its last alert) and its open case back into ``book``."""
    alert = Alert.model_validate(incident)
    if restore_refusal(book, alert) is not None:
        return []
    inc = incident_of(alert, ctx)
    book.open[inc.key] = inc
    effects = [Effect("alert", inc.incident_id, alert_record(inc, ctx))]
    if inc.case_id is None or inc.unit_id is None:
        return effects
    # the case index routes the patrol's updates to this book again
    effects.append(Effect("case", inc.case_id, {"camera_id": inc.subject, "incident_id": inc.incident_id}))
    if case is not None and inc.state in ASSIGNED_STATES:
        stored = DispatchCase.model_validate(case)
        if stored.case_id == inc.case_id and stored.unit_id == inc.unit_id:
            effects.append(Effect("dispatch", inc.unit_id, stored.to_dict()))
    return effects


def incident_of(alert: Alert, ctx: ConfigIndex) -> Incident:
    """The incident an alert describes, with the deadlines its history dates."""
    extra: dict[str, Any] = alert.model_extra or {}
    sensor_id = _text(extra.get("sensor_id"))
    history = [h.model_dump(mode="json") for h in alert.history]
    inc = Incident(
        alert.incident_id,
        alert.camera_id or "",
        alert.zone_id or "",
        alert.category.key,
        alert.state,
        from_iso(alert.opened_at),
        from_iso(alert.updated_at),
        history=[{k: str(h.get(k, "")) for k in ("at", "state", "by", "note")} for h in history],
        history_omitted=alert.history_omitted,
        revision=alert.revision,
        evidence=list(alert.evidence)[-MAX_EVIDENCE:],
    )
    inc.sensor_id = sensor_id
    inc.source = "sensor" if sensor_id else ("camera" if inc.zone_id else "health")
    inc.labels = [str(x) for x in extra.get("labels") or []][:MAX_LABELS]
    inc.warnings = _int(extra.get("warnings"))
    inc.rework = _int(extra.get("rework"))
    inc.held, inc.review = bool(extra.get("held")), bool(extra.get("review"))
    inc.frames_seen, inc.frames = _opt_int(extra.get("frames_seen")), _opt_int(extra.get("frames"))
    scores = extra.get("scores")
    scores = scores if isinstance(scores, dict) else {}
    inc.scores = {str(k): float(v) for k, v in sorted(scores.items())[:MAX_LABELS]}
    _restore_case(inc, extra)
    _restore_deadlines(inc, ctx)
    return inc


def _restore_case(inc: Incident, extra: dict[str, Any]) -> None:
    inc.case_id, inc.unit_id = _text(extra.get("case_id")), _text(extra.get("unit_id"))
    inc.level = _text(extra.get("level"))
    due = _text(extra.get("due_at"))
    inc.due_at = from_iso(due) if due and inc.state not in OPEN_STATES else None
    if inc.case_id is not None:
        rounds = (n for n in range(1, MAX_ROUNDS + 1) if make_id("case", inc.incident_id, n) == inc.case_id)
        inc.round = next(rounds, 1)


def _restore_deadlines(inc: Incident, ctx: ConfigIndex) -> None:
    """Grace, verification and overdue as the history dates them; the violation's presence."""
    resolved_at: float | None = None
    verifying_at: float | None = None
    waits = 0
    grace_from = inc.opened_at
    grace_over = False
    present = True
    for h in inc.history:
        at, state, note = from_iso(h["at"]), h["state"], h["note"]
        if state == "warned":
            grace_from = at
        elif state == "resolved":
            resolved_at, waits = at, -1
        elif state == "verifying":
            verifying_at, waits = at, waits + 1
        if "escalated from" in note or state == "dispatched":
            inc.overdue_noted = False  # a new due time
        elif state == "overdue":
            inc.overdue_noted = True
        if note.startswith("grace over"):
            grace_over = True
        if h["by"] == "rules" and "clear" in note and state not in OPEN_STATES:
            present = False  # seen clear after the dispatch (or while held)
        elif state == "reopened":
            present = True
    inc.present = present
    inc.last_seen_at = resolved_at if resolved_at is not None else inc.updated_at
    if inc.state in OPEN_STATES and not grace_over:
        inc.grace_until = grace_from + ctx.timing(inc.category, "grace_s")
    if inc.state == "verifying":
        inc.resolved_at = resolved_at if resolved_at is not None else inc.updated_at
        start = verifying_at if verifying_at is not None else inc.updated_at
        inc.verify_until = start + ctx.timing(inc.category, "verify_s")
        inc.verify_waits = max(0, waits)
    last = inc.history[-1]["note"] if inc.history else ""
    if last.startswith("rejected and no higher level"):
        inc.rejected_round = inc.round


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)
