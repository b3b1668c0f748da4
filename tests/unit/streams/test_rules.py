"""Dwell rules as tables of frames: inertia, dwell, gap tolerance, id switches, active hours, clear."""

from __future__ import annotations

import pytest

from streams.contract.timeutil import from_iso
from streams.logic.rules import CameraRules, CameraState, Sighting, StepResult, ZoneRule, step

BASE = from_iso("2026-05-26T02:00:00.000Z")  # 10:00 in Asia/Shanghai


def rules(**over: object) -> CameraRules:
    params: dict[str, object] = {
        "zone_id": "storefront",
        "category": "out_of_store_business",
        "labels": frozenset({"bench", "chair"}),
        "inertia": 3,
        "dwell_s": 10.0,
        "gap_s": 3.0,
        "clear_s": 5.0,
        "active_hours": None,
    }
    params.update(over)
    return CameraRules("cam-1", "Asia/Shanghai", (ZoneRule(**params),))  # type: ignore[arg-type]


def seen(label: str = "bench", zone: str = "storefront") -> list[Sighting]:
    return [Sighting(label, [zone])]


def run(
    r: CameraRules, frames: list[tuple[float, list[Sighting]]], state: CameraState | None = None
) -> list[tuple[float, str]]:
    """Feed (seconds after BASE, objects) frames; return (time, event state) pairs."""
    state = state or CameraState()
    out = []
    for seq, (dt, objs) in enumerate(frames):
        res = step(state, r, BASE + dt, seq, objs)
        out.extend((ev.at - BASE, ev.state) for ev in res.events)
    return out


def every(
    start: float, end: float, objs: list[Sighting], step_s: float = 1.0
) -> list[tuple[float, list[Sighting]]]:
    n = round((end - start) / step_s)
    return [(start + i * step_s, objs) for i in range(n)]


def test_dwell_satisfied_starts_once() -> None:
    assert run(rules(), every(0, 15, seen())) == [(10.0, "started")]


def test_inertia_needs_consecutive_sightings() -> None:
    # two sightings, a miss, two sightings, a miss...: never three in a row
    frames = [(float(t), seen() if t % 3 != 2 else []) for t in range(30)]
    assert run(rules(), frames) == []


def test_single_flicker_does_not_count() -> None:
    frames = [(0.0, seen()), *every(1, 30, [])]
    assert run(rules(), frames) == []


def test_gap_within_tolerance_keeps_dwell() -> None:
    # seen 0..5, hidden by a passer-by 5..7 (2 s < gap 3 s), seen again until 12
    frames = every(0, 5, seen()) + every(5, 7, []) + every(7, 12, seen())
    assert run(rules(), frames) == [(10.0, "started")]


def test_gap_beyond_tolerance_resets_dwell() -> None:
    frames = every(0, 5, seen()) + every(5, 10, []) + every(10, 22, seen())
    # restarted at 10 s: inertia again, dwell from 10 s -> started at 20 s
    assert run(rules(), frames) == [(20.0, "started")]


def test_tracker_id_switch_is_irrelevant() -> None:
    # a bench then a chair (as if the tracker lost and re-found the object under another label/id)
    frames = every(0, 6, seen("bench")) + every(6, 12, seen("chair"))
    assert run(rules(), frames) == [(10.0, "started")]


def test_other_labels_and_zones_do_not_count() -> None:
    assert run(rules(), every(0, 20, seen("person"))) == []
    assert run(rules(), every(0, 20, seen("bench", zone="kerb"))) == []


def test_cleared_after_clear_s_without_sighting() -> None:
    frames = every(0, 12, seen()) + every(12, 20, [])
    # last sighting at 11 s; cleared when 5 s passed: at 16 s
    assert run(rules(), frames) == [(10.0, "started"), (16.0, "cleared")]


def test_ongoing_is_announced_periodically() -> None:
    events = run(rules(), every(0, 75, seen()))
    assert events == [(10.0, "started"), (40.0, "ongoing"), (70.0, "ongoing")]


def test_active_hours_outside_ignored() -> None:
    # 07:00-09:00 local; BASE is 10:00 local
    assert run(rules(active_hours="07:00-09:00"), every(0, 20, seen())) == []
    assert run(rules(active_hours="09:00-11:00"), every(0, 20, seen())) == [(10.0, "started")]


def test_leaving_active_hours_clears() -> None:
    r = rules(active_hours="09:00-10:00")
    # goods from 09:59:45 local on; at 10:00 the zone's hours end and sightings stop counting
    frames = [(-15.0 + i, seen()) for i in range(30)]
    # started after 10 s of dwell (09:59:55); last counted sighting 09:59:59; cleared 5 s later
    assert run(r, frames) == [(-5.0, "started"), (4.0, "cleared")]


def test_redelivered_and_old_frames_are_ignored() -> None:
    state = CameraState()
    r = rules()
    for i in range(12):
        step(state, r, BASE + i, i, seen())
    again = step(state, r, BASE + 5, 5, seen())
    assert again == StepResult([], save=False, duplicate=True)


def test_state_round_trips_through_json() -> None:
    state = CameraState()
    r = rules()
    for i in range(8):
        step(state, r, BASE + i, i, seen())
    restored = CameraState.from_json(state.to_json())
    events = [e.state for i in range(8, 12) for e in step(restored, r, BASE + i, i, seen()).events]
    assert events == ["started"]


def test_saves_on_transitions_not_every_frame() -> None:
    state = CameraState()
    r = rules()
    saves = [step(state, r, BASE + i * 0.5, i, seen()).save for i in range(40)]
    # transitions at frame 0 (pending), 2 (dwelling), 20 (active) plus checkpoints every 5 s
    assert saves[0] and saves[2] and saves[20]
    assert sum(saves) <= 8


@pytest.mark.parametrize("inertia", [1, 2, 5])
def test_inertia_values(inertia: int) -> None:
    events = run(rules(inertia=inertia, dwell_s=0.0), every(0, 10, seen()))
    assert events[0] == (float(inertia - 1), "started")
