"""Re-seeding an incident from the case record (pure): the restored book goes on exactly as the
original would have, and a second restore changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest

from streams.contract.records import Alert
from streams.logic import incidents as inc

from .test_incidents import CTX, T0, dispatched_book, states, the, update, violation, warned_book

# what a restore cannot know (the warning's pending answer) or need not (what it saw last)
UNKNOWN = ("warn_pending", "cleared_at", "last_seen_at")


def stored(book: inc.Book, effects: list[inc.Effect]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What the case record holds of the book's incident: its last alert and its last case."""
    alerts = [e.value for e in effects if e.kind == "alert"]
    cases = [e.value for e in effects if e.kind == "dispatch"]
    return alerts[-1], (cases[-1] if cases else None)


def history_of(build: Callable[[list[inc.Effect]], inc.Book]) -> tuple[inc.Book, list[inc.Effect]]:
    effects: list[inc.Effect] = []
    return build(effects), effects


def restored(alert: dict[str, Any], case: dict[str, Any] | None) -> tuple[inc.Book, list[inc.Effect]]:
    book = inc.Book()
    return book, inc.on_restore(book, CTX, incident=alert, case=case)


def same_incident(a: inc.Incident, b: inc.Incident) -> None:
    left = {k: v for k, v in asdict(a).items() if k not in UNKNOWN}
    right = {k: v for k, v in asdict(b).items() if k not in UNKNOWN}
    assert left == right


def recorded(steps: Callable[[inc.Book, list[inc.Effect]], None]) -> tuple[inc.Book, list[inc.Effect]]:
    """A dispatched incident after ``steps``, with every effect it published."""
    book = inc.Book()
    effects = violation(book, "started", T0 + 2)
    effects += inc.on_outcome(
        book, CTX, incident_id=the(book).incident_id, decision="sent", reason="", text="请…", at=T0 + 2.1
    )
    steps(book, effects)
    return book, effects


def test_a_dispatched_incident_comes_back_with_its_case_and_publishes_nothing_new() -> None:
    original, effects = recorded(lambda b, e: e.extend(inc.on_tick(b, CTX, T0 + 6)))
    alert, case = stored(original, effects)
    assert case is not None
    book, out = restored(alert, case)
    same_incident(the(book), the(original))
    assert the(book).due_at == pytest.approx(T0 + 5.1 + 30) and the(book).round == 1
    [again] = [e.value for e in out if e.kind == "alert"]
    assert again == alert  # the same revision and history: the case record stores nothing twice
    assert [e.value for e in out if e.kind == "dispatch"] == [case]
    [index] = [e for e in out if e.kind == "case"]
    assert index.key == case["case_id"]
    assert index.value == {"camera_id": "cam-a", "incident_id": alert["incident_id"]}


def test_the_restored_incident_goes_on_as_the_original_would() -> None:
    original = dispatched_book()
    alert = inc.alert_record(the(original), CTX)
    case_id = the(original).case_id
    book, _ = restored(alert, None)
    assert the(book).case_id == case_id

    def close(b: inc.Book) -> list[inc.Effect]:
        out = update(b, "accepted", T0 + 7) or []
        out += update(b, "resolved", T0 + 8) or []
        out += violation(b, "cleared", T0 + 9)
        out += inc.on_tick(b, CTX, T0 + 11.5)  # verification: 3 s after the resolve
        return out

    before, after = close(original), close(book)
    assert states(after) == ["accepted", "resolved", "verifying", "verifying", "verified", "closed"]
    assert [e.value for e in after if e.kind == "alert"] == [e.value for e in before if e.kind == "alert"]
    assert book.open == {} and book.closed == original.closed
    assert [e for e in after if e.kind == "case"] == [e for e in before if e.kind == "case"]


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(lambda b, e: None, id="warned"),
        pytest.param(lambda b, e: e.extend(inc.on_tick(b, CTX, T0 + 6)), id="dispatched"),
        pytest.param(
            lambda b, e: e.extend([*inc.on_tick(b, CTX, T0 + 6), *(update(b, "resolved", T0 + 7) or [])]),
            id="verifying",
        ),
        pytest.param(
            lambda b, e: e.extend(
                [
                    *inc.on_tick(b, CTX, T0 + 6),
                    *(update(b, "resolved", T0 + 7) or []),
                    *inc.on_tick(b, CTX, T0 + 10),
                ]
            ),
            id="verifying-again",
        ),
        pytest.param(
            lambda b, e: e.extend([*inc.on_tick(b, CTX, T0 + 6), *inc.on_tick(b, CTX, T0 + 40)]),
            id="escalated",
        ),
        pytest.param(
            lambda b, e: e.extend([*inc.on_tick(b, CTX, T0 + 6), *violation(b, "cleared", T0 + 7)]),
            id="seen-clear-while-dispatched",
        ),
    ],
)
def test_deadlines_come_back_from_the_recorded_times(
    steps: Callable[[inc.Book, list[inc.Effect]], None],
) -> None:
    original, effects = recorded(steps)
    the(original).warn_pending = False  # the policy answered before the restore (or never will)
    alert, case = stored(original, effects)
    book, _ = restored(alert, case)
    same_incident(the(book), the(original))
    assert book.next_deadline() == original.next_deadline()


def test_a_second_restore_changes_nothing() -> None:
    original = dispatched_book()
    alert = inc.alert_record(the(original), CTX)
    book, first = restored(alert, None)
    assert first
    assert inc.on_restore(book, CTX, incident=alert, case=None) == []
    assert "is open here already" in (inc.restore_refusal(book, Alert.model_validate(alert)) or "")


def test_closed_or_taken_incidents_are_not_restored() -> None:
    original = warned_book()
    alert = inc.alert_record(the(original), CTX)
    closed = inc.Book(closed=[alert["incident_id"]])
    assert inc.on_restore(closed, CTX, incident=alert, case=None) == []
    other = inc.Book()
    violation(other, "started", T0 + 50, since=T0 + 49)  # a new sighting on the same zone
    assert inc.on_restore(other, CTX, incident=alert, case=None) == []
    assert len(other.open) == 1 and the(other).incident_id != alert["incident_id"]
    final = {**alert, "state": "closed"}
    assert inc.on_restore(inc.Book(), CTX, incident=final, case=None) == []


def test_restore_ids_depend_on_the_incident_and_its_version() -> None:
    assert inc.restore_id("inc-1", 7) == inc.restore_id("inc-1", 7)
    assert inc.restore_id("inc-1", 7) != inc.restore_id("inc-1", 8)
    assert inc.restore_id("inc-1", 7) != inc.restore_id("inc-2", 7)
