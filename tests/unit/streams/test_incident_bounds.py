"""Bounds and time in the incident logic: a repeating unit cannot grow a record, a book
over the table budget is shrunk, the outcome does not depend on whether the policy's
answer or the camera's next word came first, held incidents have no deadline, each key
keeps its own event clock, and the speaker's clock never runs backwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streams.config.models import Speaker
from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc
from streams.logic import policy as pol
from streams.logic.budget import TABLE_VALUE_BUDGET, encoded_size
from streams.logic.clock import ahead_of_wall

from ...config_support import parse, streams_config, streams_site

T0 = from_iso("2026-05-26T02:00:00.000Z")
CTX = inc.ConfigIndex(streams_config())
# the same district, but its street unit has no higher level to escalate to
NO_ESCALATION = streams_site()
assert NO_ESCALATION["units"][0].pop("escalates_to") == "unit-d"
FLAT = inc.ConfigIndex(parse(NO_ESCALATION, "flat.yaml"))


def violation(
    book: inc.Book, state: str, at: float, ctx: inc.ConfigIndex = CTX, **kw: Any
) -> list[inc.Effect]:
    """A violation of cam-a's storefront at event time ``at``, as the worker applies it."""
    book.observe(at, at)  # the worker moves the camera's clock before it applies the input
    params: dict[str, Any] = {
        "camera_id": "cam-a",
        "zone_id": "storefront",
        "category": "out_of_store_business",
        "state": state,
        "since": T0,
        "at": at,
        "labels": ["bench"],
        "evidence": [],
    }
    params.update(kw)
    return inc.on_violation(book, ctx, **params)


def outcome(
    book: inc.Book, at: float, decision: str = "sent", ctx: inc.ConfigIndex = CTX
) -> list[inc.Effect]:
    return inc.on_outcome(
        book, ctx, incident_id=the(book).incident_id, decision=decision, reason="", text="请…", at=at
    )


def the(book: inc.Book) -> inc.Incident:
    [only] = book.open.values()
    return only


def story(effects: list[inc.Effect]) -> list[tuple[str, str, str]]:
    """(at, state, note) of the last alert of each incident: what an audit reads."""
    last: dict[str, dict[str, Any]] = {}
    for e in effects:
        if e.kind == "alert":
            last[e.key] = e.value
    [alert] = last.values()
    return [(h["at"], h["state"], h["note"]) for h in alert["history"]]


def states(effects: list[inc.Effect]) -> list[str]:
    out: list[str] = []
    for e in effects:
        if e.kind == "alert" and (not out or out[-1] != e.value["state"]):
            out.append(e.value["state"])
    return out


# ------------------------------------------------------------ bounded state


def test_ten_thousand_rejections_keep_the_record_bounded_and_record_only_the_first() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2, ctx=FLAT)
    outcome(book, T0 + 2.1, ctx=FLAT)
    inc.on_tick(book, FLAT, T0 + 6)
    incident = the(book)
    assert incident.state == "dispatched" and incident.case_id is not None
    published: list[inc.Effect] = []
    refusals: list[str | None] = []
    for n in range(10_000):
        at = T0 + 7 + n * 0.002  # all within the 30 s SLA
        refusals.append(
            inc.update_refusal(book, case_id=incident.case_id, unit_id="unit-a", status="rejected")
        )
        effects = inc.on_update(
            book, FLAT, case_id=incident.case_id, unit_id="unit-a", status="rejected", note="not ours", at=at
        )
        assert effects is not None
        published += effects
    assert refusals[0] is None
    assert set(refusals[1:]) == {
        f"case {incident.case_id} was already rejected and has no higher level: it waits for an operator"
    }
    notes = [h["note"] for h in incident.history]
    assert notes.count("rejected: not ours") == 1
    assert notes.count("rejected and no higher level: needs an operator") == 1
    assert len(incident.history) <= inc.HISTORY_HEAD + inc.HISTORY_TAIL
    # the repeats published nothing: one alert per recorded entry of the first rejection
    assert len([e for e in published if e.kind == "alert"]) == 2
    assert encoded_size(book.to_json()) < TABLE_VALUE_BUDGET
    assert incident.state == "dispatched" and incident.unit_id == "unit-a"


def test_history_keeps_the_first_and_latest_entries_and_counts_the_rest() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    incident = the(book)
    for n in range(1000):
        inc.on_ack(
            book, CTX, incident_id=incident.incident_id, status="played", reason=f"#{n}", at=T0 + 3 + n
        )
    assert len(incident.history) == inc.HISTORY_HEAD + inc.HISTORY_TAIL
    assert incident.history[0]["state"] == "open"
    assert incident.history[-1]["note"] == "loudspeaker played: #999"
    assert incident.history_omitted == 1001 - len(incident.history)
    alert = inc.alert_record(incident, CTX)
    assert alert["history_omitted"] == incident.history_omitted


def test_shrink_brings_an_oversized_book_under_the_budget() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    incident = the(book)
    # an incident from before history was bounded: 2,000 long entries, every evidence slot used
    incident.history = [
        {"at": f"entry {n}", "state": "open", "by": "rules", "note": f"{n}: " + "x" * 500}
        for n in range(2000)
    ]
    incident.evidence = [f"evidence/cam-a/{n}-{'y' * 200}.jpg" for n in range(inc.MAX_EVIDENCE)]
    incident.labels = [f"label-{n}" for n in range(inc.MAX_LABELS)]
    book.closed = [f"inc-{n:016x}" for n in range(inc.MAX_CLOSED_REMEMBERED)]
    assert encoded_size(book.to_json()) > 4 * TABLE_VALUE_BUDGET
    steps = 0
    while encoded_size(book.to_json()) > TABLE_VALUE_BUDGET and inc.shrink(book):
        steps += 1
    assert encoded_size(book.to_json()) <= TABLE_VALUE_BUDGET
    assert 0 < steps < 10
    # the first and the latest entries are kept, and what was left out is counted
    assert incident.history[0]["at"] == "entry 0"
    assert incident.history[-1]["at"] == "entry 1999"
    assert len(incident.history) + incident.history_omitted == 2000
    assert incident.evidence == [f"evidence/cam-a/{inc.MAX_EVIDENCE - 1}-{'y' * 200}.jpg"]
    assert inc.Book.from_json(book.to_json()).to_json() == book.to_json()


def test_shrink_says_when_nothing_is_left_to_shrink() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    while inc.shrink(book):
        pass
    assert inc.shrink(book) is False


# ------------------------------------------------------------ order independence


def answer_first_and_last(
    state: str, at: float, before_answer: Callable[[inc.Book], None]
) -> tuple[inc.Book, list[inc.Effect], inc.Book, list[inc.Effect]]:
    """(a) started -> the policy's answer -> ``state`` at ``at``; (b) started -> ``state`` ->
    ``before_answer(b)`` checks the book -> the answer comes last."""
    a = inc.Book()
    fx_a = violation(a, "started", T0 + 2)
    fx_a += outcome(a, T0 + 2.1)
    fx_a += violation(a, state, at)
    b = inc.Book()
    fx_b = violation(b, "started", T0 + 2) + violation(b, state, at)
    before_answer(b)
    return a, fx_a, b, fx_b + outcome(b, T0 + 2.1)


def test_dispatch_is_the_same_whether_the_warning_or_the_late_sighting_comes_first() -> None:
    # (a) the object still there long past grace after the answer; (b) the sighting past grace
    # overtakes the policy's answer
    def grace_waits_for_the_answer(b: inc.Book) -> None:
        assert the(b).state == "open"

    a, fx_a, b, fx_b = answer_first_and_last("ongoing", T0 + 10, grace_waits_for_the_answer)
    assert states(fx_a) == states(fx_b) == ["open", "warned", "dispatched"]
    assert story(fx_a) == story(fx_b)
    assert [s for _, s, _ in story(fx_b)] == ["open", "warned", "dispatched"]
    assert story(fx_b)[-1][0] == "2026-05-26T02:00:05.100Z"  # grace: 3 s from the warning
    assert the(a).case_id == the(b).case_id


def test_a_clear_within_grace_closes_as_a_warning_that_worked_whichever_came_first() -> None:
    # (c) cleared within grace after the answer; (d) cleared, and the answer comes last
    def not_closed_before_the_policy_answered(b: inc.Book) -> None:
        assert b.open

    a, fx_a, b, fx_b = answer_first_and_last("cleared", T0 + 4, not_closed_before_the_policy_answered)
    assert a.open == {} and b.open == {}
    assert story(fx_a) == story(fx_b)
    assert story(fx_b)[-2:] == [
        ("2026-05-26T02:00:04.000Z", "cleared", "camera sees the zone clear"),
        ("2026-05-26T02:00:04.000Z", "closed", "the warning worked"),
    ]


def test_a_deadline_due_before_an_input_fires_before_it_is_applied() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    outcome(book, T0 + 2.1)
    # no tick reached the worker before the clear at 9 s: grace (5.1 s) still ended first
    effects = violation(book, "cleared", T0 + 9)
    assert states(effects) == ["dispatched"]
    assert the(book).state == "dispatched"


def test_no_answer_from_the_policy_does_not_hold_grace_forever() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    assert inc.on_tick(book, CTX, T0 + 5 + inc.OUTCOME_WAIT_S - 1) == []
    effects = inc.on_tick(book, CTX, T0 + 5 + inc.OUTCOME_WAIT_S)
    assert [n for _, _, n in story(effects)][-2:][0] == "no answer from the broadcast policy"
    assert the(book).state == "dispatched"


# ------------------------------------------------------------ held incidents


def test_held_incidents_have_no_deadline_until_released() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    outcome(book, T0 + 2.1)
    assert book.next_deadline() == pytest.approx(T0 + 5.1)
    inc.set_held(book, CTX, held=True, reason="camera offline", at=T0 + 3)
    assert book.next_deadline() is None
    assert inc.on_tick(book, CTX, T0 + 3600) == []
    effects = inc.set_held(book, CTX, held=False, reason="camera online", at=T0 + 3700)
    assert states(effects) == ["warned", "dispatched"]  # the deadline that passed fires on release


# ------------------------------------------------------------ per-key event clocks


def test_a_keys_clock_waits_for_late_inputs_then_follows_the_wall() -> None:
    book = inc.Book()
    assert book.now(T0, 2.0) is None  # a key with no input has no time
    book.observe(T0 + 10, wall=T0 + 10.5)
    assert book.now(T0 + 11, 2.0) == T0 + 10  # within the lateness: inputs may still be on their way
    assert book.now(T0 + 15.5, 2.0) == pytest.approx(T0 + 13)
    book.observe(T0 + 5, wall=T0 + 16)  # an older input never moves the clock back
    assert book.clock == T0 + 10 and book.clock_wall == T0 + 10.5


def test_an_event_dated_ahead_of_the_wall_starts_the_clock_when_the_wall_reaches_it() -> None:
    book = inc.Book()
    book.observe(T0 + 100, wall=T0 + 10)
    assert book.now(T0 + 50, 2.0) == T0 + 100
    assert book.now(T0 + 105, 2.0) == pytest.approx(T0 + 103)
    again = inc.Book.from_json(book.to_json())
    assert (again.clock, again.clock_wall) == (book.clock, book.clock_wall)


def test_clocks_are_per_key() -> None:
    a, b = inc.Book(), inc.Book()
    violation(a, "started", T0 + 2)
    violation(b, "started", T0 + 2)
    a.observe(from_iso("2099-01-01T00:00:00.000Z"), wall=T0 + 3)
    assert b.now(T0 + 3, 2.0) == T0 + 2
    assert inc.on_tick(b, CTX, b.now(T0 + 3, 2.0) or 0.0) == []


def test_inputs_far_ahead_of_the_wall_are_refused_with_the_setting_to_fix() -> None:
    assert ahead_of_wall(T0 + 299, T0, 300) is None
    reason = ahead_of_wall(from_iso("2099-01-01T00:00:00.000Z"), T0, 300)
    assert reason is not None and "site.max_clock_skew_s = 300 s" in reason


# ------------------------------------------------------------ the speaker's clock

SPK = Speaker(id="spk-1", min_interval_s=60, max_per_hour=10)
TZ = "Asia/Shanghai"


def test_the_speakers_clock_never_runs_backwards() -> None:
    state = pol.SpeakerState()
    assert state.advance(T0 + 100, wall=T0 + 100) == T0 + 100
    assert state.advance(T0 + 50, wall=T0 + 101) == T0 + 100  # an ack dated before the request
    assert state.now(T0 + 111) == pytest.approx(T0 + 111)


def test_an_ack_dated_before_the_request_never_makes_an_interval_negative() -> None:
    state = pol.SpeakerState()
    wall = T0 + 100
    first = pol.Request(request_id="r1", speaker_id="spk-1", text="请", source="auto", requested_by="x")
    fx = pol.decide(state, SPK, TZ, first, state.advance(T0 + 100, wall))
    command_id = fx[0].value["command_id"]
    # the gateway's clock is behind: its ack is dated before the command was sent
    pol.on_ack(
        state,
        SPK,
        TZ,
        command_id=command_id,
        incident_id=None,
        status="played",
        reason="",
        now=state.advance(T0 + 40, wall + 1),
    )
    second = pol.Request(request_id="r2", speaker_id="spk-1", text="请", source="auto", requested_by="x")
    fx = pol.decide(state, SPK, TZ, second, state.advance(T0 + 45, wall + 2))
    [decision] = [e.value for e in fx if e.kind == "decision"]
    assert decision["decision"] == "suppressed"
    assert decision["reason"].startswith("rate limit: last broadcast 0s ago")
    assert state.sent == sorted(state.sent)
    assert all(from_iso(e.value["at"]) >= T0 + 100 for e in fx)
