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
from pathlib import Path
from types import FrameType
from typing import IO, Any

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
    from streams.broker import free_port, port_in_use

    return port if port and not port_in_use("127.0.0.1", port) else free_port()


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaConsumer, TopicPartition

    from streams.broker import EmbeddedBroker, free_port
    from streams.demo.camserver import CameraServer
    from streams.demo.config import LOOP_CAMERA, WARN_CAMERA, write_demo_config
    from streams.demo.scene import bus_scene
    from streams.demo.timeline import Timeline
    from streams.errors import RecordError
    from streams.kafka_io import ensure_topics
    from streams.records import parse_object
    from streams.topics import Topics

    var = Path(args.var).resolve()
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - t0:6.1f}s  {text}", flush=True)

    cameras = CameraServer({LOOP_CAMERA: bus_scene(), WARN_CAMERA: bus_scene(mirror=True)}).start()
    cfg_path, cfg = write_demo_config(var, cameras.url(LOOP_CAMERA), cameras.url(WARN_CAMERA))
    topics = Topics.current()
    broker = EmbeddedBroker(port=free_port()).start()
    children: Children | None = None
    timeline = Timeline(names={c.id: c.name for c in cfg.cameras})
    first_warning: float | None = None
    told = False  # both stories
    try:
        ensure_topics(broker.bootstrap, partitions=cfg.kafka.partitions)
        web_port = _free_or(args.web_port)
        operator_token = "demo-operator-" + secrets.token_hex(4)
        patrol_token = "demo-patrol-" + secrets.token_hex(4)
        env = {
            **os.environ,
            "CITYWATCH_KAFKA": broker.bootstrap,
            "CITYWATCH_TOPIC_PREFIX": topics.prefix,
            "CITYWATCH_TOKENS": f"{operator_token}=operator@demo,{patrol_token}=patrol:unit-hp-1@wang",
            "YOLO_OFFLINE": "1",
        }
        say(f"embedded broker at {broker.bootstrap}; simulated cameras on 127.0.0.1:{cameras.port}")
        children = Children(logs, env)
        children.start(
            "worker",
            "worker",
            "--config",
            str(cfg_path),
            "--web-port",
            str(web_port),
            "--datadir",
            str(var / "faust"),
        )
        children.start("speaker", "speaker", "--config", str(cfg_path))
        children.start("edge", "edge", "--config", str(cfg_path))
        children.start(
            "patrol",
            "patrol",
            "--config",
            str(cfg_path),
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
            *(["--duration", str(int(args.duration))] if args.duration else []),
        )
        say(f"started worker, detector, loudspeaker gateway and patrol officer (logs in {logs})")
        board = (
            f"command centre: http://127.0.0.1:{web_port}/  operator token {operator_token}, "
            f"patrol token {patrol_token}"
        )
        say(f"{board} (ready once the worker has joined, ~15 s)")
        watched = [
            "alerts",
            "loudspeaker",
            "loudspeaker-acks",
            "dispatch",
            "dispatch-updates",
            "broadcast-decisions",
        ]
        consumer = KafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        tps = [TopicPartition(topics.name(s), p) for s in watched for p in range(cfg.kafka.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        pending_scene: dict[str, float] = {}
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
                    for line in timeline.lines(suffix, value):
                        say(line)
                    if suffix == "loudspeaker" and first_warning is None:
                        first_warning = time.monotonic() - t0
                    # the story: the driver at the warned camera leaves after the warning;
                    # the bus at the other stays until the patrol officer arrives
                    if suffix == "loudspeaker" and value.get("camera_id") == WARN_CAMERA:
                        pending_scene.setdefault(WARN_CAMERA, time.monotonic() + 3)
                    if suffix == "dispatch-updates" and value.get("status") == "arrived":
                        pending_scene.setdefault(LOOP_CAMERA, time.monotonic() + 2)
            for cam, when in list(pending_scene.items()):
                if time.monotonic() >= when and cameras.showing(cam) != "clear":
                    cameras.show(cam, "clear")
                    say(f"SCENE       {timeline.where(cam)}: the bus drives off")
            dead = [n for n in children.dead() if n != "patrol"]  # the patrol officer leaves when done
            if dead:
                say(f"stopped early: {', '.join(dead)} exited; see {logs}")
                break
            if not told and timeline.closed_by(LOOP_CAMERA) and timeline.closed_by(WARN_CAMERA):
                told = True
                say("both stories told: the warning worked at one camera, the closed loop at the other")
                print(_summary(timeline, first_warning, var, LOOP_CAMERA, WARN_CAMERA), flush=True)
                if args.once:
                    break
                print(f"\nstill running: {board}", flush=True)
                print("  Ctrl-C stops the demo and everything it started", flush=True)
            if not told and time.monotonic() >= stories_by:
                say(f"the stories were not told within {STORIES_MAX_S:g}s; see {logs}")
                break
        consumer.close()
    finally:
        stopped = children.stop_all() if children is not None else 0
        cameras.stop()
        broker.stop()
    if not told:
        print(_summary(timeline, first_warning, var, LOOP_CAMERA, WARN_CAMERA), flush=True)
    print(f"  stopped {stopped} processes and the embedded broker; files under {var}", flush=True)
    ok = timeline.closed_by(LOOP_CAMERA) == "verified" and timeline.closed_by(WARN_CAMERA) == "warning"
    return 0 if ok else 1


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
    return "\n".join(lines)
