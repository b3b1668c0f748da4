"""End-to-end benchmark: camera to loudspeaker command (and to dispatch case) on the embedded broker.

Simulated cameras (the demo's bus scene, MJPEG over HTTP) alternate between a bus
in the bus lane and an empty street, so every cycle opens a new incident. The real
detector (``citywatch edge``), the real worker and the embedded broker run as in
production. For each incident the latency runs from the capture of the frame at
which the dwell is satisfied (the ``started`` violation names that frame) to the
loudspeaker command on its topic; a few cameras keep their bus, and for them the
latency from the grace deadline to the dispatch case is measured too. The
per-hop breakdown uses the records' own times and the broker's record timestamps:

    capture -> detected (includes inference) -> detections topic -> rules and
    incidents, one step (alert) -> loudspeaker (command)

and the model's own inference time of those frames is reported beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streams.commands.bench import result_line
from streams.dev.bench.stack import (
    Observed,
    bench_yaml,
    pct,
    role_env,
    start_role,
    stop_roles,
    watching_consumer,
    worker_argv,
)

if TYPE_CHECKING:
    from kafka import KafkaConsumer

    from streams.contract.topics import Topics
    from streams.dev.demo.camserver import CameraServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--incidents", type=int, default=30, help="warning incidents to measure (default 30)")
    parser.add_argument("--cameras", type=int, default=3, help="cycling cameras (default 3)")
    parser.add_argument(
        "--holding", type=int, default=1, help="cameras whose bus stays, for dispatch (default 1)"
    )
    parser.add_argument(
        "--detect-fps", type=float, default=2.0, help="frames per second per camera (default 2)"
    )
    parser.add_argument("--imgsz", type=int, default=320, help="inference size (default 320)")
    parser.add_argument("--timeout", type=float, default=300, help="give up after S seconds (default 300)")


# the cycling cameras' bus leaves before the grace deadline; the holding cameras' stays
CATEGORY_YAML = """\
  {name}:
    code: "200505"
    name: 机动车乱停放
    labels: [bus]
    dwell_s: 1
    inertia: 1
    gap_s: 0.5
    clear_s: 1.5
{timing}
    template: "{{address}}禁止停车，请立即驶离。"
"""
CATEGORY_TIMING = {
    "cycling": "    grace_s: 60\n    dispatch: false",
    "holding": "    grace_s: 3\n    verify_s: 5\n    sla_s: 600",
}


def _config(var: Path, urls: dict[str, str], holding: set[str], imgsz: int, fps: float) -> str:
    cameras = {}
    for cam, url in urls.items():
        category = "holding" if cam in holding else "cycling"
        cameras[cam] = (
            url,
            f"detect_fps: {fps:g}, stationary_recheck_s: {1 / fps:g}, snapshot_interval_s: 3600, "
            f"zones: [{{id: lane, polygon: [[0, 0.45], [1, 0.45], [1, 0.9], [0, 0.9]], "
            f"categories: [{category}]}}]",
        )
    return bench_yaml(
        var,
        site="e2e bench",
        model=f"{{name: yolo11n, imgsz: {imgsz}, conf: 0.35, batch: 1}}",
        categories="".join(CATEGORY_YAML.format(name=n, timing=t) for n, t in CATEGORY_TIMING.items()),
        cameras=cameras,
    )


@dataclass
class E2EObserved(Observed):
    def measured(self) -> int:
        """Warning incidents of cycling cameras with a command."""
        started = self.started
        return sum(
            1 for i in self.commands if i in started and not started[i][0]["camera_id"].startswith("hold")
        )


def run(args: argparse.Namespace) -> int:
    from streams.contract.topics import Topics
    from streams.dev.broker import EmbeddedBroker, free_port
    from streams.dev.demo.camserver import CameraServer
    from streams.dev.demo.scene import bus_scene
    from streams.kafka_io import ensure_topics

    names = [f"cyc-{i}" for i in range(args.cameras)] + [f"hold-{i}" for i in range(args.holding)]
    holding = {n for n in names if n.startswith("hold-")}
    scene = bus_scene()
    cams = CameraServer(dict.fromkeys(names, scene), fps=8).start()
    tmp = Path(tempfile.mkdtemp(prefix="citywatch-e2e-"))
    cfg_path = tmp / "cameras.yaml"
    cfg_path.write_text(
        _config(tmp, {n: cams.url(n) for n in names}, holding, args.imgsz, args.detect_fps), encoding="utf-8"
    )
    topics = Topics(f"e2e{os.getpid()}.")
    broker = EmbeddedBroker(port=free_port()).start()
    ensure_topics(broker.bootstrap, topics.all(), partitions=4)
    procs = _start_roles(tmp, cfg_path, broker.bootstrap, topics)
    stop = threading.Event()
    cycler = threading.Thread(target=_cycle, args=(cams, names, holding, args.cameras, stop), daemon=True)
    cycler.start()
    consumer = watching_consumer(broker.bootstrap, topics)
    try:
        seen = _observe(consumer, topics, procs, tmp, args)
    finally:
        stop.set()
        consumer.close()
        stop_roles(procs)
        cams.stop()
        broker.stop()
    rows, dispatch_ms = _latencies(seen)
    if not rows:
        return _report_nothing(tmp)
    _report(args, rows, dispatch_ms)
    return 0


def _start_roles(tmp: Path, cfg_path: Path, bootstrap: str, topics: Topics) -> list[subprocess.Popen[bytes]]:
    """The worker, the detector and the loudspeaker gateway, as in production."""
    env = role_env(bootstrap, topics)
    return [
        start_role(tmp, argv, env)
        for argv in (
            worker_argv(cfg_path, tmp),
            ["edge", "--config", str(cfg_path)],
            ["speaker", "--config", str(cfg_path)],
        )
    ]


def _cycle(
    cams: CameraServer, names: list[str], holding: set[str], cycling: int, stop: threading.Event
) -> None:
    """Cycling cameras: bus for 3 s, empty street for 3 s; staggered so incidents interleave."""
    start = time.monotonic()
    while not stop.is_set():
        t = time.monotonic() - start
        for i, n in enumerate(names):
            if n in holding:
                continue
            phase = (t + i * 6.0 / max(1, cycling)) % 6.0
            cams.show(n, "violation" if phase < 3.0 else "clear")
        stop.wait(0.05)


def _observe(
    consumer: KafkaConsumer,
    topics: Topics,
    procs: list[subprocess.Popen[bytes]],
    tmp: Path,
    args: argparse.Namespace,
) -> E2EObserved:
    """Read until enough incidents are measured, a process exits or the time is up."""
    seen = E2EObserved()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        seen.read(consumer, topics)
        if seen.measured() >= args.incidents + args.cameras and len(seen.cases) >= args.holding:
            break
        if any(p.poll() is not None for p in procs):
            print(f"a process exited early; logs in {tmp}", file=sys.stderr)
            break
    return seen


def _latencies(seen: E2EObserved) -> tuple[list[dict[str, float]], list[float]]:
    """Per-hop milliseconds of each measured incident, and grace deadline to dispatch case."""
    from streams.contract.timeutil import from_iso

    # drop each camera's first incident: it may have waited for the worker's group join
    first: dict[str, str] = {}
    for iid, (v, _) in sorted(seen.started.items(), key=lambda kv: kv[1][0]["at"]):
        first.setdefault(v["camera_id"], iid)
    rows = [
        hops for iid in seen.started if iid not in first.values() and (hops := seen.hops(iid)) is not None
    ]
    dispatch_ms = [
        (ts - from_iso(v["created_at"])) * 1000
        for iid, (v, ts) in seen.cases.items()
        if iid not in first.values()
    ] or [(ts - from_iso(v["created_at"])) * 1000 for v, ts in seen.cases.values()]
    return rows, dispatch_ms


def _report_nothing(tmp: Path) -> int:
    print(f"no incidents measured; logs in {tmp}")
    print(
        result_line(
            incidents=0,
            p50_ms=float("nan"),
            p99_ms=float("nan"),
            inference_ms=float("nan"),
            overhead_p99_ms=float("nan"),
        )
    )
    return 1


HOPS = (
    ("detect", "capture -> detected (incl. model)"),
    ("inference", "  of which model inference"),
    ("publish", "detected -> detections topic"),
    ("incidents", "detections topic -> alert (rules+incidents)"),
    ("loudspeaker", "alert -> loudspeaker command"),
    ("total", "capture -> loudspeaker command"),
    ("overhead", "  beyond model inference"),
)


def _report(args: argparse.Namespace, rows: list[dict[str, float]], dispatch_ms: list[float]) -> None:
    col = {k: [r[k] for r in rows] for k in rows[0]}
    print(
        f"end-to-end on the embedded broker: {len(rows)} incidents on {args.cameras} cycling cameras, "
        f"imgsz {args.imgsz}, {os.cpu_count()} CPUs"
    )
    print(f"{'hop':<34}{'p50 ms':>10}{'p99 ms':>10}")
    for key, label in HOPS:
        print(f"{label:<34}{statistics.median(col[key]):>10.1f}{pct(col[key], 99):>10.1f}")
    if dispatch_ms:
        print(
            f"{'grace deadline -> dispatch case':<34}{statistics.median(dispatch_ms):>10.1f}"
            f"{pct(dispatch_ms, 99):>10.1f}   ({len(dispatch_ms)} cases)"
        )
    print(
        result_line(
            incidents=len(rows),
            p50_ms=statistics.median(col["total"]),
            p99_ms=pct(col["total"], 99),
            inference_ms=statistics.median(col["inference"]),
            overhead_p99_ms=pct(col["overhead"], 99),
            dispatch_p99_ms=pct(dispatch_ms, 99) if dispatch_ms else float("nan"),
        )
    )
