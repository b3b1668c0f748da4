"""Benchmarks. Each prints a human-readable report and, as its last line, one
machine-readable line: RESULT name=value name=value ..."""

from __future__ import annotations

import argparse

from streams.commands import add_module_parsers

# name -> (module with add_arguments/run, one-line help)
BENCHES: dict[str, tuple[str, str]] = {
    "detector": ("detectors.bench", "detector pipeline vs raw model fps, latency, motion-gate skip rate"),
    "decode": (
        "detectors.bench_decode",
        "CPU per sampled frame: decoding every frame vs only sampled ones vs key frames only",
    ),
    "streams": (
        "streams.dev.bench.streams",
        "worker records/s vs a raw consumer, detection-to-warning latency",
    ),
    "e2e": ("streams.dev.bench.e2e", "camera to loudspeaker command and dispatch case, per hop"),
    "capacity": (
        "streams.dev.bench.capacity",
        "how many busy cameras one machine serves: p99 to loudspeaker, dropped frames, CPU per camera",
    ),
    "sensors": (
        "streams.dev.bench.sensors",
        "per-reading cost of a sensor window from 100 to 100,000 readings",
    ),
    "store": (
        "streams.dev.bench.store",
        "case record rows/s (store's upserts vs a bulk insert), history query p99",
    ),
    "kpis": ("streams.dev.bench.kpis", "the KPI report's queries over a month of 1,000,000 incident events"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_module_parsers(parser.add_subparsers(dest="bench", metavar="BENCH"), BENCHES, "_bench")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "_bench", None) is None:
        print("choose a benchmark: " + ", ".join(BENCHES) if BENCHES else "no benchmarks yet")
        return 2
    return int(args._bench.run(args))


def result_line(**values: float | int | str) -> str:
    """The last line of every benchmark: ``RESULT k=v k=v``."""
    parts = []
    for key, value in values.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text}")
    return "RESULT " + " ".join(parts)
