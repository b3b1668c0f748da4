"""Prometheus text exposition for /metrics (pure): counters, gauges, latency histograms."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Histogram:
    """A cumulative-bucket latency histogram in seconds."""

    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, seconds: float) -> None:
        if math.isnan(seconds):
            return
        value = max(0.0, seconds)
        self.count += 1
        self.total += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for bound, n in zip(self.buckets, self.counts, strict=True):
            lines.append(f'{self.name}_bucket{{le="{_num(bound)}"}} {n}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{self.name}_sum {_num(self.total)}")
        lines.append(f"{self.name}_count {self.count}")
        return lines


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metric(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]
) -> list[str]:
    """One metric family: ``# HELP``, ``# TYPE`` and a sample per label set."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"{name}{{{label_text}}} {_num(value)}" if label_text else f"{name} {_num(value)}")
    return lines


def render(
    *,
    counters: Mapping[str, float],
    incidents_by_state: Mapping[str, int],
    incidents_by_category: Mapping[str, int],
    decisions: Mapping[str, int],
    worker_lag: Mapping[str, int],
    feed_lag: Mapping[str, int],
    histograms: Iterable[Histogram],
) -> str:
    lines: list[str] = []
    lines += metric(
        "citywatch_events_total",
        "counter",
        "Records this worker processed, by kind (detections, violations, alerts, commands, cases, "
        "deadletters, duplicates)",
        (({"kind": k}, v) for k, v in sorted(counters.items())),
    )
    lines += metric(
        "citywatch_incidents",
        "gauge",
        "Incidents on the district board by state (closed ones: the most recent kept)",
        (({"state": k}, v) for k, v in sorted(incidents_by_state.items())),
    )
    lines += metric(
        "citywatch_incidents_by_category",
        "gauge",
        "Incidents on the district board by category",
        (({"category": k}, v) for k, v in sorted(incidents_by_category.items())),
    )
    lines += metric(
        "citywatch_broadcast_decisions",
        "gauge",
        "Loudspeaker policy decisions seen on the district board (recent), by decision",
        (({"decision": k}, v) for k, v in sorted(decisions.items())),
    )
    lines += metric(
        "citywatch_consumer_lag_records",
        "gauge",
        "Records not yet read by this worker's agents, by topic (its assigned partitions)",
        (({"topic": k}, v) for k, v in sorted(worker_lag.items())),
    )
    lines += metric(
        "citywatch_board_lag_records",
        "gauge",
        "Records not yet read by the board's reader, by topic (all partitions)",
        (({"topic": k}, v) for k, v in sorted(feed_lag.items())),
    )
    for hist in histograms:
        lines += hist.render()
    return "\n".join(lines) + "\n"
