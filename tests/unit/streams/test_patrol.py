"""The patrol app's pure parts: the case list from dispatch and alert records, typed
commands, the automatic mode, the session loop with fakes, and the unit check."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from streams.clients.patrol import (
    AutoPlan,
    CaseBook,
    Command,
    PatrolSession,
    Problem,
    check_unit,
    clock_text,
    parse_command,
)
from streams.commands.patrol import loop
from streams.contract.errors import UsageError
from streams.contract.records import DispatchUpdate, decode
from streams.contract.timeutil import from_iso, to_iso
from tests.config_support import streams_config

T0 = from_iso("2026-05-26T02:00:00.000Z")
NOW = T0 + 10


def case(case_id: str = "case-1", unit: str = "unit-a", at: float = T0, **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "case_id": case_id,
        "incident_id": f"inc-{case_id}",
        "unit_id": unit,
        "grid_id": "grid-a",
        "category": {"key": "out_of_store_business", "code": "200504", "name": "店外经营"},
        "location": {"address": "和平路12号", "shop": "老王便利店", "grid_id": "grid-a"},
        "evidence": ["var/evidence/cam-a/1.jpg"],
        "created_at": to_iso(at),
        "due_at": to_iso(at + 1800),
        "state": "dispatched",
        "level": "street" if unit == "unit-a" else "district",
        **extra,
    }


def alert(case_id: str, state: str, n: int, note: str = "") -> dict[str, Any]:
    history = [{"at": to_iso(T0 + i), "state": state, "by": "x", "note": note} for i in range(n)]
    return {"incident_id": f"inc-{case_id}", "case_id": case_id, "state": state, "history": history}


# ---------------------------------------------------------------- the case list


def test_a_case_for_this_unit_joins_the_list_and_another_units_does_not() -> None:
    book = CaseBook("unit-a")
    [change] = book.apply_case(case("case-1"))
    assert change.kind == "new" and change.case.number == 1 and change.case.category == "店外经营"
    assert book.apply_case(case("case-2", unit="unit-d")) == []
    assert list(book.open) == ["case-1"]


def test_escalation_moves_the_case_to_the_other_unit() -> None:
    a, d = CaseBook("unit-a"), CaseBook("unit-d")
    for book in (a, d):
        book.apply_case(case("case-1"))
    later = case("case-1", unit="unit-d", at=T0 + 60, state="overdue")
    [gone] = a.apply_case(later)
    [new] = d.apply_case(later)
    assert gone.kind == "gone" and "unit-d" in gone.note and a.open == {}
    assert new.kind == "new" and "re-sent here from unit-a" in new.note and list(d.open) == ["case-1"]


def test_an_older_assignment_read_late_does_not_undo_the_escalation() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-1", unit="unit-d", at=T0 + 60))  # the newer record, read first
    assert book.apply_case(case("case-1", unit="unit-a", at=T0)) == []
    assert book.open == {}


def test_a_finished_case_leaves_and_never_comes_back() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-1"))
    [gone] = book.apply_alert(alert("case-1", "resolved", 5, "goods moved"))
    assert gone.kind == "gone" and gone.note == "resolved: goods moved"
    [done] = book.apply_alert(alert("case-1", "closed", 8, "verified by camera"))
    assert done.kind == "done" and done.case.state == "closed"
    assert book.apply_case(case("case-1")) == []  # a redelivered dispatch record
    assert book.open == {}


def test_a_close_read_before_its_dispatch_record_keeps_the_case_out() -> None:
    book = CaseBook("unit-a")
    assert book.apply_alert(alert("case-1", "closed", 9)) == []
    assert book.apply_case(case("case-1")) == []
    assert book.open == {}


def test_alert_states_update_the_case_and_stale_alerts_are_ignored() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-1"))
    [change] = book.apply_alert(alert("case-1", "accepted", 4, "on my way"))
    assert change.kind == "state" and book.open["case-1"].state == "accepted"
    assert book.apply_alert(alert("case-1", "dispatched", 3)) == []
    assert book.open["case-1"].state == "accepted"


def test_an_alert_read_before_the_dispatch_record_gives_the_case_its_state() -> None:
    book = CaseBook("unit-a")
    book.apply_alert(alert("case-1", "arrived", 5))
    [new] = book.apply_case(case("case-1"))
    assert new.case.state == "arrived"


def test_rework_is_a_new_case_with_a_new_number() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-1"))
    book.apply_alert(alert("case-1", "reopened", 7, "camera still sees it"))
    [new] = book.apply_case(case("case-2", at=T0 + 100, rework=1))
    assert new.case.number == 2 and "rework 1" in new.note
    assert list(book.open) == ["case-2"]


def test_find_by_number_or_id_prefix() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-abc"))
    book.apply_case(case("case-abd"))
    assert book.find("2") is book.open["case-abd"]
    assert book.find("case-abc") is book.open["case-abc"]
    assert book.find("case-ab") is None  # ambiguous
    assert book.find("7") is None


# ---------------------------------------------------------------- typed commands


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a 1", Command("update", "accepted", "1")),
        ("v 2", Command("update", "arrived", "2")),
        ("r 1 goods moved back inside", Command("update", "resolved", "1", "goods moved back inside")),
        ("resolve 1", Command("update", "resolved", "1")),
        ("j 3 not our street", Command("update", "rejected", "3", "not our street")),
        ("", Command("list")),
        ("l", Command("list")),
        ("q", Command("quit")),
        ("?", Command("help")),
    ],
)
def test_parse_command(line: str, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    ("line", "says"),
    [("x 1", "unknown command"), ("a", "needs a case number"), ("j 1", "needs a reason")],
)
def test_parse_command_problems(line: str, says: str) -> None:
    parsed = parse_command(line)
    assert isinstance(parsed, Problem) and says in parsed.message


# ---------------------------------------------------------------- the session


def live_session(auto: AutoPlan | None = None) -> PatrolSession:
    s = PatrolSession("unit-a", auto=auto)
    s.on_case(case("case-1"), NOW)
    s.go_live(NOW)
    return s


def test_go_live_lists_the_open_cases_with_due_time_and_evidence() -> None:
    s = PatrolSession("unit-a")
    assert s.on_case(case("case-1"), NOW).lines == []  # catching up: nothing printed per record
    lines = s.go_live(NOW).lines
    assert lines[0] == "unit unit-a: 1 open case(s)"
    assert "#1 店外经营 @ 和平路12号 (老王便利店) | dispatched" in lines[1]
    assert f"due {clock_text(to_iso(T0 + 1800), 'Asia/Shanghai')} (in 29m50s)" in lines[1]
    assert "evidence: var/evidence/cam-a/1.jpg" in lines[1]


def test_accept_then_resolve_sends_contract_updates() -> None:
    s = live_session()
    out = s.on_line("a 1", NOW)
    [update] = out.updates
    rec = decode(DispatchUpdate, update)
    assert (rec.case_id, rec.unit_id, rec.status, rec.at) == ("case-1", "unit-a", "accepted", to_iso(NOW))
    out = s.on_line("r 1 goods moved back inside", NOW + 5)
    assert [(u["status"], u["note"]) for u in out.updates] == [("resolved", "goods moved back inside")]
    assert s.on_line("a 1", NOW + 6).updates == []  # resolved already: nothing more to accept


def test_acting_on_an_unknown_case_says_which_are_open() -> None:
    out = live_session().on_line("a 9", NOW)
    assert out.updates == [] and "open: 1" in out.lines[0]


def test_auto_mode_steps_through_accept_arrive_resolve() -> None:
    s = live_session(AutoPlan(accept_after=2, arrive_after=3, resolve_after=4, max_cases=1))
    sent: list[tuple[float, str]] = []
    for dt in range(0, 12):
        sent += [(dt, u["status"]) for u in s.on_tick(NOW + dt).updates]
    assert sent == [(2, "accepted"), (5, "arrived"), (9, "resolved")]
    assert s.auto_finished()


def test_auto_mode_continues_a_case_taken_over_in_its_accepted_state() -> None:
    s = PatrolSession("unit-a", auto=AutoPlan(accept_after=1, arrive_after=1, resolve_after=1))
    s.on_case(case("case-1"), NOW)
    s.on_alert(alert("case-1", "accepted", 4), NOW)
    s.go_live(NOW)
    statuses = [u["status"] for dt in range(4) for u in s.on_tick(NOW + dt).updates]
    assert statuses == ["arrived", "resolved"]


def test_auto_mode_ignores_another_units_case() -> None:
    s = live_session(AutoPlan(accept_after=0, arrive_after=0, resolve_after=0))
    s.on_case(case("case-1", unit="unit-d", at=T0 + 1), NOW)
    assert s.on_tick(NOW + 1).updates == []


# ---------------------------------------------------------------- the loop, with fakes


class FakeSource:
    def __init__(self, batches: list[list[tuple[str, dict[str, Any]]]]) -> None:
        self.batches = batches

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        return self.batches.pop(0) if self.batches else []

    def caught_up(self) -> bool:
        return True

    def reconcile(self, case_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
        return []


class FakeSink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, case_id: str, value: dict[str, Any]) -> None:
        self.sent.append((case_id, value))


def test_loop_reads_typed_lines_until_end_of_input() -> None:
    lines: queue.Queue[str | None] = queue.Queue()
    for line in ("a 1", "r 1 done", None):
        lines.put(line)
    sink, printed = FakeSink(), []
    session = PatrolSession("unit-a")
    loop(
        session,
        FakeSource([[("case", case("case-1"))]]),
        sink,
        lines,
        threading.Event(),
        clock=lambda: NOW,
        write=printed.append,
    )
    assert [(k, v["status"]) for k, v in sink.sent] == [("case-1", "accepted"), ("case-1", "resolved")]
    assert session.quit and printed[0] == "unit unit-a: 1 open case(s)"


# ---------------------------------------------------------------- options


def test_check_unit_names_the_known_units() -> None:
    check_unit(streams_config(), "unit-a")
    with pytest.raises(UsageError, match="known units: unit-a, unit-d"):
        check_unit(streams_config(), "unit-x")


def test_cases_finished_in_the_history_take_no_number() -> None:
    s = PatrolSession("unit-a")
    s.on_case(case("case-old"), NOW)
    s.on_alert(alert("case-old", "closed", 9), NOW)
    s.on_case(case("case-1"), NOW)
    lines = s.go_live(NOW).lines
    assert lines[0] == "unit unit-a: 1 open case(s)" and lines[1].startswith("#1 ") and "case-1" in lines[1]
    [new] = s.book.apply_case(case("case-2", at=T0 + 5))
    assert new.case.number == 2
