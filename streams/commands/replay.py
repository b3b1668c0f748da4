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
from streams.contract.errors import BrokerError, UsageError
from streams.contract.topics import Topics

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


class _Replay:
    """What one replay sent, skipped and failed to deliver, line by line."""

    def __init__(self, name: str, bootstrap: str, prod: Any, speed: float) -> None:
        from streams.clients.replay import Pacer

        self.name = name
        self.bootstrap = bootstrap
        self.prod = prod
        self.speed = speed
        self.pacer = Pacer(speed)
        self.sent: Counter[str] = Counter()
        self.skipped: list[int] = []
        self.failed: list[str] = []
        self.known: set[str] = set()
        self.start = time.monotonic()

    def line(self, number: int, text: str, topics: Topics, override: str | None, prefix: bool) -> None:
        from streams.clients.replay import LineError, parse_line

        try:
            rec = parse_line(text, number, topics, topic=override, retarget_prefix=prefix)
        except LineError as exc:
            print(f"{self.name}:{number}: {exc}; line skipped", file=sys.stderr)
            self.skipped.append(number)
            return
        if rec is None:
            return
        self._known(rec.topic, number)
        wait = self.pacer.due(rec.time_s) - (time.monotonic() - self.start)
        if wait > 0:
            time.sleep(wait)
        future = self.prod.send(rec.topic, key=rec.key, value=rec.value, headers=list(rec.headers))
        future.add_errback(self._on_error(number))
        self.sent[rec.topic] += 1

    def _known(self, topic: str, number: int) -> None:
        from kafka.errors import KafkaTimeoutError

        if topic in self.known:
            return
        try:
            self.prod.partitions_for(topic)
        except KafkaTimeoutError:
            raise BrokerError(
                f"{self.name}:{number}: topic {topic!r} does not exist on {self.bootstrap}; create the "
                "topics (`citywatch broker` does), or re-target them with --prefix or --topic"
            ) from None
        self.known.add(topic)

    def _on_error(self, line: int) -> Any:
        def errback(exc: BaseException) -> None:
            self.failed.append(f"{self.name}:{line}: not delivered: {exc}")

        return errback

    def report(self) -> int:
        elapsed = time.monotonic() - self.start
        for topic, count in sorted(self.sent.items()):
            print(f"{count:8d}  {topic}")
        total = sum(self.sent.values())
        speed = self.speed
        print(f"{total} records sent in {elapsed:.1f}s (speed {'max' if speed == 0 else f'{speed:g}x'})")
        for problem in self.failed:
            print(problem, file=sys.stderr)
        if self.skipped:
            skipped = self.skipped
            shown = ", ".join(str(n) for n in skipped[:20]) + (" ..." if len(skipped) > 20 else "")
            print(f"{len(skipped)} malformed lines skipped (lines {shown})", file=sys.stderr)
        return 1 if self.skipped or self.failed else 0


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from streams.kafka_io import producer

    speed = 0.0 if args.fast else args.speed
    if speed < 0:
        raise UsageError("--speed must be 0 (as fast as possible) or more")
    topics = Topics.current()
    override = topics.resolve(args.topic) if args.topic else None
    bootstrap = kafka_address(args)
    name = "<stdin>" if args.file == "-" else args.file
    source = _open(args.file)
    prod = producer(bootstrap, linger_ms=5 if speed == 0 else 0, max_block_ms=15_000)
    replay = _Replay(name, bootstrap, prod, speed)
    try:
        for number, text in enumerate(source, start=1):
            replay.line(number, text, topics, override, args.prefix)
        prod.flush()
    except KafkaError as exc:
        raise BrokerError(f"replay to {bootstrap} failed: {exc}") from None
    finally:
        prod.close()
        if source is not sys.stdin:
            source.close()
    return replay.report()
