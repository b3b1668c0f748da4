"""The motion gate and the sampler on synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.motion import MotionGate, motion_score, small_grey
from detectors.sampling import Sampler


def scene(block_x: int | None = None, noise: int = 0, seed: int = 0) -> np.ndarray:
    """A 1080p street-like picture: gradient, a few fixed shapes, optionally a moving block."""
    rng = np.random.default_rng(seed)
    img = np.tile(np.linspace(40, 200, 1920, dtype=np.uint8), (1080, 1))
    img = np.dstack([img, img, img]).copy()
    img[600:900, 100:400] = (30, 30, 120)  # goods left on the walkway: never move
    if block_x is not None:
        img[300:500, block_x : block_x + 200] = (250, 250, 250)
    if noise:
        img = np.clip(img.astype(np.int16) + rng.integers(-noise, noise + 1, img.shape), 0, 255)
    return img.astype(np.uint8)


def test_first_frame_is_inferred() -> None:
    gate = MotionGate(threshold=0.002, recheck_s=10)
    d = gate.decide(scene(), 0.0)
    assert d.infer and d.reason == "first"


def test_still_frames_skipped_until_recheck() -> None:
    gate = MotionGate(threshold=0.002, recheck_s=10)
    still = scene()
    decisions = [gate.decide(still, t * 0.5) for t in range(41)]  # 20 s at 2 fps
    inferred_at = [t * 0.5 for t, d in enumerate(decisions) if d.infer]
    assert inferred_at == [0.0, 10.0, 20.0]
    assert {d.reason for d in decisions if d.infer} == {"first", "recheck"}
    assert all(d.score == 0.0 for d in decisions[1:])


def test_sensor_noise_is_not_motion() -> None:
    gate = MotionGate(threshold=0.002, recheck_s=10)
    gate.decide(scene(noise=6, seed=1), 0.0)
    for i in range(2, 10):
        d = gate.decide(scene(noise=6, seed=i), i * 0.5)
        assert not d.infer, d


def test_moving_object_triggers_inference() -> None:
    gate = MotionGate(threshold=0.002, recheck_s=10)
    gate.decide(scene(block_x=0), 0.0)
    d = gate.decide(scene(block_x=300), 0.5)
    assert d.infer and d.reason == "motion" and d.score > 0.002


def test_slow_change_adds_up_against_the_last_inferred_frame() -> None:
    # a block creeping 4 px per frame: each step alone is below the threshold,
    # but against the last inferred frame the change accumulates until it counts
    gate = MotionGate(threshold=0.004, recheck_s=1000)
    gate.decide(scene(block_x=0), 0.0)
    step = motion_score(small_grey(scene(block_x=0)), small_grey(scene(block_x=4)))
    assert step <= 0.004
    inferred = [x for x in range(4, 200, 4) if gate.decide(scene(block_x=x), x / 4).infer]
    assert inferred, "creeping change never triggered inference"


def test_still_scene_costs_a_fraction_of_a_busy_one() -> None:
    still_gate, busy_gate = MotionGate(0.002, 10), MotionGate(0.002, 10)
    still = scene()
    still_runs = sum(still_gate.decide(still, t * 0.5).infer for t in range(60))
    busy_runs = sum(busy_gate.decide(scene(block_x=(t * 150) % 1700), t * 0.5).infer for t in range(60))
    assert busy_runs == 60
    assert still_runs * 5 <= busy_runs


def test_source_restart_resets_the_gate() -> None:
    gate = MotionGate(0.002, 10)
    gate.decide(scene(), 5.0)
    assert gate.decide(scene(), 0.0).reason == "first"


@pytest.mark.parametrize(
    ("fps", "native", "seconds", "expected"),
    [
        (2.0, 30.0, 10.0, 20),
        (1.0, 25.0, 10.0, 10),
        (5.0, 12.5, 4.0, 20),  # 12.5 fps cannot give exactly 5: frames 0, 3, 5, 8, 10...
        (None, 30.0, 1.0, 30),
        (30.0, 10.0, 2.0, 20),  # asking more than the source has gives every frame
    ],
)
def test_sampler_rates(fps: float | None, native: float, seconds: float, expected: int) -> None:
    sampler = Sampler(fps)
    taken = sum(sampler.take(i / native) for i in range(round(seconds * native)))
    assert abs(taken - expected) <= 1, taken


def test_sampler_takes_every_fifteenth_frame_of_30fps_at_2fps() -> None:
    sampler = Sampler(2.0)
    taken = [i for i in range(90) if sampler.take(i / 30)]
    assert taken == [0, 15, 30, 45, 60, 75]


def test_sampler_restarts_when_a_looped_file_starts_again() -> None:
    sampler = Sampler(2.0)
    assert [sampler.take(t) for t in (0.0, 0.5, 1.0)] == [True, True, True]
    assert sampler.take(0.0)


@pytest.mark.parametrize(
    ("times", "missed"),
    [
        ([0.0, 1.0, 2.0, 3.0], 0),  # every slot had its frame
        ([0.0, 1.0, 2.3, 3.1], 0),  # late but within the slot
        ([0.0, 1.5, 3.0], 1),  # a loop slower than the rate: one slot of four passed with no frame
        ([0.0, 5.0], 4),  # slots 1, 2, 3 and 4 passed while nothing was taken; 5 took one
        ([0.0, 0.2, 0.4, 1.0], 0),  # frames between slots are not wanted, not missed
    ],
)
def test_sampler_counts_the_slots_that_passed_without_a_frame(times: list[float], missed: int) -> None:
    sampler = Sampler(1.0)
    for t in times:
        sampler.take(t)
    assert sampler.missed == missed


def test_a_looped_file_starting_again_misses_nothing() -> None:
    sampler = Sampler(1.0)
    for t in (0.0, 1.0, 2.0, 0.0, 1.0):
        assert sampler.take(t)
    assert sampler.missed == 0
