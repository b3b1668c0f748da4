"""Print a topic's records as JSON lines: {topic, partition, offset, timestamp_ms,
key, value, headers}. JSON values are printed as objects, other payloads (frames)
as {"base64": ...}. The output can be fed back with `citywatch replay`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from streams.commands import add_kafka_argument, kafka_address
from streams.contract.topics import Topics
from streams.kafka_io import read_topic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name, full or without the prefix (e.g. alerts)")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    parser.add_argument("--max", type=int, default=None, metavar="N", help="stop after N records")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop after S seconds without a record"
    )
    parser.add_argument("--values", action="store_true", help="print only the values")
    add_kafka_argument(parser)


def run(args: argparse.Namespace) -> int:
    topic = Topics.current().resolve(args.topic)
    where = "its oldest record" if args.from_beginning else "its end"

    def ready(ends: dict[Any, int]) -> None:  # on stderr: stdout is the records only
        sys.stderr.write(f"tail: following {topic} ({len(ends)} partitions) from {where}\n")
        sys.stderr.flush()

    for msg in read_topic(
        kafka_address(args),
        topic,
        from_beginning=args.from_beginning,
        max_records=args.max,
        timeout_s=args.timeout,
        on_ready=ready,
    ):
        out = msg.to_json()
        line = json.dumps(out["value"] if args.values else out, ensure_ascii=False)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0
