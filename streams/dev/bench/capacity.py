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
import math
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from streams.commands.bench import result_line
from streams.dev.bench import stack
from streams.dev.bench.stack import Observed, pct

if TYPE_CHECKING:
    import subprocess

    from kafka import KafkaConsumer

    from streams.contract.topics import Topics

SHARED_MEDIA = Path(__file__).resolve().parents[3].parent / "shared" / "media"
DEFAULT_CLIPS = ("street-shopfronts.mp4", "parking-lot.mp4")
DEFAULT_STEPS = "1,2,4,8,12,16,24,32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="FILE",
        help="a video file the cameras play, in turn (repeatable; default: "
        + " and ".join(DEFAULT_CLIPS)
        + " from ../shared/media)",
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


# -- pure pieces -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step's measurements."""

    cameras: int
    sampled_fps: float  # per camera
    dropped: float  # share of sampling slots missed
    inferred: float  # share of sampled frames the motion gate let through
    latencies_ms: tuple[float, ...]  # capture -> loudspeaker command, one an incident
    unanswered: int  # incidents opened in the step with no command in time
    queued: int  # incidents whose warning waited for their speaker (not in latencies_ms)
    cpu_cores: float  # pipeline's CPU seconds per second, all cameras

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99_ms(self) -> float:
        return pct(list(self.latencies_ms), 99)

    @property
    def cpu_per_camera(self) -> float:
        return self.cpu_cores / self.cameras


def failure(step: Step, max_p99_ms: float, max_dropped: float) -> str | None:
    """Why the step fails the stopping rule, or None where it passes."""
    if not step.latencies_ms:
        return "no incident answered"
    if step.p99_ms > max_p99_ms:
        return f"p99 {step.p99_ms:.0f} ms > {max_p99_ms:g}"
    # incidents still without a command when the bench stopped waiting (the limit had passed)
    # are slower than the limit: more than 1 in 100 puts the p99 past it
    if step.unanswered * 100 > len(step.latencies_ms) + step.unanswered:
        return f"{step.unanswered} without a command after {max_p99_ms:g} ms"
    if step.dropped > max_dropped:
        return f"dropped {step.dropped:.1%} > {max_dropped:.1%}"
    return None


def capacity(steps: Sequence[Step], max_p99_ms: float, max_dropped: float) -> Step | None:
    """The largest step before the first that fails (None where the first fails)."""
    passed = None
    for step in steps:
        if failure(step, max_p99_ms, max_dropped) is not None:
            break
        passed = step
    return passed


def frame_counts(exposition: str, role: str = "edge") -> dict[str, float]:
    """Frames by stage, summed over cameras, from a role's ``/metrics`` text."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "citywatch_frames_total" and sample.labels.get("role") == role:
                stage = sample.labels["stage"]
                counts[stage] = counts.get(stage, 0.0) + sample.value
    return counts


def stat_cpu_ticks(stat: str) -> int:
    """User plus system clock ticks from the text of ``/proc/PID/stat``."""
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5): utime, stime


def curve_svg(points: Sequence[tuple[int, float]], limit_ms: float, title: str) -> str:
    """p99 latency (ms) against cameras as a standalone SVG line chart with the limit drawn."""
    width, height = 640, 400
    left, right, top, bottom = 70, 20, 40, 50
    shown = [(n, ms) for n, ms in points if math.isfinite(ms)]
    x_max = max([n for n, _ in points] + [1])
    y_max = _nice_ceiling(max([ms for _, ms in shown] + [limit_ms]) * 1.1)

    def x(n: float) -> float:
        return left + (width - left - right) * n / x_max

    def y(ms: float) -> float:
        return height - bottom - (height - top - bottom) * ms / y_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:g}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(6):
        ms = y_max * i / 5
        out.append(
            f'<line x1="{left}" y1="{y(ms):.1f}" x2="{width - right}" y2="{y(ms):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g}</text>'
        )
    for n, _ in points:
        out.append(f'<text x="{x(n):.1f}" y="{height - bottom + 18}" text-anchor="middle">{n}</text>')
    out += [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
        f'<text x="{(left + width - right) / 2:g}" y="{height - 12}" text-anchor="middle">cameras</text>',
        f'<text transform="translate(18 {(top + height - bottom) / 2:g}) rotate(-90)" '
        'text-anchor="middle">p99 capture → loudspeaker (ms)</text>',
        f'<line x1="{left}" y1="{y(limit_ms):.1f}" x2="{width - right}" y2="{y(limit_ms):.1f}" '
        'stroke="#c00" stroke-dasharray="6 4"/>',
        f'<text x="{width - right - 4}" y="{y(limit_ms) - 6:.1f}" text-anchor="end" fill="#c00">'
        f"limit {limit_ms:g} ms</text>",
    ]
    if shown:
        path = " ".join(f"{x(n):.1f},{y(ms):.1f}" for n, ms in shown)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
        out += [
            f'<circle cx="{x(n):.1f}" cy="{y(ms):.1f}" r="4" fill="#1f5fbf"><title>{n} cameras: '
            f"{ms:.0f} ms</title></circle>"
            for n, ms in shown
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(max(value, 1e-9)))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power


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
# close incidents all the time; the grace outlasts a step, so nothing is dispatched
TIMING = """\
    dwell_s: 1
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


def clips(sources: list[str] | None) -> list[Path]:
    """The footage to play: ``--source`` files, else the shared clips, else a clear error."""
    from streams.contract.errors import SourceError

    if sources:
        paths = [Path(s) for s in sources]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SourceError(f"--source: no video file {', '.join(missing)}")
        return paths
    for folder in (Path.cwd().parent / "shared" / "media", SHARED_MEDIA):
        found = [folder / name for name in DEFAULT_CLIPS if (folder / name).is_file()]
        if found:
            return found
    raise SourceError(
        f"no footage to play: pass --source FILE.mp4 (repeatable), or put {' / '.join(DEFAULT_CLIPS)} "
        f"in ../shared/media (looked in {Path.cwd().parent / 'shared' / 'media'} and {SHARED_MEDIA})"
    )


# -- processes ---------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += _descendants(int(child))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) the processes and their children have used so far."""
    ticks = 0
    for root in pids:
        for pid in _descendants(root):
            try:
                ticks += stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
            except (OSError, IndexError, ValueError):
                continue  # ended between listing and reading
    return ticks / os.sysconf("SC_CLK_TCK")


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


def window_incidents(seen: Observed, t0: float, t1: float) -> tuple[list[float], int, int]:
    """Capture -> loudspeaker ms of the incidents opened by frames captured in [t0, t1], how
    many of those have no command yet, and how many waited for their speaker (left out: that
    wait is the loudspeaker saying another warning, not the pipeline)."""
    from streams.contract.timeutil import from_iso

    latencies, unanswered, queued = [], 0, 0
    for iid, (v, _) in seen.started.items():
        det = seen.dets.get((v["camera_id"], int(v.get("seq", -1))))
        # a sighting while its (camera, zone, category) still has an incident open opens none
        if iid not in seen.opened or det is None or not t0 <= from_iso(det[0]["captured_at"]) <= t1:
            continue
        if iid in seen.queued:
            queued += 1
            continue
        hops = seen.hops(iid)
        if hops is None:
            unanswered += 1
        else:
            latencies.append(hops["total"])
    return latencies, unanswered, queued


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
            "speaker's previous warning (left out); cpu/cam: cores "
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
