"""Overdue cases climb the escalation chain one level per overdue period: a grid's unit, its
street office, the district (pure logic, explicit times)."""

from __future__ import annotations

from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc

from ...config_support import parse
from ..test_levels_config import levels_site

T0 = from_iso("2026-05-26T02:00:00.000Z")
CTX = inc.ConfigIndex(parse(levels_site()))


def dispatched(book: inc.Book) -> inc.Incident:
    inc.on_violation(
        book,
        CTX,
        camera_id="cam-a",
        zone_id="storefront",
        category="out_of_store_business",
        state="started",
        since=T0,
        at=T0 + 2,
        labels=["bench"],
        evidence=[],
    )
    [only] = book.open.values()
    inc.on_outcome(
        book, CTX, incident_id=only.incident_id, decision="sent", reason="", text="请…", at=T0 + 2.1
    )
    inc.on_tick(book, CTX, T0 + 6)  # grace 3 s after the warning
    assert only.state == "dispatched" and only.unit_id == "unit-a"
    return only


def dispatches(effects: list[inc.Effect]) -> list[tuple[str, str]]:
    return [(e.key, e.value["level"]) for e in effects if e.kind == "dispatch"]


def test_an_overdue_case_climbs_to_the_street_office_then_to_the_district() -> None:
    book = inc.Book()
    case = dispatched(book)
    climbed = []
    for _ in range(2):
        assert case.due_at is not None
        assert dispatches(inc.on_tick(book, CTX, case.due_at - 0.5)) == []  # not yet due
        climbed += dispatches(inc.on_tick(book, CTX, case.due_at + 0.5))
    assert climbed == [("office-n", "street_office"), ("unit-d", "district")]
    assert (case.unit_id, case.level) == ("unit-d", "district")
    notes = [h["note"] for h in case.history]
    assert "overdue: escalated from unit-a to office-n (street_office)" in notes
    assert "overdue: escalated from office-n to unit-d (district)" in notes
    # the district is the top: overdue there is noted, and nothing climbs further
    assert case.due_at is not None
    last = inc.on_tick(book, CTX, case.due_at + 0.5)
    assert dispatches(last) == []
    assert [e.value["history"][-1]["note"] for e in last if e.kind == "alert"][
        -1
    ] == "no higher level to escalate to"
