"""A robot's pace (a clock passed in): per_minute messages a window, a digest of what waited,
backoff after a failure; and the outbox that de-duplicates and stays bounded."""

from __future__ import annotations

from pathlib import Path

from streams.backoff import Backoff
from streams.notify.events import Event
from streams.notify.outbox import Outbox
from streams.notify.pacing import Pace


def drain(pace: Pace, waiting: list[int], now: float) -> list[list[int]]:
    """Every message the pace allows at ``now``, each sent successfully."""
    out = []
    while chosen := pace.plan(now, waiting):
        pace.sent(now)
        out.append(chosen)
        waiting[:] = [k for k in waiting if k not in chosen]
    return out


def test_a_burst_of_25_is_20_messages_then_one_digest_of_5_when_the_window_opens() -> None:
    pace = Pace(20, window_s=60)
    waiting = list(range(25))
    first = drain(pace, waiting, 0.0)
    assert first == [[k] for k in range(20)] and pace.held
    assert drain(pace, waiting, 59.9) == []  # still the same window
    assert drain(pace, waiting, 60.0) == [[20, 21, 22, 23, 24]]
    assert not pace.held and waiting == []
    assert drain(pace, [99], 60.5) == [[99]]  # after the digest: one event, one message


def test_the_window_slides_a_message_leaves_it_one_more_may_go() -> None:
    pace = Pace(2, window_s=10)
    waiting = [1, 2, 3]
    assert drain(pace, waiting, 0.0) == [[1], [2]]
    pace_later = drain(pace, waiting, 10.0)
    assert pace_later == [[3]]  # one waited: alone, it is sent as itself


def test_a_digest_takes_at_most_digest_max_and_the_rest_waits_for_the_next() -> None:
    pace = Pace(1, window_s=10, digest_max=3)
    waiting = list(range(8))
    assert drain(pace, waiting, 0.0) == [[0]]
    assert drain(pace, waiting, 10.0) == [[1, 2, 3]]
    assert drain(pace, waiting, 20.0) == [[4, 5, 6]]  # still held: the next is a digest too
    assert drain(pace, waiting, 30.0) == [[7]]


def test_a_failure_waits_out_the_backoff_and_three_in_a_row_mark_the_robot_failing() -> None:
    pace = Pace(20, backoff=Backoff(1.0, 2.0, 8.0))
    assert pace.plan(0.0, [1]) == [1]
    assert pace.failed(0.0) == 1.0
    assert pace.plan(0.5, [1]) == []
    assert pace.plan(1.0, [1]) == [1]
    assert pace.failed(1.0) == 2.0 and not pace.failing
    pace.failed(3.0)
    assert pace.failing
    pace.sent(7.0)
    assert not pace.failing and pace.plan(7.0, [2]) == [2]


def test_a_restored_window_counts_messages_sent_before_a_restart() -> None:
    pace = Pace(2, window_s=60)
    pace.restore([10.0, 20.0])
    assert pace.plan(30.0, [1]) == [] and pace.plan(70.0, [1]) == [1]


def _event(n: int) -> Event:
    return Event("dispatched", f"dispatched:case-{n}", 1.0, f"inc-{n}", "c", "名", "地址", "grid-a")


def test_the_outbox_adds_an_event_once_per_robot_even_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "var" / "notify.db"
    box = Outbox(path)
    assert box.add([(_event(1), "a"), (_event(1), "b")], now=1.0) == 2
    box.mark_sent("a", ["dispatched:case-1"], now=2.0)
    box.close()
    box = Outbox(path)
    assert box.add([(_event(1), "a"), (_event(1), "b"), (_event(2), "a")], now=3.0) == 1
    assert [e.key for e in box.waiting("a", 10)] == ["dispatched:case-2"]
    assert [e.key for e in box.waiting("b", 10)] == ["dispatched:case-1"]
    assert box.sent_since("a", 1.5) == [2.0]


def test_the_outbox_forgets_the_oldest_sent_rows_past_its_bound_never_a_waiting_one(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "n.db")
    box.add([(_event(n), "a") for n in range(10)], now=0.0)
    for n in range(8):
        box.mark_sent("a", [f"dispatched:case-{n}"], now=float(n))
    assert box.prune(keep=3) == 5
    assert (box.count(sent=True), box.count(sent=False)) == (3, 2)
    assert sorted(box.sent_since("a", -1)) == [5.0, 6.0, 7.0]
    box.add([(_event(20), "gone")], now=9.0)
    assert box.waiting_for_others(["a"]) == {"gone": 1}
