"""Capacity benchmark: how many busy cameras one machine serves at a camera's detect_fps.

Simulated cameras (MJPEG over HTTP) play recorded street footage in a loop at its
native rate, each with a grid of zones in which people and vehicles open
incidents as they come and go. The whole pipeline runs on this machine as in
production: the embedded broker, the worker, the loudspeaker gateway and one
detector (``citywatch edge``) for all the cameras of a step. The bench adds cameras
in steps; each step runs for ``--step-s`` seconds and measures:

- the sampled frames per second each camera achieved, and the share of sampling
  slots that passed with no frame taken (the detector fell behind: the sampler's
  ``missed`` count, read from the edge's ``/metrics``);
- capture -> loudspeaker command latency of the incidents that started in the step
  (the same measure as ``citywatch bench e2e``);
- the CPU time of the pipeline's processes (broker, edge, worker, speaker; not the
  simulated cameras) per camera, in cores.

It stops at the first step whose p99 passes ``--max-p99-ms`` or whose missed share
passes ``--max-dropped``; the capacity is the largest step before it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streams.commands.bench import result_line
from streams.dev.bench import stack
from streams.dev.bench.stack import Observed
from streams.dev.bench.steps import Step, capacity, cpu_seconds, failure, frame_counts, window_incidents
from streams.dev.bench.svg_curve import curve_svg

if TYPE_CHECKING:
    import subprocess

    from kafka import KafkaConsumer

    from streams.contract.topics import Topics

DEFAULT_STEPS = "1,2,4,8,12,16,24,32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        action="append",
        required=True,
        metavar="FILE",
        help="a video file the cameras play, in turn (repeatable): busy street footage",
    )
    parser.add_argument(
        "--steps",
        type=_steps,
        default=_steps(DEFAULT_STEPS),
        metavar="N,N,...",
        help=f"camera counts to try, rising (default {DEFAULT_STEPS})",
    )
    parser.add_argument("--step-s", type=float, default=45.0, metavar="S", help="seconds a step (default 45)")
    parser.add_argument(
        "--max-p99-ms",
        type=float,
        default=2000.0,
        metavar="MS",
        help="a step fails when capture -> loudspeaker p99 passes this (default 2000)",
    )
    parser.add_argument(
        "--max-dropped",
        type=float,
        default=0.01,
        metavar="SHARE",
        help="a step fails when this share of sampled frames is missed (default 0.01)",
    )
    parser.add_argument(
        "--detect-fps", type=float, default=1.0, help="frames per second per camera (default 1)"
    )
    parser.add_argument("--imgsz", type=int, default=640, help="inference size (default 640)")
    parser.add_argument(
        "--backend",
        choices=("onnxruntime", "openvino"),
        default="onnxruntime",
        help="model.backend of the detector (default onnxruntime)",
    )
    parser.add_argument(
        "--grid", type=int, default=4, help="zones: a GRID x GRID grid per camera (default 4)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE.svg",
        help="write p99 against cameras as SVG, e.g. docs/img/capacity-onnxruntime.svg",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="give up on a step's start after S seconds (default 300)"
    )


def _steps(text: str) -> list[int]:
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--steps {text!r}: write camera counts like 1,2,4,8") from None
    if not steps or any(n < 1 for n in steps) or steps != sorted(set(steps)):
        raise argparse.ArgumentTypeError(f"--steps {text!r}: write rising camera counts from 1, like 1,2,4,8")
    return steps


# -- configuration -------------------------------------------------------------------------

CATEGORIES = """\
  lawn:
    code: "201301"
    name: 绿地内人员逗留
    labels: [person, bicycle]
{timing}
  illegal_parking:
    code: "200505"
    name: 机动车乱停放
    labels: [car, truck, bus, motorcycle]
{timing}
"""
# short dwell and clear: people and cars coming and going through the cells open and
# close incidents all the time; two sampled frames at 1 fps are enough for the warning
# (not an operator's review); the grace outlasts a step, so nothing is dispatched
TIMING = """\
    dwell_s: 1
    warn_min_frames: 1
    inertia: 1
    gap_s: 0.5
    clear_s: 1.5
    grace_s: 600
    dispatch: false
    template: "{address}请勿停留。"
"""


def grid_zones(n: int) -> str:
    """``n`` x ``n`` cells covering the frame, each watching both categories (YAML flow list)."""
    cells = []
    for row in range(n):
        for col in range(n):
            x1, x2, y1, y2 = col / n, (col + 1) / n, row / n, (row + 1) / n
            cells.append(
                f"{{id: cell-{row}{col}, polygon: [[{x1:.4g}, {y1:.4g}], [{x2:.4g}, {y1:.4g}], "
                f"[{x2:.4g}, {y2:.4g}], [{x1:.4g}, {y2:.4g}]], categories: [lawn, illegal_parking]}}"
            )
    return "[" + ", ".join(cells) + "]"


def bench_config(var: Path, urls: dict[str, str], args: argparse.Namespace) -> str:
    zones = grid_zones(args.grid)
    return stack.bench_yaml(
        var,
        site="capacity bench",
        model=f"{{name: yolo11n, imgsz: {args.imgsz}, conf: 0.35, backend: {args.backend}}}",
        categories=CATEGORIES.format(timing=TIMING.rstrip("\n")),
        cameras={cam: (url, f"detect_fps: {args.detect_fps:g}, zones: {zones}") for cam, url in urls.items()},
    )


def clips(sources: list[str]) -> list[Path]:
    """The footage to play: the ``--source`` files (a clear error for one that is not there)."""
    from streams.contract.errors import SourceError

    paths = [Path(s) for s in sources]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SourceError(f"--source: no video file {', '.join(missing)}")
    return paths


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return frame_counts(reply.read().decode())


# -- the run -----------------------------------------------------------------------------


@dataclass
class Running:
    """What runs for the whole bench: the worker and speaker on the broker, the watching consumer."""

    tmp: Path
    cfg_path: Path
    topics: Topics
    env: dict[str, str]
    base: list[subprocess.Popen[bytes]]  # worker, speaker
    broker_pid: int
    consumer: KafkaConsumer


def run(args: argparse.Namespace) -> int:
    from streams.contract.topics import Topics
    from streams.dev.broker import EmbeddedBroker, free_port
    from streams.dev.demo.camserver import CameraServer, load_footage
    from streams.kafka_io import ensure_topics

    if not Path("/proc/self/stat").is_file():
        print("bench capacity reads process CPU times from /proc: run it on Linux")
        return 2
    paths = clips(args.source)
    footage = [load_footage(p) for p in paths]
    names = [f"cam-{i:02d}" for i in range(args.steps[-1])]
    feeds = {}
    for i, name in enumerate(names):
        clip = footage[i % len(footage)]
        # cameras on the same clip start at different points of it
        offset = (i // len(footage)) * 2.7 % (len(clip.frames) / clip.fps)
        feeds[name] = dataclasses.replace(clip, offset_s=offset)
    cams = CameraServer({}, footage=feeds).start()
    tmp = Path(tempfile.mkdtemp(prefix="citywatch-capacity-"))
    cfg_path = tmp / "cameras.yaml"
    cfg_path.write_text(bench_config(tmp, {n: cams.url(n) for n in names}, args), encoding="utf-8")
    topics = Topics(f"cap{os.getpid()}.")
    broker = EmbeddedBroker(port=free_port()).start()
    base: list[subprocess.Popen[bytes]] = []
    consumer = None
    steps: list[Step] = []
    try:
        ensure_topics(broker.bootstrap, topics.all(), partitions=4)
        env = stack.role_env(broker.bootstrap, topics)
        base = [
            stack.start_role(tmp, stack.worker_argv(cfg_path, tmp), env),
            stack.start_role(tmp, ["speaker", "--config", str(cfg_path)], env),
        ]
        consumer = stack.watching_consumer(broker.bootstrap, topics)
        running = Running(tmp, cfg_path, topics, env, base, broker.pid or 0, consumer)
        print(
            f"capacity on the embedded broker: {', '.join(p.name for p in paths)} at native rate, "
            f"detect_fps {args.detect_fps:g}, imgsz {args.imgsz}, {args.backend}, "
            f"{args.grid}x{args.grid} zones a camera, {os.cpu_count()} CPUs, {args.step_s:g} s a step"
        )
        print(_header())
        for n in args.steps:
            step = _run_step(running, names[:n], args, free_port())
            if step is None:
                break
            steps.append(step)
            reason = failure(step, args.max_p99_ms, args.max_dropped)
            print(_row(step, reason or "pass"), flush=True)
            if reason is not None:
                break
    finally:
        if consumer is not None:
            consumer.close()
        stack.stop_roles(base)
        cams.stop()
        broker.stop()
    return _report(args, steps, tmp)


def _run_step(running: Running, cameras: list[str], args: argparse.Namespace, port: int) -> Step | None:
    """Start an edge for ``cameras``, wait until it and the worker answer, measure for ``step_s``."""
    argv = ["edge", "--config", str(running.cfg_path), "--health-port", str(port)]
    for cam in cameras:
        argv += ["--camera", cam]
    edge = stack.start_role(running.tmp, argv, running.env)
    procs = [*running.base, edge]
    try:
        seen = Observed()
        started = time.time()
        if not _warm(running, seen, cameras, started, procs, args.timeout):
            return None
        seen = Observed()  # the window: only what starts from here counts
        frames0, cpu0, t0 = _scrape(port), _cpu(running, procs), time.time()
        while time.time() < t0 + args.step_s:
            seen.read(running.consumer, running.topics)
            if _exited(procs, running.tmp):
                return None
        frames1, cpu1, t1 = _scrape(port), _cpu(running, procs), time.time()
        # commands of incidents that opened late in the window arrive after it: wait for them,
        # as long as the limit allows (one still missing then would fail the step anyway)
        drain_until = time.time() + args.max_p99_ms / 1000.0 + 1.0
        while time.time() < drain_until and window_incidents(seen, t0, t1)[1]:
            seen.read(running.consumer, running.topics)
    finally:
        stack.stop_roles([edge])
    return _step(len(cameras), seen, t0, t1, frames0, frames1, cpu1 - cpu0)


def _warm(
    running: Running,
    seen: Observed,
    cameras: list[str],
    since: float,
    procs: list[subprocess.Popen[bytes]],
    timeout_s: float,
) -> bool:
    """Wait until every camera's detections flow and a loudspeaker command came after ``since``."""
    from streams.contract.timeutil import from_iso

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.read(running.consumer, running.topics)
        flowing = {cam for (cam, _), (d, _) in seen.dets.items() if from_iso(d["captured_at"]) >= since}
        if flowing >= set(cameras) and any(ts >= since for ts in seen.commands.values()):
            return True
        if _exited(procs, running.tmp):
            return False
    print(
        f"{len(cameras)} cameras: no loudspeaker command within {timeout_s:g}s of the detector's "
        f"start (do the footage's objects enter the zones?); logs in {running.tmp}"
    )
    return False


def _exited(procs: list[subprocess.Popen[bytes]], tmp: Path) -> bool:
    if any(p.poll() is not None for p in procs):
        print(f"a process exited early; logs in {tmp}")
        return True
    return False


def _cpu(running: Running, procs: list[subprocess.Popen[bytes]]) -> float:
    return cpu_seconds([running.broker_pid, *(p.pid for p in procs)])


def _step(
    cameras: int,
    seen: Observed,
    t0: float,
    t1: float,
    frames0: dict[str, float],
    frames1: dict[str, float],
    cpu_s: float,
) -> Step:

    def delta(stage: str) -> float:
        return frames1.get(stage, 0.0) - frames0.get(stage, 0.0)

    latencies, unanswered, queued = window_incidents(seen, t0, t1)
    sampled, missed = delta("sampled"), delta("missed")
    return Step(
        cameras=cameras,
        sampled_fps=sampled / (t1 - t0) / cameras,
        dropped=missed / max(1.0, sampled + missed),
        inferred=delta("inferred") / max(1.0, sampled),
        latencies_ms=tuple(latencies),
        unanswered=unanswered,
        queued=queued,
        cpu_cores=cpu_s / (t1 - t0),
    )


def _header() -> str:
    return (
        f"{'cameras':>7} {'fps/cam':>8} {'dropped':>8} {'inferred':>9} {'incidents':>12} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'cpu/cam':>8}  verdict"
    )


def _row(step: Step, verdict: str) -> str:
    incidents = f"{len(step.latencies_ms)}/{step.unanswered}/{step.queued}"
    return (
        f"{step.cameras:>7} {step.sampled_fps:>8.2f} {step.dropped:>8.1%} {step.inferred:>9.0%} "
        f"{incidents:>12} {step.p50_ms:>8.0f} {step.p99_ms:>8.0f} {step.cpu_per_camera:>8.2f}  {verdict}"
    )


def _report(args: argparse.Namespace, steps: list[Step], tmp: Path) -> int:
    if steps:
        print(
            "fps/cam: sampled frames a second per camera; dropped: sampling slots no frame was "
            "taken for; incidents: answered / opened without a command in time / queued behind their "
            "speaker's previous warning or suppressed by the policy (left out); cpu/cam: cores "
            "of broker, edge, worker and speaker together, per camera"
        )
    best = capacity(steps, args.max_p99_ms, args.max_dropped)
    if args.plot is not None and steps:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        title = f"p99 capture → loudspeaker command, {args.backend}, detect_fps {args.detect_fps:g}"
        args.plot.write_text(
            curve_svg([(s.cameras, s.p99_ms) for s in steps], args.max_p99_ms, title), encoding="utf-8"
        )
        print(f"curve written to {args.plot}")
    shown = best or (steps[0] if steps else None)
    if not steps:
        print(f"no step measured; logs in {tmp}")
    print(
        result_line(
            cameras=best.cameras if best else 0,
            detect_fps=args.detect_fps,
            p99_ms=shown.p99_ms if shown else float("nan"),
            cpu_per_camera=shown.cpu_per_camera if shown else float("nan"),
            backend=args.backend,
        )
    )
    return 0 if steps else 1
