"""``/healthz`` and ``/metrics`` for the long-running roles (edge, capture, detect,
speaker, store, notify), on ``--health-port`` (0: a free port, logged; absent: no server).

``/healthz`` answers 200 ``{"status": "ok", ...}`` or 503 ``{"status": "degraded",
"degraded": [...]}``: a role's own ``links`` (the MQTT bridge's ``mqtt``) when their report
says not ``ok``, ``kafka`` when the broker has not answered two probes in a row
(probed every 3 s over a fresh connection, as the worker does), ``activity`` when the
role's loop has not completed a round for ``STALE_AFTER_S`` (a hung camera read, a
stuck database), and what the role's own ``checks`` name (notify: ``robots``).
``/metrics`` is the Prometheus text of the process collector, the role's own counters
(``streams.role_metrics``) and the gauges below.

``assess`` is the pure decision; ``RoleHealth`` holds the times; ``HealthServer`` is the
threaded ``http.server`` with the probe thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from streams.contract.timeutil import to_iso
from streams.provision import probe_topics

logger = logging.getLogger(__name__)

# the worker's probe timings (streams/worker/resilience.py), without importing faust: it reads
# sys.argv at import and would take the detector roles' --loop for an event loop's name
PROBE_EVERY_S = 3.0
PROBE_TIMEOUT_S = 2.0
UNREACHABLE_AFTER = 2  # consecutive unanswered probes (one slow answer on a busy box is no outage)
STALE_AFTER_S = 60.0  # no completed round for this long: the role is stuck
LAG_EVERY_S = 2.0  # how often a consumer's lag is read (in the role's own thread)


def assess(
    now: float, *, last_activity: float, kafka_reachable: bool | None, stale_after_s: float
) -> list[str]:
    """What is degraded at ``now`` (pure): ``kafka`` once the probe says it does not answer,
    ``activity`` when the last completed round is older than ``stale_after_s``."""
    degraded = []
    if kafka_reachable is False:
        degraded.append("kafka")
    if now - last_activity > stale_after_s:
        degraded.append("activity")
    return degraded


def consumer_lag(consumer: Any) -> dict[str, int]:
    """Records not yet read on the consumer's assigned partitions, by topic (fetched
    high-water marks only: nothing is asked of the broker). Call it from the consumer's thread."""
    lag: dict[str, int] = {}
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - consumer.position(tp))
    return lag


@dataclass
class KafkaView:
    """A role's view of Kafka, refreshed by the probe (pure: times are passed in)."""

    reachable: bool | None = None  # None until the first probe
    checked_at: float | None = None
    unreachable_since: float | None = None
    failed_probes: int = 0
    first_failure_at: float | None = None
    missing: tuple[str, ...] = ()  # expected topics the broker does not have

    def observe(self, now: float, topics: Iterable[str] | None, expected: Iterable[str]) -> None:
        """One probe at ``now``: the broker's topic names, or None when it did not answer."""
        self.checked_at = now
        if topics is None:
            self.failed_probes += 1
            if self.failed_probes == 1:
                self.first_failure_at = now
            if self.failed_probes >= UNREACHABLE_AFTER and self.reachable is not False:
                self.reachable, self.unreachable_since = False, self.first_failure_at
            return
        names = set(topics)
        self.failed_probes = 0
        self.reachable, self.unreachable_since = True, None
        self.missing = tuple(t for t in expected if t not in names)

    def report(self, last_activity_at: float | None) -> dict[str, Any]:
        """The ``kafka`` object of /healthz, as the worker's (without its lost-state notes)."""
        return {
            "ok": self.reachable is not False,
            "reachable": self.reachable,
            "checked_at": _iso(self.checked_at),
            "unreachable_since": _iso(self.unreachable_since),
            "last_activity_at": _iso(last_activity_at),
            "missing_topics": list(self.missing),
        }


def _iso(t: float | None) -> str | None:
    return None if t is None else to_iso(t)


class RoleHealth:
    """A role's activity, its view of Kafka and its consumer lag."""

    def __init__(
        self,
        role: str,
        bootstrap: str,
        expected_topics: Iterable[str] = (),
        *,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], float] = time.time,
        links: Mapping[str, Callable[[], dict[str, Any]]] | None = None,
    ) -> None:
        self.role = role
        self.links = dict(links or {})  # name -> its report (a dict with "ok"), e.g. the MQTT broker
        self.bootstrap = bootstrap
        self.expected = list(expected_topics)
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.started_at = clock()
        self.last_activity: float | None = None
        self.kafka = KafkaView()
        self.lag: dict[str, int] = {}
        self._lag_at = float("-inf")
        # the role's own reasons to be degraded (e.g. notify's ``robots``), asked at each /healthz
        self.checks: list[Callable[[], list[str]]] = []

    def round(self, consumer: Any = None) -> None:
        """The role's loop completed a round (with its consumer, whose lag is read now and then)."""
        now = self.clock()
        self.last_activity = now
        if consumer is not None and now - self._lag_at >= LAG_EVERY_S:
            self._lag_at = now
            try:
                self.lag = consumer_lag(consumer)
            except Exception:
                logger.debug("consumer lag not readable now", exc_info=True)

    def probe(self) -> None:
        self.kafka.observe(self.clock(), probe_topics(self.bootstrap, PROBE_TIMEOUT_S), self.expected)

    def report(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) of /healthz."""
        now = self.clock()
        last = self.last_activity if self.last_activity is not None else self.started_at
        links = {name: report() for name, report in self.links.items()}
        degraded = [name for name, link in links.items() if not link.get("ok")]
        degraded += assess(
            now, last_activity=last, kafka_reachable=self.kafka.reachable, stale_after_s=self.stale_after_s
        )
        for check in self.checks:
            degraded.extend(check())
        body = {
            **links,
            "status": "degraded" if degraded else "ok",
            "role": self.role,
            "degraded": degraded,
            "started_at": to_iso(self.started_at),
            "last_activity_at": _iso(self.last_activity),
            "kafka": self.kafka.report(self.last_activity),
            "lag": dict(self.lag),
        }
        return (503 if degraded else 200), body

    def collect(self) -> Iterator[Metric]:
        labels = ["role"]
        up = GaugeMetricFamily(
            "citywatch_role_kafka_reachable", "1 while Kafka answers this role's probe", labels=labels
        )
        up.add_metric([self.role], 0.0 if self.kafka.reachable is False else 1.0)
        yield up
        seen = GaugeMetricFamily(
            "citywatch_role_last_activity_timestamp_seconds",
            "When the role's loop last completed a round (Unix time)",
            labels=labels,
        )
        seen.add_metric([self.role], self.last_activity or self.started_at)
        yield seen
        lag = GaugeMetricFamily(
            "citywatch_role_consumer_lag_records",
            "Records not yet read by this role's consumer, by topic (its assigned partitions)",
            labels=["role", "topic"],
        )
        for topic, value in sorted(self.lag.items()):
            lag.add_metric([self.role, topic], float(value))
        yield lag


class _Collector:
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class HealthServer:
    """/healthz and /metrics in a thread, with the Kafka probe in another; ``close`` stops both."""

    def __init__(
        self,
        health: RoleHealth,
        port: int,
        *,
        bind: str = "127.0.0.1",
        collectors: Iterable[Callable[[], Iterable[Metric]]] = (),
        probe_every_s: float = PROBE_EVERY_S,
    ) -> None:
        self.health = health
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        self.registry.register(_Collector(health.collect))
        for collect in collectors:
            self.registry.register(_Collector(collect))
        self._stop = threading.Event()
        self._probe_every_s = probe_every_s
        self._server = ThreadingHTTPServer((bind, port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="health-http", daemon=True),
            threading.Thread(target=self._probe_loop, name="health-probe", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        logger.info("%s: health on http://%s:%d/healthz and /metrics", health.role, bind, self.port)

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.health.probe()
            except Exception:  # a probe must never end the thread
                logger.warning("health probe failed", exc_info=True)
            self._stop.wait(self._probe_every_s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    status, body = server.health.report()
                    self._send(status, "application/json", json.dumps(body).encode())
                elif path == "/metrics":
                    self._send(200, CONTENT_TYPE_PLAIN_0_0_4, generate_latest(server.registry))
                else:
                    self._send(404, "text/plain", b"not found: /healthz or /metrics\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("health: " + format, *args)  # noqa: G003 - http.server's format

        return Handler

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def serve(
    args: argparse.Namespace,
    health: RoleHealth | None,
    collectors: Iterable[Callable[[], Iterable[Metric]]] = (),
) -> HealthServer | None:
    """The health server of ``--health-port``, or None where it was not asked for."""
    if health is None or getattr(args, "health_port", None) is None:
        return None
    return HealthServer(health, args.health_port, bind=args.health_bind, collectors=collectors)
