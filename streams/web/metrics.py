"""The worker's metrics for /metrics, exposed with ``prometheus_client``.

The worker keeps its own counters (``Worker.stats``), the board's counts, the
consumers' lag and the latency ``Histogram``s below; ``WorkerCollector`` reads
them when Prometheus scrapes (a custom collector: nothing is copied into
prometheus_client's own metric objects), and ``exposition`` renders the text
format (``CONTENT_TYPE``, version 0.0.4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes


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

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.help)
        buckets = [(_bound(b), float(n)) for b, n in zip(self.buckets, self.counts, strict=True)]
        family.add_metric([], [*buckets, ("+Inf", float(self.count))], self.total)
        return family


def _bound(value: float) -> str:
    """A bucket's ``le`` label as this worker has always written it: ``1``, ``0.25``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Reading:
    """What the worker counts, read at one scrape."""

    counters: Mapping[str, float]  # records processed by kind
    incidents_by_state: Mapping[str, int]
    incidents_by_category: Mapping[str, int]
    decisions: Mapping[str, int]  # loudspeaker policy decisions by decision
    worker_lag: Mapping[str, int]  # by topic: this worker's assigned partitions
    feed_lag: Mapping[str, int]  # by topic: the board's reader, every partition
    histograms: Iterable[Histogram] = ()


def _labelled(
    family: CounterMetricFamily | GaugeMetricFamily, values: Mapping[str, float]
) -> CounterMetricFamily | GaugeMetricFamily:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)
    return family


GAUGES: tuple[tuple[str, str, str, Callable[[Reading], Mapping[str, int]]], ...] = (  # name, help, label
    (
        "citywatch_incidents",
        "Incidents on the district board by state (closed ones: the most recent kept)",
        "state",
        lambda r: r.incidents_by_state,
    ),
    (
        "citywatch_incidents_by_category",
        "Incidents on the district board by category",
        "category",
        lambda r: r.incidents_by_category,
    ),
    (
        "citywatch_broadcast_decisions",
        "Loudspeaker policy decisions seen on the district board (recent), by decision",
        "decision",
        lambda r: r.decisions,
    ),
    (
        "citywatch_consumer_lag_records",
        "Records not yet read by this worker's agents, by topic (its assigned partitions)",
        "topic",
        lambda r: r.worker_lag,
    ),
    (
        "citywatch_board_lag_records",
        "Records not yet read by the board's reader, by topic (all partitions)",
        "topic",
        lambda r: r.feed_lag,
    ),
)


def families(reading: Reading) -> Iterator[Metric]:
    """The metric families of one reading (pure)."""
    yield _labelled(
        CounterMetricFamily(
            "citywatch_events_total",
            "Records this worker processed, by kind (detections, violations, alerts, commands, cases, "
            "deadletters, duplicates)",
            labels=["kind"],
        ),
        reading.counters,
    )
    for name, help_text, label, values in GAUGES:
        yield _labelled(GaugeMetricFamily(name, help_text, labels=[label]), values(reading))
    for hist in reading.histograms:
        yield hist.family()


class WorkerCollector:
    """A prometheus_client collector that reads the worker's counters at every scrape."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return families(self._read())


def exposition(read: Callable[[], Reading]) -> Callable[[], str]:
    """A function that renders the Prometheus text of ``read()`` (for ``WebState.metrics``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(read))
    return lambda: generate_latest(registry).decode("utf-8")


def render(reading: Reading) -> str:
    """The Prometheus text of one reading."""
    return exposition(lambda: reading)()
