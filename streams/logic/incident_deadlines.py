"""The incident deadlines: grace, verification and the case's due time, fired by event time.

Transitions are stamped with the deadline itself, not with the tick that noticed it, so
the same input always gives the same history.
"""

from __future__ import annotations

from streams.contract.timeutil import to_iso
from streams.logic.history_notes import grace_over, past_due
from streams.logic.incident_actions import (
    apply_deferred_clear,
    clear_open,
    close,
    dispatch,
    escalate,
    observer,
    transition,
)
from streams.logic.incident_book import MAX_VERIFY_WAITS, OUTCOME_WAIT_S, Book, Effect, Incident
from streams.logic.incident_config import ConfigIndex
from streams.logic.lifecycle import DUE_STATES, OPEN_STATES


def on_tick(book: Book, ctx: ConfigIndex, now: float) -> list[Effect]:
    """Fire every deadline due at event time ``now`` (grace, verification, SLA)."""
    effects: list[Effect] = []
    for inc in list(book.open.values()):
        if inc.held:
            continue
        if inc.state in OPEN_STATES and inc.grace_until is not None and now >= inc.grace_until:
            _grace_over(book, inc, ctx, now, inc.grace_until, effects)
        elif inc.state == "verifying" and inc.verify_until is not None and now >= inc.verify_until:
            _verification_over(book, inc, ctx, inc.verify_until, effects)
        elif (
            inc.state in DUE_STATES and inc.due_at is not None and now >= inc.due_at and not inc.overdue_noted
        ):
            _past_due(inc, ctx, inc.due_at, effects)
    return effects


def _grace_over(
    book: Book, inc: Incident, ctx: ConfigIndex, now: float, when: float, effects: list[Effect]
) -> None:
    """Grace ran out at ``when``: dispatch (or wait for review, or only note it for a category
    not dispatched)."""
    cat = ctx.cfg.categories.get(inc.category)
    if inc.warn_pending:
        if now < when + OUTCOME_WAIT_S:
            return  # the policy's answer decides where grace ends
        inc.warn_pending = False
        when += OUTCOME_WAIT_S
        transition(inc, when, inc.state, "policy", "no answer from the broadcast policy", effects, ctx)
        if apply_deferred_clear(book, inc, ctx, effects):
            return
    late_clear = inc.cleared_at  # a clear seen after grace ran out, while the warning was pending
    if not inc.present and (late_clear is None or late_clear < when):
        return
    if inc.review:
        inc.grace_until = None
        note = grace_over("needs review: an operator dispatches or closes it")
        transition(inc, when, inc.state, "policy", note, effects, ctx)
    elif cat is not None and not cat.dispatch:
        inc.grace_until = None
        note = grace_over("this category is not dispatched")
        transition(inc, when, inc.state, "policy", note, effects, ctx)
    else:
        dispatch(inc, when, ctx, effects, "still there after the grace period")
    if late_clear is not None:
        inc.cleared_at = None
        if inc.state in OPEN_STATES:
            clear_open(book, inc, late_clear, ctx, effects, "camera sees the zone clear")
        else:
            transition(inc, late_clear, inc.state, "rules", "camera sees the zone clear", effects, ctx)


def _verification_over(
    book: Book, inc: Incident, ctx: ConfigIndex, when: float, effects: list[Effect]
) -> None:
    """The verification period after a resolve ran out at ``when``: close, wait longer, or rework."""
    inc.verify_until = None
    silent = inc.resolved_at is not None and inc.last_seen_at <= inc.resolved_at
    if inc.present and silent and inc.verify_waits < MAX_VERIFY_WAITS:
        # nothing seen since the resolve, but no clear reported yet either (the clear
        # may still be on its way): wait rather than call it rework on no evidence
        inc.verify_waits += 1
        inc.verify_until = when + ctx.timing(inc.category, "verify_s")
        note = f"no report from the {observer(inc)} yet; checking until {to_iso(inc.verify_until)}"
        transition(inc, when, "verifying", "rules", note, effects, ctx)
    elif inc.present:
        inc.rework += 1
        seen = f"{observer(inc)} still sees the violation after resolve"
        transition(inc, when, "reopened", "rules", seen, effects, ctx)
        dispatch(inc, when, ctx, effects, f"rework {inc.rework}")
    else:
        seen = "sensor reads clear" if inc.sensor_id else "camera sees the zone clear"
        transition(inc, when, "verified", "rules", seen, effects, ctx)
        transition(inc, when, "closed", "rules", f"verified by {observer(inc)}", effects, ctx)
        close(book, inc, effects)


def _past_due(inc: Incident, ctx: ConfigIndex, when: float, effects: list[Effect]) -> None:
    """The case is past its due time ``when``: overdue, escalated one level when there is one."""
    inc.overdue_noted = True
    transition(inc, when, "overdue", "policy", past_due(inc.case_id), effects, ctx)
    if not escalate(inc, when, ctx, effects, "overdue"):
        transition(inc, when, "overdue", "policy", "no higher level to escalate to", effects, ctx)
