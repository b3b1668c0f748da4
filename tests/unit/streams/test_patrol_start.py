"""What the case record adds to a patrol's start and to the board (pure parts, with fakes): a case
the record says is over leaves the list before it is shown; an earlier dispatch of a case read
after its re-send changes nothing on the board."""

from __future__ import annotations

import queue
import threading
from typing import Any

from streams.clients.patrol import CaseBook, PatrolSession
from streams.commands.patrol import loop
from streams.web.board import Board

from .test_patrol import NOW, T0, case

Item = tuple[str, dict[str, Any]]


class SeededSource:
    """Hands over ``seed``, then nothing; ``reconcile`` answers what the case record says."""

    def __init__(self, seed: list[Item], record: list[Item]) -> None:
        self.seed, self.record = seed, record
        self.asked: list[list[str]] = []

    def poll(self, timeout_s: float) -> list[Item]:
        out, self.seed = self.seed, []
        return out

    def caught_up(self) -> bool:
        return not self.seed

    def reconcile(self, case_ids: list[str]) -> list[Item]:
        self.asked.append(sorted(case_ids))
        return self.record


def test_a_case_the_record_says_is_over_is_gone_before_the_list_is_shown() -> None:
    superseded = case("case-1")
    escalated = case("case-2")
    source = SeededSource(
        [("case", superseded), ("case", escalated), ("case", case("case-3"))],
        [
            ("case", case("case-2", unit="unit-d", at=T0 + 60)),
            ("over", {"case_id": "case-1", "state": "superseded"}),
        ],
    )
    lines: queue.Queue[str | None] = queue.Queue()
    lines.put(None)
    printed: list[str] = []
    session = PatrolSession("unit-a")
    loop(session, source, _Sink(), lines, threading.Event(), clock=lambda: NOW, write=printed.append)
    assert source.asked == [["case-1", "case-2", "case-3"]]
    assert printed[0] == "unit unit-a: 1 open case(s)" and "case-3" in printed[1]
    assert session.book.finished == {"case-1": "superseded"}


def test_over_finishes_a_case_once_and_keeps_it_finished() -> None:
    book = CaseBook("unit-a")
    book.apply_case(case("case-1"))
    [gone] = book.apply_over("case-1", "closed")
    assert gone.kind == "gone" and gone.note == "closed (by the case record)" and book.open == {}
    assert book.apply_over("case-1", "closed") == []
    assert book.apply_case(case("case-1")) == []  # a dispatch read later cannot bring it back


class _Sink:
    def send(self, case_id: str, value: dict[str, Any]) -> None:
        raise AssertionError(f"nothing is sent by a session that is only shown its list ({case_id})")


def test_an_earlier_dispatch_read_after_the_re_send_changes_nothing_on_the_board() -> None:
    board = Board()
    board.apply_case(case("case-1", unit="unit-d", at=T0 + 60))
    assert board.apply_case(case("case-1", unit="unit-a", at=T0)) is None
    assert board.cases["case-1"]["unit_id"] == "unit-d" and board.assigned("inc-case-1") == "unit-d"
    assert board.apply_case(case("case-1", unit="unit-d", at=T0 + 60, level="district")) is not None
