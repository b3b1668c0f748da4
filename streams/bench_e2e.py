"""End-to-end benchmark: camera to loudspeaker command (and to dispatch case) on the embedded broker.

Simulated cameras (the demo's bus scene, MJPEG over HTTP) alternate between a bus
in the bus lane and an empty street, so every cycle opens a new incident. The real
detector (``citywatch edge``), the real worker and the embedded broker run as in
production. For each incident the latency runs from the capture of the frame at
which the dwell is satisfied (the ``started`` violation names that frame) to the
loudspeaker command on its topic; a few cameras keep their bus, and for them the
latency from the grace deadline to the dispatch case is measured too. The
per-hop breakdown uses the records' own times and the broker's record timestamps:

    capture -> detected (includes inference) -> detections topic -> rules
    (violation) -> incidents (alert) -> loudspeaker (command)

and the model's own inference time of those frames is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from streams.commands.bench import result_line


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


BENCH_YAML = """\
version: 1
site: {{name: e2e bench, timezone: Asia/Shanghai}}
model: {{name: yolo11n, imgsz: {imgsz}, conf: 0.35, batch: 1}}
evidence: {{dir: {var}/evidence, retention_days: 1, max_mb: 100}}
kafka: {{partitions: 4}}
categories:
  cycling:
    code: "200505"
    name: 机动车乱停放
    labels: [bus]
    dwell_s: 1
    inertia: 1
    gap_s: 0.5
    clear_s: 1.5
    grace_s: 60
    dispatch: false
    template: "{{address}}禁止停车，请立即驶离。"
  holding:
    code: "200505"
    name: 机动车乱停放
    labels: [bus]
    dwell_s: 1
    inertia: 1
    gap_s: 0.5
    clear_s: 1.5
    grace_s: 3
    verify_s: 5
    sla_s: 600
    template: "{{address}}禁止停车，请立即驶离。"
  camera_offline: {{code: "900101", name: 摄像头离线, warn: false, dispatch: false}}
units: [{{id: unit-1, level: street}}]
grids: [{{id: grid-1, unit: unit-1}}]
health: {{degraded_for_s: 3600, status_timeout_s: 3600, blip_s: 3600}}
speakers:
{speakers}
cameras:
{cameras}
"""


def _config(var: Path, urls: dict[str, str], holding: set[str], imgsz: int, fps: float) -> str:
    speakers = []
    cameras = []
    for cam, url in urls.items():
        speakers.append(
            f"  - {{id: spk-{cam}, min_interval_s: 0, max_per_hour: 10000, chime: false, "
            f"driver: {{type: file, dir: '{var.as_posix()}/speaker'}}}}"
        )
        category = "holding" if cam in holding else "cycling"
        cameras.append(
            f"  - {{id: {cam}, source: '{url}', location: {{address: bench {cam}}}, grid: grid-1, "
            f"speaker: spk-{cam}, detect_fps: {fps:g}, stationary_recheck_s: {1 / fps:g}, "
            f"snapshot_interval_s: 3600, "
            f"zones: [{{id: lane, polygon: [[0, 0.45], [1, 0.45], [1, 0.9], [0, 0.9]], "
            f"categories: [{category}]}}]}}"
        )
    return BENCH_YAML.format(
        var=var.as_posix(), imgsz=imgsz, speakers="\n".join(speakers), cameras="\n".join(cameras)
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaConsumer, TopicPartition

    from streams.broker import EmbeddedBroker, free_port
    from streams.demo.camserver import CameraServer
    from streams.demo.scene import bus_scene
    from streams.ids import make_id
    from streams.kafka_io import ensure_topics
    from streams.timeutil import from_iso
    from streams.topics import Topics

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
    env = {
        **os.environ,
        "CITYWATCH_KAFKA": broker.bootstrap,
        "CITYWATCH_TOPIC_PREFIX": topics.prefix,
        "YOLO_OFFLINE": "1",
    }
    procs = []
    stop = threading.Event()
    for role in (
        ["worker", "--config", str(cfg_path), "--no-web", "--datadir", str(tmp / "faust")],
        ["edge", "--config", str(cfg_path)],
        ["speaker", "--config", str(cfg_path)],
    ):
        log = (tmp / f"{role[0]}.log").open("ab")
        procs.append(
            subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "streams.cli", "--log-level", "WARNING", *role],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def cycle() -> None:
        # cycling cameras: bus for 3 s, empty street for 3 s; staggered so incidents interleave
        start = time.monotonic()
        while not stop.is_set():
            t = time.monotonic() - start
            for i, n in enumerate(names):
                if n in holding:
                    continue
                phase = (t + i * 6.0 / max(1, args.cameras)) % 6.0
                cams.show(n, "violation" if phase < 3.0 else "clear")
            stop.wait(0.05)

    cycler = threading.Thread(target=cycle, daemon=True)
    cycler.start()
    watched = ["detections", "violations", "alerts", "loudspeaker", "dispatch"]
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    tps = [TopicPartition(topics.name(s), p) for s in watched for p in range(4)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    dets: dict[tuple[str, int], tuple[dict[str, Any], float]] = {}
    started: dict[str, tuple[dict[str, Any], float]] = {}  # incident id -> (violation, broker ts)
    opened: dict[str, float] = {}
    commands: dict[str, float] = {}
    cases: dict[str, tuple[dict[str, Any], float]] = {}
    deadline = time.monotonic() + args.timeout
    warmup_done = False
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                for r in records:
                    suffix = r.topic.removeprefix(topics.prefix)
                    v = json.loads(r.value)
                    ts = r.timestamp / 1000.0
                    if suffix == "detections":
                        dets[(v["camera_id"], int(v["seq"]))] = (v, ts)
                    elif suffix == "violations" and v["state"] == "started":
                        iid = make_id("inc", v["camera_id"], v["zone_id"], v["category"], v["since"])
                        started[iid] = (v, ts)
                    elif suffix == "alerts" and v["state"] == "open":
                        opened.setdefault(v["incident_id"], ts)
                    elif suffix == "loudspeaker" and v.get("incident_id"):
                        commands.setdefault(v["incident_id"], ts)
                    elif suffix == "dispatch":
                        cases.setdefault(v["incident_id"], (v, ts))
            if not warmup_done and commands:
                warmup_done = True  # the first incidents include the worker's start-up
            measured = [
                i for i in commands if i in started and not started[i][0]["camera_id"].startswith("hold")
            ]
            if len(measured) >= args.incidents + args.cameras and len(cases) >= args.holding:
                break
            if any(p.poll() is not None for p in procs):
                print(f"a process exited early; logs in {tmp}", file=sys.stderr)
                break
    finally:
        stop.set()
        consumer.close()
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        cams.stop()
        broker.stop()

    # drop each camera's first incident: it may have waited for the worker's group join
    first: dict[str, str] = {}
    for iid, (v, _) in sorted(started.items(), key=lambda kv: kv[1][0]["at"]):
        first.setdefault(v["camera_id"], iid)
    rows = []
    for iid, (v, vts) in started.items():
        if iid in first.values() or iid not in commands or iid not in opened:
            continue
        det = dets.get((v["camera_id"], int(v.get("seq", -1))))
        if det is None:
            continue
        d, dts = det
        cap = from_iso(d["captured_at"])
        detected = from_iso(d["detected_at"])
        total = (commands[iid] - cap) * 1000
        inference = float(d.get("inference_ms") or 0.0)
        rows.append(
            {
                "total": total,
                "inference": inference,
                "overhead": total - inference,
                "detect": (detected - cap) * 1000,
                "publish": (dts - detected) * 1000,
                "rules": (vts - dts) * 1000,
                "incidents": (opened[iid] - vts) * 1000,
                "loudspeaker": (commands[iid] - opened[iid]) * 1000,
            }
        )
    dispatch_ms = [
        (ts - from_iso(v["created_at"])) * 1000 for iid, (v, ts) in cases.items() if iid not in first.values()
    ] or [(ts - from_iso(v["created_at"])) * 1000 for v, ts in cases.values()]
    if not rows:
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
    col = {k: [r[k] for r in rows] for k in rows[0]}
    print(
        f"end-to-end on the embedded broker: {len(rows)} incidents on {args.cameras} cycling cameras, "
        f"imgsz {args.imgsz}, {os.cpu_count()} CPUs"
    )
    print(f"{'hop':<34}{'p50 ms':>10}{'p99 ms':>10}")
    for key, label in (
        ("detect", "capture -> detected (incl. model)"),
        ("inference", "  of which model inference"),
        ("publish", "detected -> detections topic"),
        ("rules", "detections topic -> violation"),
        ("incidents", "violation -> alert (incidents)"),
        ("loudspeaker", "alert -> loudspeaker command"),
        ("total", "capture -> loudspeaker command"),
        ("overhead", "  beyond model inference"),
    ):
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
    return 0
