"""Sensor-window benchmark: the cost of one reading against how many readings the window holds.

For each size N, one sensor with four rules (mean, max, min, last) over a window of N
seconds is filled with N readings one second apart; then --readings more readings are
timed through ``streams.logic.sensors.on_reading`` (each one enters the window and pushes the
oldest out, so the window keeps N readings), in 5 rounds of which the fastest counts.
The pure logic is measured, without Kafka.
Beside it, the cost of recomputing the four aggregates from the readings on every reading
(the O(N) definition, ``streams.logic.sensors.aggregate``) on fewer readings. Flat means the
per-reading cost at the largest size is about that at the smallest (ratio ~1).
"""

from __future__ import annotations

import argparse
import random
import time

from streams.config.models import SensorRule
from streams.dev.bench import add_count
from streams.logic.sensors import SensorState, aggregate, on_reading

HOWS = ("mean", "max", "min", "last")
T0 = 1_780_000_000.0
ROUNDS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        default="100,1000,10000,100000",
        help="readings in the window, comma-separated (default 100,1000,10000,100000)",
    )
    add_count(parser, "--readings", 20000, "M", "readings timed per size")
    add_count(
        parser,
        "--definition-readings",
        50,
        "K",
        "readings timed per size when recomputing from the readings",
        "; 0 skips it",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the values (default 1)")


def _rules(span_s: float) -> list[SensorRule]:
    return [
        SensorRule(
            id=f"r-{how}", category="air_quality", kind="pm25", window_s=span_s, aggregate=how, above=1e12
        )
        for how in HOWS
    ]


def _filled(size: int, rng: random.Random) -> tuple[SensorState, list[SensorRule]]:
    rules = _rules(float(size))
    state = SensorState()
    for i in range(size):
        t = T0 + i
        on_reading(state, rules, value=rng.uniform(0, 100), measured_at=t, seen_at=t, max_readings=size + 1)
    return state, rules


def per_reading_us(size: int, readings: int, rng: random.Random, rounds: int = ROUNDS) -> float:
    """Microseconds per reading through on_reading with ``size`` readings in the window.

    The fastest of ``rounds`` rounds, as timeit does: the others measured the machine's
    other work too.
    """
    state, rules = _filled(size, rng)
    per_round = max(1, readings // rounds)
    t = T0 + size
    best = float("inf")
    for _ in range(rounds):
        values = [rng.uniform(0, 100) for _ in range(per_round)]
        start = time.perf_counter()
        for v in values:
            on_reading(state, rules, value=v, measured_at=t, seen_at=t, max_readings=size + 1)
            t += 1
        best = min(best, time.perf_counter() - start)
    if state.held() != size:
        raise RuntimeError(f"the window holds {state.held()} readings, expected {size}")
    return best / per_round * 1e6


def definition_us(size: int, readings: int, rng: random.Random) -> float:
    """Microseconds per reading when the four aggregates are recomputed from the readings."""
    samples = [[T0 + i, rng.uniform(0, 100)] for i in range(size)]
    start = time.perf_counter()
    for i in range(readings):
        now = T0 + size + i
        samples.append([now, rng.uniform(0, 100)])
        samples = [s for s in samples if s[0] > now - size]
        for how in HOWS:
            aggregate(samples, now, float(size), how)
    return (time.perf_counter() - start) / readings * 1e6


def run(args: argparse.Namespace) -> int:
    from streams.commands.bench import result_line

    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    if not sizes or min(sizes) <= 0 or args.readings <= 0:
        print("--sizes needs positive window sizes and --readings a positive count")
        return 2
    rng = random.Random(args.seed)  # noqa: S311 - benchmark values, not secrets
    print(
        f"sensor windows: 4 rules (mean, max, min, last), {args.readings} readings timed per size "
        f"(fastest of {ROUNDS} rounds)"
    )
    print(f"{'readings in window':>20} {'running (us/reading)':>22} {'recomputed (us/reading)':>25}")
    costs: dict[int, float] = {}
    for size in sizes:
        costs[size] = per_reading_us(size, args.readings, rng)
        recomputed = (
            f"{definition_us(size, args.definition_readings, rng):25.1f}"
            if args.definition_readings > 0
            else f"{'-':>25}"
        )
        print(f"{size:>20} {costs[size]:>22.2f} {recomputed}")
    ratio = costs[sizes[-1]] / costs[sizes[0]]
    print(f"cost at {sizes[-1]} readings / cost at {sizes[0]}: {ratio:.2f} (flat is about 1)")
    print(result_line(**{f"per_reading_us_{size}": costs[size] for size in sizes}, ratio=ratio))
    return 0
