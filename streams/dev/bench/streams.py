"""Streams benchmark: the real Faust worker (rules and incidents, broadcast policy) against
two ceilings on the same broker and records, in one run.

1. Throughput: N detection records for M cameras of a generated configuration are loaded
   into the detections topic before the worker starts; the worker's rate is measured from
   the first record it processes to the last (its own ``stats.detections`` counter). Each
   camera sees goods in its shop-front zone for 5 s of every 30 s, so the records also
   open, warn, clear and close incidents. The ceilings: a kafka-python consumer (no group,
   all partitions assigned, large fetches, short fetch wait) reading the same records,
   before the worker starts and after it stops (averaged); and a bare Faust agent with the
   worker's Faust settings that only decodes each record and counts it
   (``bare_faust.py``), measured like the worker, in a process of its own before the
   worker starts. Worker against bare Faust is the worker's own cost; bare Faust against
   the raw consumer is Faust's.
2. Latency: L more cameras, each already seeing goods for just under the dwell time;
   then, paced and with the worker otherwise idle, one record per camera that completes
   the dwell. Latency is from that record's produce time to the broker timestamp of the
   loudspeaker command it causes: two hops through the broker, detections -> (rules and
   incidents, one step) -> speaker intents -> policy -> loudspeaker. The violation record
   the same step publishes (audit) is timed beside them. Beside it, the raw round trip:
   kafka-python producer to the tuned consumer, paced the same way.

Without --kafka an embedded broker is started for the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streams.commands import add_kafka_argument
from streams.dev.bench import add_count
from streams.dev.bench.raw import percentile, raw_consume_rate, raw_round_trips, tuned_consumer
from streams.dev.bench.streams_records import (
    PARTITIONS,
    PRELUDE,
    STEP_S,
    bench_config,
    detection,
    throughput_records,
)

if TYPE_CHECKING:
    from kafka import KafkaConsumer

    from streams.config import Config
    from streams.contract.topics import Topics
    from streams.worker import Stats, Worker

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_count(parser, "--events", 20000, "N", "detection records to process")
    add_count(parser, "--cameras", 100, "M", "cameras the records come from")
    add_count(
        parser, "--incidents", 100, "L", "incidents (one per extra camera) whose warning latency is measured"
    )
    parser.add_argument(
        "--pace-ms",
        type=float,
        default=40.0,
        metavar="MS",
        help="spacing of the latency records, so the worker is never backlogged (default 40)",
    )
    add_kafka_argument(parser)
    parser.epilog = "Without --kafka an embedded broker is started for the run."


# ------------------------------------------------------------------ the worker run


@dataclass
class WorkerRun:
    """What the driver thread measured while the worker ran in the main thread."""

    events_per_s: float = 0.0
    processed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = 0
    early: int = 0
    hops_ms: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None


def _wait(
    predicate: Callable[[], bool], timeout_s: float, stopping: threading.Event, interval: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stopping.is_set():
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass(frozen=True)
class Load:
    """What the driver sends: ``n`` preloaded records, then one paced record per latency camera."""

    bootstrap: str
    topics: Topics
    n: int
    latency_cameras: int
    pace_s: float


def drive(worker: Worker, load: Load, stopping: threading.Event, out: WorkerRun) -> None:
    """Measure the worker (throughput, then latency), then stop it with SIGTERM."""
    try:
        _measure_throughput(worker.stats, load.n, stopping, out)
        _wait_until_quiet(worker.stats, stopping)
        _measure_latency(worker.stats, load, stopping, out)
    except Exception as exc:  # reported by the main thread once the worker has stopped
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not stopping.is_set():
            os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker's own shutdown path


def _measure_throughput(stats: Stats, n: int, stopping: threading.Event, out: WorkerRun) -> None:
    """Over the preloaded backlog: from the first record processed to the last."""
    if not _wait(lambda: stats.detections > 0, 120, stopping, 0.001):
        raise RuntimeError("the worker processed no record within 120 s (group join?)")
    first_at, first_count = time.time(), stats.detections
    if not _wait(lambda: stats.detections >= n, 60 + n / 200, stopping, 0.01):
        raise RuntimeError(f"the worker processed {stats.detections} of {n} records")
    out.processed = stats.detections - first_count
    out.seconds = stats.last_detection_at - first_at
    out.events_per_s = out.processed / max(out.seconds, 1e-9)


def _wait_until_quiet(stats: Stats, stopping: threading.Event) -> None:
    """Let the incidents and warnings the backlog caused drain, so the worker is idle."""

    def quiet() -> bool:
        before = (stats.violations, stats.alerts, stats.commands)
        time.sleep(1.0)
        return (stats.violations, stats.alerts, stats.commands) == before

    _wait(quiet, 60, stopping, 0)


class _HopTimes:
    """When each latency camera's record was sent, and when each hop's topic saw its camera."""

    def __init__(self, consumer: KafkaConsumer, hops: tuple[str, ...]) -> None:
        self.consumer = consumer
        self.sent_ms: dict[str, float] = {}
        self.seen_ms: dict[str, dict[str, float]] = {t: {} for t in hops}

    def collect(self, timeout_ms: int) -> None:
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for r in records:
                cid = json.loads(r.value).get("camera_id")
                if cid in self.sent_ms:
                    self.seen_ms[r.topic].setdefault(cid, float(r.timestamp))


def _measure_latency(stats: Stats, load: Load, stopping: threading.Event, out: WorkerRun) -> None:
    """Every latency camera sees goods just under the dwell time; then, paced, the frame
    that completes each camera's dwell, timed to its loudspeaker command."""
    from kafka import KafkaProducer

    from streams.kafka_security import kafka_python

    bootstrap, topics, latency_cameras = load.bootstrap, load.topics, load.latency_cameras
    t0 = time.time() - 60
    producer = KafkaProducer(**kafka_python(), bootstrap_servers=bootstrap, acks=1, linger_ms=0)
    cams = [f"lat-{i:04d}" for i in range(latency_cameras)]
    for cid in cams:
        for k in range(PRELUDE):
            producer.send(topics.detections, key=cid.encode(), value=detection(cid, k, t0 + k * STEP_S, True))
    producer.flush()
    before = load.n + latency_cameras * PRELUDE
    if not _wait(lambda: stats.detections >= before, 60, stopping, 0.01):
        raise RuntimeError(f"the worker processed {stats.detections} of {before} records")
    hops = (topics.speaker_intents, topics.loudspeaker, topics.violations)
    times = _HopTimes(tuned_consumer(bootstrap, *hops, from_beginning=True), hops)
    try:
        _send_triggers(producer, topics, cams, t0 + PRELUDE * STEP_S, load.pace_s, times)
        command_ms = times.seen_ms[topics.loudspeaker]
        deadline = time.monotonic() + 30
        while len(command_ms) < len(cams) and time.monotonic() < deadline and not stopping.is_set():
            times.collect(100)
    finally:
        times.consumer.close()
        producer.close()
    _report_latency(out, topics, cams, times, command_ms)


def _send_triggers(
    producer: Any, topics: Topics, cams: list[str], t_trigger: float, pace_s: float, times: _HopTimes
) -> None:
    for cid in cams:
        ts = int(time.time() * 1000)
        times.sent_ms[cid] = ts
        producer.send(
            topics.detections,
            key=cid.encode(),
            value=detection(cid, PRELUDE, t_trigger, True),
            timestamp_ms=ts,
        )
        producer.flush()
        times.collect(0)
        time.sleep(pace_s)


def _report_latency(
    out: WorkerRun, topics: Topics, cams: list[str], times: _HopTimes, command_ms: dict[str, float]
) -> None:
    sent_ms = times.sent_ms
    latencies = [command_ms[c] - sent_ms[c] for c in cams if c in command_ms]
    out.early = sum(1 for v in latencies if v < 0)
    out.latencies_ms = latencies
    out.missing = len(cams) - len(latencies)
    # the two hops: detection -> speaker intent (rules and incidents) -> command (policy);
    # and the violation record the first hop publishes for audit, off the warning's path
    seen = times.seen_ms
    intents, violations = seen[topics.speaker_intents], seen[topics.violations]
    spans = {
        "rules+incidents": (sent_ms, intents),
        "policy": (intents, command_ms),
        "audit violation": (sent_ms, violations),
    }
    for name, (a, b) in spans.items():
        out.hops_ms[name] = [b[c] - a[c] for c in cams if c in a and c in b]


def run_worker(
    cfg: Config, bootstrap: str, topics: Topics, datadir: str, args: argparse.Namespace
) -> WorkerRun:
    import faust

    from streams.worker import create_worker

    worker = create_worker(cfg, bootstrap=bootstrap, topics=topics, web_port=None, datadir=datadir)
    out = WorkerRun()
    stopping = threading.Event()
    driver = threading.Thread(
        target=drive,
        args=(
            worker,
            Load(bootstrap, topics, args.events, args.incidents, args.pace_ms / 1000.0),
            stopping,
            out,
        ),
        name="bench-driver",
        daemon=True,
    )
    # the worker's terminal spinner goes to stderr: stdout is the report, RESULT line last
    runner = faust.Worker(worker.app, loglevel="warn", quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    driver.start()
    try:
        runner.execute_from_commandline()
    except SystemExit:
        pass
    finally:
        stopping.set()
        driver.join(30)
    return out


# ------------------------------------------------------------------ the bare Faust agent


def bare_faust_rate(bootstrap: str, topics: Topics, n: int, datadir: str, timeout_s: float) -> float:
    """Records per second of the bare Faust agent over the ``n`` records (``bare_faust.py``)."""
    from streams.dev.bench.bare_faust import parse_line

    command = [
        sys.executable,
        "-m",
        "streams.dev.bench.bare_faust",
        *("--kafka", bootstrap, "--prefix", topics.prefix, "--events", str(n)),
        *("--partitions", str(PARTITIONS), "--datadir", datadir),
    ]
    try:
        # our own module, fixed argv, no shell
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"the bare Faust agent did not read {n} records in {timeout_s:g}s") from exc
    got = parse_line(done.stdout)
    if got is None:
        raise RuntimeError(
            f"the bare Faust agent gave no result (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    processed, seconds = got
    return processed / max(seconds, 1e-9)


# ------------------------------------------------------------------ the command


def run(args: argparse.Namespace) -> int:
    from streams.contract.topics import Topics
    from streams.dev.broker import EmbeddedBroker, free_port
    from streams.kafka_io import ensure_topics

    n, cameras = args.events, args.cameras
    if n < 2 or cameras < 1 or args.incidents < 1:
        print("--events must be at least 2, --cameras and --incidents at least 1")
        return 2
    with ExitStack() as stack:
        bootstrap = args.kafka or stack.enter_context(EmbeddedBroker(port=free_port())).bootstrap
        topics = Topics(f"bench-{uuid.uuid4().hex[:8]}.citywatch.")
        rtt_topic = topics.prefix + "bench-rtt"  # the raw round trip's own topic
        ensure_topics(bootstrap, [*topics.all(), rtt_topic], partitions=PARTITIONS)
        cfg = bench_config(cameras, args.incidents)
        datadir = stack.enter_context(tempfile.TemporaryDirectory(prefix="citywatch-bench-"))
        size = _load_backlog(bootstrap, topics, n, cameras)
        print(
            f"input     {n} detection records from {cameras} cameras ({size / n:.0f} B each), "
            f"{PARTITIONS} partitions, broker {bootstrap}"
        )
        timeout = 60 + n / 500
        raw_before = raw_consume_rate(bootstrap, topics.detections, n, timeout)
        rtts = raw_round_trips(bootstrap, rtt_topic, args.incidents, args.pace_ms / 1000.0)
        bare = bare_faust_rate(bootstrap, topics, n, os.path.join(datadir, "bare"), timeout + 60)
        result = run_worker(cfg, bootstrap, topics, os.path.join(datadir, "worker"), args)
        raw_after = raw_consume_rate(bootstrap, topics.detections, n, timeout)
        if result.error:
            print(f"error     {result.error}")
            return 1
        _report(args, result, (raw_before, raw_after), bare, rtts)
    return 0 if not result.missing else 1


def _load_backlog(bootstrap: str, topics: Topics, n: int, cameras: int) -> int:
    """Write the throughput records into the detections topic; return their size in bytes."""
    from kafka import KafkaProducer

    from streams.kafka_security import kafka_python

    t0 = time.time() - 3600
    producer = KafkaProducer(
        **kafka_python(), bootstrap_servers=bootstrap, acks=1, linger_ms=5, batch_size=256 * 1024
    )
    size = 0
    for key, value in throughput_records(n, cameras, t0):
        size += len(value)
        producer.send(topics.detections, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    return size


def _report(
    args: argparse.Namespace, result: WorkerRun, raws: tuple[float, float], bare: float, rtts: list[float]
) -> None:
    from streams.commands.bench import result_line

    raw_before, raw_after = raws
    raw = (raw_before + raw_after) / 2
    ratio = result.events_per_s / raw
    vs_bare = result.events_per_s / bare
    print(
        f"raw       tuned kafka-python consumer: {raw:.0f} records/s "
        f"({raw_before:.0f} before and {raw_after:.0f} after the worker run)"
    )
    print(
        f"bare      Faust agent that only decodes the records: {bare:.0f} records/s "
        f"(ratio {bare / raw:.3f} of the raw consumer)"
    )
    print(
        f"worker    {result.processed} records through rules and incidents in {result.seconds:.2f}s: "
        f"{result.events_per_s:.0f} records/s (ratio {ratio:.3f} of the raw consumer, "
        f"{vs_bare:.3f} of the bare Faust agent)"
    )
    p50, p99 = percentile(result.latencies_ms, 50), percentile(result.latencies_ms, 99)
    print(
        f"latency   detection produced -> loudspeaker command, {len(result.latencies_ms)} incidents "
        f"paced {args.pace_ms:g} ms apart: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(result.latencies_ms, default=float('nan')):.1f} ms"
        + (f" ({result.missing} without a command)" if result.missing else "")
        + (f" ({result.early} commands before their record?)" if result.early else "")
    )
    hop_text = ", ".join(
        f"{name} p50 {percentile(v, 50):.1f} / p99 {percentile(v, 99):.1f}"
        for name, v in result.hops_ms.items()
    )
    print(f"per hop   (record in -> the step's output record, ms) {hop_text}")
    r50, r99 = percentile(rtts, 50), percentile(rtts, 99)
    rtt_what = f"kafka-python producer -> tuned consumer, {len(rtts)} records"
    print(f"raw rtt   {rtt_what}: p50 {r50:.1f} ms, p99 {r99:.1f} ms")
    print(
        result_line(
            events_per_s=result.events_per_s,
            raw_consume_per_s=raw,
            ratio=ratio,
            bare_faust_per_s=bare,
            worker_vs_bare=vs_bare,
            p50_ms=p50,
            p99_ms=p99,
            raw_rtt_p99_ms=r99,
        )
    )
