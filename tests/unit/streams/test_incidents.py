"""The incident lifecycle, transition by transition (pure functions, explicit times)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc

from ...config_support import streams_config

T0 = from_iso("2026-05-26T02:00:00.000Z")
CTX = inc.ConfigIndex(streams_config())


def violation(book: inc.Book, state: str, at: float, since: float = T0, **kw: Any) -> list[inc.Effect]:
    params: dict[str, Any] = {
        "camera_id": "cam-a",
        "zone_id": "storefront",
        "category": "out_of_store_business",
        "state": state,
        "since": since,
        "at": at,
        "labels": ["bench"],
        "evidence": [],
    }
    params.update(kw)
    return inc.on_violation(book, CTX, **params)


def states(effects: list[inc.Effect]) -> list[str]:
    return [e.value["state"] for e in effects if e.kind == "alert"]


def kinds(effects: list[inc.Effect]) -> list[str]:
    return [e.kind for e in effects]


def the(book: inc.Book) -> inc.Incident:
    [only] = book.open.values()
    return only


def warned_book() -> inc.Book:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    inc.on_outcome(
        book, CTX, incident_id=the(book).incident_id, decision="sent", reason="", text="请…", at=T0 + 2.1
    )
    return book


def dispatched_book() -> inc.Book:
    book = warned_book()
    inc.on_tick(book, CTX, T0 + 6)  # grace 3 s after the warning at 2.1
    assert the(book).state == "dispatched"
    return book


def update(book: inc.Book, status: str, at: float, unit: str = "unit-a") -> list[inc.Effect] | None:
    case_id = the(book).case_id
    assert case_id is not None
    return inc.on_update(book, CTX, case_id=case_id, unit_id=unit, status=status, note="", at=at)


def test_started_opens_one_incident_and_asks_for_a_warning() -> None:
    book = inc.Book()
    effects = violation(book, "started", T0 + 2)
    assert states(effects) == ["open"]
    [warn] = [e for e in effects if e.kind == "warn"]
    assert warn.key == "spk-a"
    assert warn.value["text"] == "老王便利店请注意：请将店外经营物品放回店内，不要占道经营。"
    assert the(book).incident_id == warn.value["incident_id"]


def test_second_sighting_never_opens_a_twin() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    again = violation(book, "started", T0 + 2)  # redelivered
    more = violation(book, "ongoing", T0 + 2.5)
    assert len(book.open) == 1
    assert states(again) == [] and states(more) == []


def test_ids_are_deterministic() -> None:
    a, b = inc.Book(), inc.Book()
    violation(a, "started", T0 + 2)
    violation(b, "started", T0 + 2)
    assert the(a).incident_id == the(b).incident_id
    c = inc.Book()
    violation(c, "started", T0 + 9, since=T0 + 7)
    assert the(c).incident_id != the(a).incident_id


def test_warning_sent_then_cleared_within_grace_closes() -> None:
    book = warned_book()
    assert the(book).state == "warned"
    effects = violation(book, "cleared", T0 + 4)
    assert states(effects) == ["cleared", "closed"]
    assert effects[-1].value["history"][-1]["note"] == "the warning worked"
    assert book.open == {}


def test_cleared_incident_redelivered_does_not_reopen() -> None:
    book = warned_book()
    violation(book, "cleared", T0 + 4)
    assert violation(book, "started", T0 + 2) == []  # the old started, redelivered
    assert book.open == {}


def test_still_there_after_grace_dispatches_to_grid_unit() -> None:
    book = warned_book()
    assert inc.on_tick(book, CTX, T0 + 5.0) == []  # grace runs to 5.1
    effects = inc.on_tick(book, CTX, T0 + 5.2)
    assert states(effects) == ["dispatched"]
    [case] = [e for e in effects if e.kind == "dispatch"]
    assert case.key == "unit-a"
    assert case.value["level"] == "street"
    assert from_iso(case.value["created_at"]) == pytest.approx(T0 + 5.1)  # stamped at the deadline
    assert from_iso(case.value["due_at"]) == pytest.approx(T0 + 5.1 + 30)
    assert kinds(effects).count("case") == 1


def test_suppressed_warning_is_recorded_and_grace_still_runs() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    effects = inc.on_outcome(
        book,
        CTX,
        incident_id=the(book).incident_id,
        decision="suppressed",
        reason="quiet hours",
        text="",
        at=T0 + 2,
    )
    assert effects[0].value["history"][-1]["note"] == "warning suppressed: quiet hours"
    assert the(book).state == "open"
    assert states(inc.on_tick(book, CTX, T0 + 5.5)) == ["dispatched"]


def test_closed_loop_resolved_verified_closed() -> None:
    book = dispatched_book()
    assert states(update(book, "accepted", T0 + 7) or []) == ["accepted"]
    assert states(update(book, "arrived", T0 + 8) or []) == ["arrived"]
    violation(book, "cleared", T0 + 8.5)
    assert states(update(book, "resolved", T0 + 9) or []) == ["resolved", "verifying"]
    assert inc.on_tick(book, CTX, T0 + 11) == []
    effects = inc.on_tick(book, CTX, T0 + 12.5)
    assert states(effects) == ["verified", "closed"]
    assert book.open == {}


def test_camera_still_sees_it_after_resolve_reopens_as_rework() -> None:
    book = dispatched_book()
    first_case = the(book).case_id
    update(book, "resolved", T0 + 9)
    violation(book, "ongoing", T0 + 10)
    effects = inc.on_tick(book, CTX, T0 + 12.5)
    assert states(effects) == ["reopened", "dispatched"]
    assert the(book).rework == 1
    assert the(book).case_id != first_case
    [case] = [e for e in effects if e.kind == "dispatch"]
    assert case.value["rework"] == 1


def test_no_word_from_the_camera_after_resolve_waits_then_decides() -> None:
    book = dispatched_book()
    update(book, "resolved", T0 + 9)  # verify until 12
    # nothing from the camera yet (its clear may be on its way): keep verifying
    waited = inc.on_tick(book, CTX, T0 + 12.5)
    assert (
        states(waited) == ["verifying"]
        and "no report from the camera yet" in waited[0].value["history"][-1]["note"]
    )
    assert the(book).rework == 0
    # the clear arrives late: verified at the extended deadline
    violation(book, "cleared", T0 + 13)
    assert states(inc.on_tick(book, CTX, T0 + 15.5)) == ["verified", "closed"]


def test_silent_camera_is_not_waited_for_forever() -> None:
    book = dispatched_book()
    update(book, "resolved", T0 + 9)
    outcomes = [states(inc.on_tick(book, CTX, T0 + 12 + 3 * i)) for i in range(inc.MAX_VERIFY_WAITS + 1)]
    assert outcomes[:-1] == [["verifying"]] * inc.MAX_VERIFY_WAITS
    assert outcomes[-1] == ["reopened", "dispatched"]


def test_overdue_escalates_one_level() -> None:
    book = dispatched_book()  # dispatched at 5.1, due 35.1
    update(book, "accepted", T0 + 7)
    assert inc.on_tick(book, CTX, T0 + 35) == []
    effects = inc.on_tick(book, CTX, T0 + 36)
    assert states(effects)[:2] == ["overdue", "overdue"]
    [case] = [e for e in effects if e.kind == "dispatch"]
    assert case.key == "unit-d" and case.value["level"] == "district"
    assert the(book).unit_id == "unit-d"
    # the district has no higher level: when that is overdue too it is noted once
    later = inc.on_tick(book, CTX, T0 + 70)
    assert [e.value["history"][-1]["note"] for e in later if e.kind == "alert"][
        -1
    ] == "no higher level to escalate to"
    assert inc.on_tick(book, CTX, T0 + 80) == []


def test_update_from_another_unit_is_ignored_and_recorded() -> None:
    book = dispatched_book()
    effects = update(book, "resolved", T0 + 7, unit="unit-x") or []
    assert the(book).state == "dispatched"
    assert "ignored" in effects[0].value["history"][-1]["note"]


def test_duplicate_and_out_of_order_updates_are_harmless() -> None:
    book = dispatched_book()
    update(book, "accepted", T0 + 7)
    assert update(book, "accepted", T0 + 7) == []
    update(book, "resolved", T0 + 8)
    assert update(book, "arrived", T0 + 8.5) == []
    assert the(book).state == "verifying"


def test_unknown_case_returns_none() -> None:
    book = dispatched_book()
    assert (
        inc.on_update(book, CTX, case_id="case-nope", unit_id="unit-a", status="accepted", note="", at=T0)
        is None
    )


def test_rejected_escalates() -> None:
    book = dispatched_book()
    update(book, "rejected", T0 + 7)
    assert the(book).unit_id == "unit-d"


def test_held_incident_is_not_cleared_or_verified_and_release_resumes() -> None:
    book = dispatched_book()
    update(book, "resolved", T0 + 7)
    inc.set_held(book, CTX, held=True, reason="camera offline", at=T0 + 7.5)
    assert inc.on_tick(book, CTX, T0 + 20) == []
    assert the(book).state == "verifying"
    effects = inc.set_held(book, CTX, held=False, reason="camera online", at=T0 + 21)
    assert (
        next(e.value["history"][-1]["note"] for e in effects if e.kind == "alert")
        == "released: camera online"
    )
    # the camera has said nothing since the resolve: verification goes on, it needs its word
    assert states(effects)[1:] == ["verifying"]
    assert the(book).rework == 0


def test_book_round_trips_through_json() -> None:
    book = dispatched_book()
    again = inc.Book.from_json(book.to_json())
    assert again.to_json() == book.to_json()


def test_operator_actions() -> None:
    book = inc.Book()
    violation(book, "started", T0 + 2)
    iid = the(book).incident_id
    assert states(
        inc.on_operator(book, CTX, incident_id=iid, action="dispatch", by="op1", reason="", at=T0 + 3) or []
    ) == ["dispatched"]
    effects = (
        inc.on_operator(book, CTX, incident_id=iid, action="close", by="op1", reason="duplicate", at=T0 + 4)
        or []
    )
    assert states(effects) == ["closed"]
    assert book.open == {}
