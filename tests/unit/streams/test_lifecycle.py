"""The incident lifecycle named once: states, groups, moves, updates, newer, describe()."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any, get_args

import pytest

from streams.contract.records import DispatchUpdate, IncidentState
from streams.logic import incidents as inc
from streams.logic import lifecycle as lc

from .test_incidents import CTX, T0, dispatched_book, the, update, violation, warned_book


def test_the_contract_literal_names_the_lifecycle_states_in_order() -> None:
    assert get_args(IncidentState) == lc.STATES


def test_every_group_and_move_names_known_states() -> None:
    groups = [
        lc.OPEN_STATES,
        lc.CASE_STATES,
        lc.DUE_STATES,
        lc.ASSIGNED_STATES,
        lc.FINISHED_STATES,
        lc.FINAL_STATES,
        *lc.UPDATE_FROM.values(),
        *lc.TRANSITIONS.values(),
    ]
    for group in groups:
        assert set(group) <= set(lc.STATES), group
    assert tuple(lc.TRANSITIONS) == lc.STATES
    assert set(lc.UPDATE_FROM) == set(get_args(DispatchUpdate.model_fields["status"].annotation))


@pytest.mark.parametrize(
    ("current", "new", "ok"),
    [
        ("open", "warned", True),
        ("open", "dispatched", True),
        ("warned", "cleared", True),
        ("dispatched", "dispatched", True),  # a note or an escalation keeps the state
        ("arrived", "resolved", True),
        ("resolved", "verifying", True),
        ("verifying", "reopened", True),
        ("reopened", "dispatched", True),
        ("accepted", "overdue", True),
        ("verified", "closed", True),
        ("closed", "open", False),
        ("cleared", "dispatched", False),
        ("arrived", "overdue", False),  # arrival stops the clock
        ("open", "resolved", False),
        ("verifying", "dispatched", False),
        ("unknown", "open", False),
    ],
)
def test_transitions_allowed_and_refused(current: str, new: str, ok: bool) -> None:
    assert lc.allowed(current, new) is ok


def test_an_operator_may_close_in_any_state() -> None:
    assert all(lc.allowed(state, "closed") for state in lc.STATES)


def test_patrol_updates_allowed_and_refused() -> None:
    counted = {
        ("accepted", "dispatched"),
        ("arrived", "accepted"),
        ("resolved", "arrived"),
        ("rejected", "overdue"),
    }
    assert all(lc.update_allowed(status, state) for status, state in counted)
    refused = {
        ("accepted", "accepted"),
        ("accepted", "arrived"),
        ("arrived", "arrived"),  # a repeat changes nothing
        ("resolved", "verifying"),
        ("rejected", "arrived"),
        ("cleared", "dispatched"),  # not a patrol status
    }
    assert not any(lc.update_allowed(status, state) for status, state in refused)


def test_the_incident_logic_refuses_what_the_lifecycle_refuses() -> None:
    book = dispatched_book()
    case_id = the(book).case_id
    assert case_id is not None
    refusal = inc.update_refusal(book, case_id=case_id, unit_id="unit-a", status="arrived")
    assert refusal is None
    update(book, "arrived", T0 + 7)
    refusal = inc.update_refusal(book, case_id=case_id, unit_id="unit-a", status="accepted")
    assert refusal == f"case {case_id} is arrived: 'accepted' changes nothing"


def alert(revision: int, history: int = 1, updated_at: str = "2026-05-26T02:00:00.000Z") -> dict[str, Any]:
    return {"revision": revision, "history": [{}] * history, "updated_at": updated_at}


def test_newer_is_a_larger_revision() -> None:
    assert lc.newer(alert(3), alert(2))
    assert not lc.newer(alert(2), alert(3))
    assert not lc.newer(alert(2), alert(2))
    assert lc.newer(alert(1), None)
    assert lc.newer(alert(2, history=1), alert(1, history=9))


def test_records_without_a_revision_fall_back_on_their_history() -> None:
    assert lc.newer(alert(0, history=3), alert(0, history=2))
    assert lc.newer(alert(0, 2, "2026-05-26T02:00:01.000Z"), alert(0, 2))
    assert lc.alert_version({}) == (0, 0, "")


def test_describe_is_json_and_says_what_the_module_says() -> None:
    described = json.loads(json.dumps(lc.describe()))
    assert described["states"] == list(lc.STATES)
    assert described["open_states"] == list(lc.OPEN_STATES)
    assert described["case_states"] == list(lc.CASE_STATES)
    assert described["assigned_states"] == list(lc.ASSIGNED_STATES)
    assert described["final_states"] == list(lc.FINAL_STATES)
    assert described["update_from"] == {k: list(v) for k, v in lc.UPDATE_FROM.items()}
    assert described["transitions"]["closed"] == []
    # what the pages read (streams/web/static/*.js)
    assert {"states", "open_states", "final_states", "assigned_states", "update_from"} <= set(described)


def _warned_then_cleared() -> list[inc.Effect]:
    book = warned_book()
    return violation(book, "cleared", T0 + 3)


def _closed_loop() -> list[inc.Effect]:
    book = dispatched_book()
    out = [*(update(book, "accepted", T0 + 7) or []), *(update(book, "arrived", T0 + 8) or [])]
    out += violation(book, "cleared", T0 + 8.5)
    out += update(book, "resolved", T0 + 9) or []
    return out + inc.on_tick(book, CTX, T0 + 12.5)


def _rework_and_overdue() -> list[inc.Effect]:
    book = dispatched_book()
    out = update(book, "resolved", T0 + 9) or []
    out += violation(book, "ongoing", T0 + 10)
    out += inc.on_tick(book, CTX, T0 + 12.5)  # reopened, dispatched again
    out += update(book, "accepted", T0 + 13) or []
    return out + inc.on_tick(book, CTX, T0 + 100)  # overdue, escalated


def _operator_close() -> list[inc.Effect]:
    book = dispatched_book()
    incident_id = the(book).incident_id
    return (
        inc.on_operator(book, CTX, incident_id=incident_id, action="close", by="op", reason="dup", at=T0 + 7)
        or []
    )


@pytest.mark.parametrize("flow", [_warned_then_cleared, _closed_loop, _rework_and_overdue, _operator_close])
def test_the_incident_logic_makes_only_allowed_moves(flow: Callable[[], list[inc.Effect]]) -> None:
    alerts = [e.value for e in flow() if e.kind == "alert"]
    assert alerts
    history = [h["state"] for h in alerts[-1]["history"]]
    for before, after in itertools.pairwise(history):
        assert lc.allowed(before, after), (before, after, history)
