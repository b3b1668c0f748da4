"""The loudspeaker gateway: consumes citywatch.loudspeaker, speaks each command on its
speaker (espeak-ng text-to-speech, or a configured clip for the command's template, after
a chime) through the speaker's driver (file, http or command), and publishes one ack per
command on citywatch.loudspeaker-acks: played, failed or expired, with started_at and
finished_at. Malformed records go to citywatch.deadletter."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.speaker.gateway import Gateway, GatewayOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--speaker",
        action="append",
        metavar="ID",
        default=None,
        help="serve only this speaker (repeatable; default: every speaker in the configuration)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the oldest command instead of the group's committed position",
    )
    parser.add_argument(
        "--group",
        default=None,
        metavar="ID",
        help="consumer group (default: citywatch-speaker; with --speaker, one group per speaker set)",
    )
    add_health_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.config import load_config
    from streams.contract.topics import Topics
    from streams.speaker.gateway import DEFAULT_GROUP, Gateway, GatewayOptions

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    wanted = frozenset(args.speaker) if args.speaker else None
    # a gateway serving some speakers must see every command: it gets a group of its own
    group = args.group or (DEFAULT_GROUP if wanted is None else f"{DEFAULT_GROUP}.{'+'.join(sorted(wanted))}")
    options = GatewayOptions(
        bootstrap=kafka_address(args),
        topics=Topics.current(),
        group_id=group,
        speakers=wanted,
        from_beginning=args.from_beginning,
    )
    gateway = Gateway(cfg, options)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # asked twice: give up on draining
            raise KeyboardInterrupt
        stop.set()  # first ask: finish and acknowledge what was accepted

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = _health(args, gateway, options)
    try:
        stats = gateway.run(stop, duration_s=args.duration)
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.close()
    print(f"speaker gateway: {stats.summary()}", flush=True)
    return 0


def _health(args: argparse.Namespace, gateway: Gateway, options: GatewayOptions) -> Any:
    """The health server of --health-port (None without it); the gateway's loop is its activity."""
    if args.health_port is None:
        return None
    from streams import role_metrics
    from streams.role_health import RoleHealth, serve

    topics = options.topics
    health = RoleHealth("speaker", options.bootstrap, [topics.loudspeaker, topics.loudspeaker_acks])
    gateway.on_round = health.round
    stats = gateway.stats
    return serve(args, health, [role_metrics.speaker(stats.acks, lambda: stats.deadletters)])
