"""Push recorded records back into Kafka with their original spacing (or faster), for
tuning rules: `citywatch tail detections --from-beginning > day.jsonl`, then
`citywatch replay day.jsonl --speed 10`. Keys and headers are kept; records are sent
in file order. The worker derives its ids from record contents and event time, so
the same file replayed into fresh topics gives the same incidents, commands and cases."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from streams.commands import add_kafka_argument, kafka_address
from streams.errors import BrokerError, UsageError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSON lines as `citywatch tail` prints them ('-' reads stdin)")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="1 keeps the original spacing, 10 is ten times faster, 0 as fast as possible (default 1)",
    )
    parser.add_argument("--fast", action="store_true", help="as fast as possible (same as --speed 0)")
    parser.add_argument(
        "--topic",
        metavar="NAME",
        default=None,
        help="send every record to this topic (full name or e.g. detections); needed for bare values",
    )
    parser.add_argument(
        "--prefix",
        action="store_true",
        help="re-target recorded topic names to the current CITYWATCH_TOPIC_PREFIX (same suffix)",
    )
    add_kafka_argument(parser)


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    try:
        return Path(path).open(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}; give the path of a JSON-lines file") from None


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError, KafkaTimeoutError

    from streams.kafka_io import producer
    from streams.replay import LineError, Pacer, parse_line
    from streams.topics import Topics

    speed = 0.0 if args.fast else args.speed
    if speed < 0:
        raise UsageError("--speed must be 0 (as fast as possible) or more")
    topics = Topics.current()
    override = topics.resolve(args.topic) if args.topic else None
    bootstrap = kafka_address(args)
    pacer = Pacer(speed)
    sent: Counter[str] = Counter()
    skipped: list[int] = []
    failed: list[str] = []
    known: set[str] = set()
    name = "<stdin>" if args.file == "-" else args.file

    def on_error(line: int) -> Any:
        def errback(exc: BaseException) -> None:
            failed.append(f"{name}:{line}: not delivered: {exc}")

        return errback

    source = _open(args.file)
    prod = producer(bootstrap, linger_ms=5 if speed == 0 else 0, max_block_ms=15_000)
    start = time.monotonic()
    try:
        for number, text in enumerate(source, start=1):
            try:
                rec = parse_line(text, number, topics, topic=override, retarget_prefix=args.prefix)
            except LineError as exc:
                print(f"{name}:{number}: {exc}; line skipped", file=sys.stderr)
                skipped.append(number)
                continue
            if rec is None:
                continue
            if rec.topic not in known:
                try:
                    prod.partitions_for(rec.topic)
                except KafkaTimeoutError:
                    raise BrokerError(
                        f"{name}:{number}: topic {rec.topic!r} does not exist on {bootstrap}; create the "
                        "topics (`citywatch broker` does), or re-target them with --prefix or --topic"
                    ) from None
                known.add(rec.topic)
            wait = pacer.due(rec.time_s) - (time.monotonic() - start)
            if wait > 0:
                time.sleep(wait)
            future = prod.send(rec.topic, key=rec.key, value=rec.value, headers=list(rec.headers))
            future.add_errback(on_error(number))
            sent[rec.topic] += 1
        prod.flush()
    except KafkaError as exc:
        raise BrokerError(f"replay to {bootstrap} failed: {exc}") from None
    finally:
        prod.close()
        if source is not sys.stdin:
            source.close()
    elapsed = time.monotonic() - start
    for topic, count in sorted(sent.items()):
        print(f"{count:8d}  {topic}")
    total = sum(sent.values())
    print(f"{total} records sent in {elapsed:.1f}s (speed {'max' if speed == 0 else f'{speed:g}x'})")
    for problem in failed:
        print(problem, file=sys.stderr)
    if skipped:
        shown = ", ".join(str(n) for n in skipped[:20]) + (" ..." if len(skipped) > 20 else "")
        print(f"{len(skipped)} malformed lines skipped (lines {shown})", file=sys.stderr)
    return 1 if skipped or failed else 0
