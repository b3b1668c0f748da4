"""Run the whole pipeline on the embedded broker with two simulated street cameras
(built from the bus.jpg photo that the ultralytics wheel ships) and print a live
timeline: violation seen -> loudspeaker warning -> grace runs out -> case
dispatched -> patrol accepts, arrives, resolves -> the camera verifies -> closed,
and a second incident where the warning alone works. Once both stories are told it
prints a summary and keeps everything running, with the command centre up, until
Ctrl-C (or --duration); --once ends right after the stories (tests and CI). Either
way it stops everything it started."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.dev.demo.camserver import CameraServer
    from streams.dev.demo.timeline import Timeline

STORIES_MAX_S = 240.0  # both stories take about a minute; past this something is wrong


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds (default: at Ctrl-C)"
    )
    parser.add_argument(
        "--once", action="store_true", help="stop right after the stories are told (tests and CI)"
    )
    parser.add_argument(
        "--web-port",
        type=int,
        default=6066,
        help="command-centre web port (default 6066; 0 or busy: a free one)",
    )
    parser.add_argument("--var", default="var/demo", help="directory for the demo's files (default var/demo)")


class Children:
    """The processes the demo started; all of them are stopped at the end."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        self.procs[name] = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "streams.cli", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def stop_all(self) -> int:
        for p in reversed(list(self.procs.values())):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        for f in self._files:
            f.close()
        return len(self.procs)


def _free_or(port: int) -> int:
    from streams.dev.broker import free_port, port_in_use

    return port if port and not port_in_use("127.0.0.1", port) else free_port()


WATCHED = ("alerts", "loudspeaker", "loudspeaker-acks", "dispatch", "dispatch-updates", "broadcast-decisions")


class Story:
    """The demo's two stories as the records tell them, and the scenes they change."""

    def __init__(
        self, timeline: Timeline, cameras: CameraServer, say: Callable[[str], None], t0: float
    ) -> None:
        self.timeline = timeline
        self.cameras = cameras
        self.say = say
        self.t0 = t0
        self.first_warning: float | None = None
        self.told = False  # both stories
        self.pending_scene: dict[str, float] = {}

    def record(self, suffix: str, value: dict[str, Any]) -> None:
        from streams.dev.demo.config import LOOP_CAMERA, WARN_CAMERA

        for line in self.timeline.lines(suffix, value):
            self.say(line)
        if suffix == "loudspeaker" and self.first_warning is None:
            self.first_warning = time.monotonic() - self.t0
        # the story: the driver at the warned camera leaves after the warning;
        # the bus at the other stays until the patrol officer arrives
        if suffix == "loudspeaker" and value.get("camera_id") == WARN_CAMERA:
            self.pending_scene.setdefault(WARN_CAMERA, time.monotonic() + 3)
        if suffix == "dispatch-updates" and value.get("status") == "arrived":
            self.pending_scene.setdefault(LOOP_CAMERA, time.monotonic() + 2)

    def move_scenes(self) -> None:
        for cam, when in list(self.pending_scene.items()):
            if time.monotonic() >= when and self.cameras.showing(cam) != "clear":
                self.cameras.show(cam, "clear")
                self.say(f"SCENE       {self.timeline.where(cam)}: the bus drives off")

    def both_closed(self) -> bool:
        from streams.dev.demo.config import LOOP_CAMERA, WARN_CAMERA

        return bool(self.timeline.closed_by(LOOP_CAMERA) and self.timeline.closed_by(WARN_CAMERA))

    def summary(self, var: Path) -> str:
        from streams.dev.demo.config import LOOP_CAMERA, WARN_CAMERA

        return _summary(self.timeline, self.first_warning, var, LOOP_CAMERA, WARN_CAMERA)

    def ok(self) -> bool:
        from streams.dev.demo.config import LOOP_CAMERA, WARN_CAMERA

        closed_by = self.timeline.closed_by
        return closed_by(LOOP_CAMERA) == "verified" and closed_by(WARN_CAMERA) == "warning"


def run(args: argparse.Namespace) -> int:
    from streams.dev.broker import EmbeddedBroker, free_port
    from streams.dev.demo.camserver import CameraServer
    from streams.dev.demo.config import LOOP_CAMERA, WARN_CAMERA, write_demo_config
    from streams.dev.demo.scene import bus_scene
    from streams.dev.demo.timeline import Timeline

    var = Path(args.var).resolve()
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = _stop_on_signals()
    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - t0:6.1f}s  {text}", flush=True)

    cameras = CameraServer({LOOP_CAMERA: bus_scene(), WARN_CAMERA: bus_scene(mirror=True)}).start()
    cfg_path, cfg = write_demo_config(var, cameras.url(LOOP_CAMERA), cameras.url(WARN_CAMERA))
    broker = EmbeddedBroker(port=free_port()).start()
    children: Children | None = None
    story = Story(Timeline(names={c.id: c.name for c in cfg.cameras}), cameras, say, t0)
    try:
        children, board = _start_children(
            args, var, cfg_path, cfg.kafka.partitions, broker.bootstrap, cameras.port, say
        )
        say(f"{board} (ready once the worker has joined, ~15 s)")
        _tell(args, story, children, broker.bootstrap, stop, board, var)
    finally:
        stopped = children.stop_all() if children is not None else 0
        cameras.stop()
        broker.stop()
    if not story.told:
        print(story.summary(var), flush=True)
    print(f"  stopped {stopped} processes and the embedded broker; files under {var}", flush=True)
    return 0 if story.ok() else 1


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _start_children(
    args: argparse.Namespace,
    var: Path,
    cfg_path: Path,
    partitions: int,
    bootstrap: str,
    camera_port: int,
    say: Callable[[str], None],
) -> tuple[Children, str]:
    """Topics, then the worker, loudspeaker gateway, detector and patrol officer; returns
    them and the line that tells where the command centre is."""
    from streams.contract.topics import Topics
    from streams.kafka_io import ensure_topics

    ensure_topics(bootstrap, partitions=partitions)
    web_port = _free_or(args.web_port)
    operator_token = "demo-operator-" + secrets.token_hex(4)
    patrol_token = "demo-patrol-" + secrets.token_hex(4)
    env = {
        **os.environ,
        "CITYWATCH_KAFKA": bootstrap,
        "CITYWATCH_TOPIC_PREFIX": Topics.current().prefix,
        "CITYWATCH_TOKENS": f"{operator_token}=operator@demo,{patrol_token}=patrol:unit-hp-1@wang",
        "CITYWATCH_DB": store_url(var),  # the board's history and the patrol read what the store writes
        "YOLO_OFFLINE": "1",
    }
    say(f"embedded broker at {bootstrap}; simulated cameras on 127.0.0.1:{camera_port}")
    children = Children(var / "logs", env)
    config = ("--config", str(cfg_path))
    children.start("worker", "worker", *config, "--web-port", str(web_port), "--datadir", str(var / "faust"))
    children.start("speaker", "speaker", *config)
    children.start("edge", "edge", *config)
    children.start("patrol", "patrol", *config, *PATROL_ARGS, *_duration(args))
    children.start("store", "store", *config, "--db", store_url(var))
    say(
        f"started worker, detector, loudspeaker gateway, patrol officer and case record "
        f"(logs in {var / 'logs'})"
    )
    board = (
        f"command centre: http://127.0.0.1:{web_port}/  operator token {operator_token}, "
        f"patrol token {patrol_token}"
    )
    return children, board


PATROL_ARGS = (
    "--unit",
    "unit-hp-1",
    "--auto",
    "--accept-after",
    "3",
    "--arrive-after",
    "3",
    "--resolve-after",
    "8",
    "--max-cases",
    "1",
)


def _duration(args: argparse.Namespace) -> list[str]:
    return ["--duration", str(int(args.duration))] if args.duration else []


def _tell(
    args: argparse.Namespace,
    story: Story,
    children: Children,
    bootstrap: str,
    stop: threading.Event,
    board: str,
    var: Path,
) -> None:
    """Follow the records until both stories are told (and, without --once, until the end)."""
    from streams.contract.errors import RecordError
    from streams.contract.records import parse_object
    from streams.contract.topics import Topics
    from streams.kafka_io import assign_all, standalone_consumer

    topics = Topics.current()
    consumer = standalone_consumer(bootstrap, "citywatch-demo")
    assign_all(consumer, [topics.name(s) for s in WATCHED], from_beginning=True)
    now = time.monotonic()
    deadline = now + args.duration if args.duration else float("inf")
    stories_by = now + STORIES_MAX_S
    while not stop.is_set() and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for r in records:
                suffix = r.topic.removeprefix(topics.prefix)
                try:
                    value: dict[str, Any] = parse_object(r.value, suffix)
                except RecordError:
                    continue
                story.record(suffix, value)
        story.move_scenes()
        if not _carry_on(args, story, children, stories_by, board, var):
            break
    consumer.close()


def _carry_on(
    args: argparse.Namespace, story: Story, children: Children, stories_by: float, board: str, var: Path
) -> bool:
    """False once the demo should stop: a process died, the stories are told with --once,
    or they were not told in time."""
    logs = var / "logs"
    dead = [n for n in children.dead() if n != "patrol"]  # the patrol officer leaves when done
    if dead:
        story.say(f"stopped early: {', '.join(dead)} exited; see {logs}")
        return False
    if not story.told and story.both_closed():
        story.told = True
        story.say("both stories told: the warning worked at one camera, the closed loop at the other")
        print(story.summary(var), flush=True)
        if args.once:
            return False
        print(f"\nstill running: {board}", flush=True)
        print("  Ctrl-C stops the demo and everything it started", flush=True)
    if not story.told and time.monotonic() >= stories_by:
        story.say(f"the stories were not told within {STORIES_MAX_S:g}s; see {logs}")
        return False
    return True


def store_url(var: Path) -> str:
    """The demo's case record: SQLite under its working folder."""
    return f"sqlite:///{var / 'citywatch.db'}"


def _store_line(var: Path) -> str:
    """How many rows the case record holds so far."""
    if not (var / "citywatch.db").is_file():
        return "  case record: nothing written yet"
    from streams.store.database import open_engine, row_counts

    engine = open_engine(store_url(var))
    try:
        counts = row_counts(engine)
    finally:
        engine.dispose()
    shown = ", ".join(f"{name} {n}" for name, n in counts.items())
    return f"  case record ({var / 'citywatch.db'}): {sum(counts.values())} rows: {shown}"


def _summary(tl: Any, first_warning: float | None, var: Path, loop_cam: str, warn_cam: str) -> str:
    wavs = sorted((var / "speaker").rglob("*.wav")) if (var / "speaker").is_dir() else []
    jpegs = sorted((var / "evidence").rglob("*.jpg")) if (var / "evidence").is_dir() else []
    lines = ["", "summary"]
    for inc in tl.incidents.values():
        path: list[str] = []
        for h in inc.get("history", []):
            if not path or path[-1] != h["state"]:
                path.append(h["state"])
        lines.append(f"  {inc['incident_id']} {tl.where(inc.get('camera_id'))}: {' -> '.join(path)}")
    lines.append(
        f"  first loudspeaker warning: {first_warning:.1f}s after start"
        if first_warning
        else "  no loudspeaker warning"
    )
    played = sum(1 for a in tl.acks if a.get("status") == "played")
    lines.append(f"  loudspeaker commands {len(tl.commands)}, played {played}, WAV files {len(wavs)}")
    lines.append(
        f"  dispatch cases {len(tl.cases)}, patrol updates {len(tl.updates)}, evidence JPEGs {len(jpegs)}"
    )
    lines.append(
        f"  closed loop at {loop_cam}: {tl.closed_by(loop_cam) or 'not finished'}; "
        f"warning at {warn_cam}: {tl.closed_by(warn_cam) or 'not finished'}"
    )
    lines.append(_store_line(var))
    return "\n".join(lines)
