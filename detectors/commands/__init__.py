"""The detector roles of the CLI: ``edge``, ``capture`` and ``detect`` (and their shared options)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address
from streams.config import Camera, Config
from streams.contract.errors import ConfigError, ConfigProblem
from streams.contract.topics import Topics

if TYPE_CHECKING:
    from streams.role_health import RoleHealth


def add_role_arguments(parser: argparse.ArgumentParser, *, cameras: bool = True) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    if cameras:
        parser.add_argument(
            "--camera",
            action="append",
            default=None,
            metavar="ID",
            help="only this camera (repeatable; default: every enabled camera)",
        )
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N sampled frames in all"
    )
    add_health_arguments(parser)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loop", action="store_true", help="start video files again at their end")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="read video files as fast as the pipeline takes them (default: at their native rate)",
    )


@dataclass(frozen=True)
class Role:
    """What every detector role starts from: its configuration, cameras, topics and broker."""

    path: Path
    cfg: Config
    cameras: list[Camera]
    topics: Topics
    bootstrap: str


def load_role(args: argparse.Namespace) -> Role:
    """The configuration of --config, the cameras of --camera, the topics and --kafka."""
    from streams import kafka_security
    from streams.config import load_config, resolve_path

    path = resolve_path(args.config)
    cfg = load_config(path)
    kafka_security.use(cfg.kafka)
    cameras = select_cameras(cfg, args.camera, str(path))
    return Role(path, cfg, cameras, Topics.current(), kafka_address(args))


def select_cameras(cfg: Config, wanted: list[str] | None, file: str) -> list[Camera]:
    """The cameras named by --camera (enabled or not), else every enabled camera."""
    by_id = {c.id: c for c in cfg.cameras}
    if wanted:
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            raise ConfigError(
                [
                    ConfigProblem(file, None, "cameras", f"no camera {u!r}; known: {', '.join(by_id)}")
                    for u in unknown
                ]
            )
        return [by_id[w] for w in dict.fromkeys(wanted)]
    cameras = [c for c in cfg.cameras if c.enabled]
    if not cameras:
        raise ConfigError([ConfigProblem(file, None, "cameras", "no enabled camera: add one or enable one")])
    return cameras


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the loops then finish cleanly) while inside the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def role_health(args: argparse.Namespace, name: str, bootstrap: str, topics: list[str]) -> RoleHealth | None:
    """The health of a role started with --health-port, else None (no server, no probe)."""
    if args.health_port is None:
        return None
    from streams.role_health import RoleHealth

    return RoleHealth(name, bootstrap, topics)
