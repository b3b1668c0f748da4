"""Camera health: blip tolerance, offline / online, degraded, silence (pure)."""

from __future__ import annotations

import pytest

from streams.config.models import Health
from streams.logic.camera_health import CameraHealth, next_deadline, on_status, on_tick

CFG = Health(blip_s=30, degraded_fps_ratio=0.5, degraded_for_s=60, status_timeout_s=120)
DETECT_FPS = 2.0

# (time, what) -> events as "kind@time"; "tick" is a timer tick, else (status, fps)
Script = list[tuple[float, str | tuple[str, float]]]


def run(script: Script, state: CameraHealth | None = None) -> list[str]:
    state = state or CameraHealth()
    out: list[str] = []
    for t, what in script:
        if what == "tick":
            step = on_tick(state, CFG, now=t)
        else:
            status, fps = what
            step = on_status(state, CFG, status=status, fps=fps, reason="", at=t, detect_fps=DETECT_FPS)
        out += [f"{e.kind}@{t:g}" for e in step.events]
    return out


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # a blip: offline for less than blip_s opens nothing and holds nothing
        ([(0, ("online", 25)), (10, ("offline", 0)), (30, "tick"), (35, ("online", 25)), (70, "tick")], []),
        # offline past the tolerance (confirmed by a tick), then back online
        (
            [(0, ("online", 25)), (10, ("offline", 0)), (39, "tick"), (40, "tick"), (90, ("online", 25))],
            ["offline@40", "hold@40", "online@90", "release@90"],
        ),
        # offline records keep coming: the outage counts from the first one
        ([(0, ("offline", 0)), (15, ("offline", 0)), (30, ("offline", 0))], ["offline@30", "hold@30"]),
        # degraded (low fps) long enough holds, without a camera-offline incident; full fps releases
        (
            [(0, ("online", 0.5)), (30, ("online", 0.5)), (60, "tick"), (61, ("online", 2))],
            ["hold@60", "release@61"],
        ),
        # status degraded at full fps counts as degraded too; a short one is forgotten
        ([(0, ("degraded", 25)), (20, ("online", 25)), (100, "tick")], []),
        # silence: no status for status_timeout_s means offline since the last status
        (
            [(0, ("online", 25)), (100, "tick"), (120, "tick"), (200, ("online", 25))],
            ["offline@120", "hold@120", "online@200", "release@200"],
        ),
        # offline then slow: the camera-offline incident clears, the hold stays until full fps
        (
            [(0, ("offline", 0)), (40, "tick"), (50, ("online", 0.2)), (200, ("online", 2))],
            ["offline@40", "hold@40", "online@50", "release@200"],
        ),
        # a camera never heard from is not judged
        ([(1000, "tick")], []),
        # an older record than the newest one (redelivery) changes nothing
        (
            [(0, ("online", 25)), (10, ("offline", 0)), (5, ("online", 25)), (45, "tick")],
            ["offline@45", "hold@45"],
        ),
    ],
)
def test_health_table(script: Script, expected: list[str]) -> None:
    assert run(script) == expected


def test_next_deadline_follows_what_is_pending() -> None:
    state = CameraHealth()
    assert next_deadline(state, CFG) is None
    run([(0, ("online", 25))], state)
    assert next_deadline(state, CFG) == 120  # silence
    run([(10, ("offline", 0))], state)
    assert next_deadline(state, CFG) == 40  # blip tolerance
    run([(40, "tick")], state)
    assert next_deadline(state, CFG) is None  # confirmed offline: nothing until a status
    run([(50, ("online", 0.1))], state)
    assert next_deadline(state, CFG) == 170  # held already, only silence remains


def test_state_round_trips_through_json() -> None:
    state = CameraHealth()
    run([(0, ("online", 25)), (10, ("offline", 0))], state)
    again = CameraHealth.from_json(state.to_json())
    assert again == state
    assert run([(40, "tick")], again) == ["offline@40", "hold@40"]
