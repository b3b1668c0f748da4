"""Operators' commands to a camera zone from the terminal.

``citywatch zone recapture --camera ID [--zone ID] [--reason …]``: the zone is clean now,
so the detector reading the camera (``edge`` or ``detect``) takes the zone's static-object
reference background again from its next frames (without --zone: every zone of the camera
that keeps one). The command (its id printed) goes to citywatch.camera-commands keyed by
camera; a detector ignores it once it is older than 10 minutes.

Exit status: 0 sent (acknowledged by Kafka), 1 a wrong option (unknown camera or zone, a
zone without a static-object category) or Kafka did not acknowledge it (nothing sent).
"""

from __future__ import annotations

import argparse
import sys
import time

from streams.commands import add_config_argument, add_kafka_argument, kafka_address


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("recapture",),
        help="recapture: the zone is clean now; the detector takes its reference background again",
    )
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument("--camera", required=True, metavar="ID", help="camera id (cameras.yaml cameras:)")
    parser.add_argument(
        "--zone", default=None, metavar="ID", help="zone id of the camera (default: every zone that has one)"
    )
    parser.add_argument("--reason", default="", help="why (recorded with the command)")
    parser.add_argument("--by", default=None, metavar="NAME", help="operator name (default: operator@$USER)")


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.clients.camera_commands import recapture_command
    from streams.commands.broadcast import _answers, _user, send_acknowledged
    from streams.config import load_config
    from streams.contract.errors import CameraCommandError, UsageError
    from streams.contract.topics import Topics
    from streams.kafka_reach import explain

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    try:
        command = recapture_command(
            cfg,
            camera_id=args.camera,
            zone_id=args.zone,
            requested_by=args.by or f"operator@{_user()}",
            reason=args.reason,
            now=time.time(),
        )
    except CameraCommandError as exc:
        raise UsageError(str(exc)) from None
    bootstrap = kafka_address(args)
    if not _answers(bootstrap):
        problem = explain(bootstrap)
        raise type(problem)(f"{problem}; nothing was sent")
    topic = Topics.current().camera_commands
    send_acknowledged(bootstrap, topic, command.camera_id, command.to_dict(), "citywatch-zone", "command")
    zone = command.zone_id or "every zone with a background"
    sys.stdout.write(
        f"command {command.command_id}: re-capture the background of {command.camera_id} / {zone}, "
        f"by {command.requested_by}\n"
    )
    return 0
