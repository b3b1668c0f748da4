"""The ``citywatch`` command line: one entry point, one sub-command module each.

Each command module has ``add_arguments(parser)`` and ``run(args) -> int`` and
imports its heavy dependencies inside ``run`` so ``citywatch check`` stays fast.
Logging is configured here and nowhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from streams import kafka_logs
from streams.commands import add_module_parsers
from streams.contract.errors import CitywatchError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("streams.commands.check", "validate cameras.yaml; every error with file:line and the fix"),
    "broker": ("streams.commands.broker", "run the embedded Kafka-compatible broker"),
    "tail": ("streams.commands.tail", "print a topic's records as JSON lines"),
    "replay": ("streams.commands.replay", "push recorded records (tail's JSON lines) back, paced or faster"),
    "demo": ("streams.commands.demo", "run the whole pipeline on the embedded broker"),
    "topics": ("streams.commands.topics", "plan or create every topic (contract, internal, changelogs)"),
    "worker": ("streams.commands.worker", "the Faust worker (agents, tables, web)"),
    "bench": ("streams.commands.bench", "benchmarks (detector, streams, end-to-end)"),
    "eval": (
        "streams.dev.eval_clip",
        "run the pipeline over a labelled clip; precision, recall, false warnings",
    ),
    "edge": ("detectors.commands.edge", "cameras to detections in one process (capture + detect)"),
    "capture": ("detectors.commands.capture", "cameras to citywatch.frames (JPEG), never blocking on Kafka"),
    "detect": ("detectors.commands.detect", "citywatch.frames to detections, as a consumer group"),
    "model": (
        "detectors.commands.model",
        "the model: info (class names, without inference), quantize (the INT8 OpenVINO model)",
    ),
    "fixtures": (
        "detectors.commands.fixtures",
        "a camera's fixtures (benches, planters): list, add, remove, learn",
    ),
    "speaker": ("streams.commands.speaker", "the loudspeaker gateway: speaks commands, acknowledges them"),
    "mqtt": (
        "streams.commands.mqtt",
        "the MQTT bridge: sensor readings in, alerts and dispatched cases out (QoS 1)",
    ),
    "store": ("streams.commands.store", "the case record: history topics into a relational database"),
    "casesync": (
        "streams.commands.casesync",
        "the city's case system (数字城管): pushes dispatched cases and their stages to it",
    ),
    "notify": (
        "streams.commands.notify",
        "group-chat notifications: cases and offline cameras to WeCom / DingTalk / webhook robots",
    ),
    "restore": (
        "streams.commands.restore",
        "re-seed the worker's open incidents and cases from the case record (--dry-run: list them)",
    ),
    "db": ("streams.commands.db", "the case record's database: upgrade (migrate), current, backup"),
    "report": ("streams.commands.report", "KPI report of the case record for a period, by unit/grid/…"),
    "export": ("streams.commands.export", "export the case record's cases of a period as CSV or XLSX"),
    "patrol": ("streams.commands.patrol", "terminal patrol app: a unit's cases, accept / arrive / resolve"),
    "broadcast": ("streams.commands.broadcast", "an operator's broadcast; prints the policy's decision"),
    "zone": (
        "streams.commands.zone",
        "a camera zone: recapture (it is clean now: the detector takes its background again)",
    ),
    "schemas": ("streams.commands.schemas", "write docs/schemas/<topic>.json from the record models"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citywatch",
        description="Smart-city event streams: cameras and sensors to incidents, warnings and patrol cases.",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("CITYWATCH_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (default: INFO, or CITYWATCH_LOG_LEVEL)",
    )
    add_module_parsers(parser.add_subparsers(dest="command", metavar="COMMAND"), COMMANDS, "_module")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("kafka", "aiokafka", "ultralytics", "alembic", "nncf"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    kafka_logs.install(logging.getLogger().handlers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(args.log_level)
    try:
        return int(args._module.run(args))
    except CitywatchError as exc:
        print(f"citywatch {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
