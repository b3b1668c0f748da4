"""A terminal patrol app for one unit: follows citywatch.dispatch (every partition, no
consumer group) and citywatch.alerts, lists the unit's open cases (location, category,
due time, evidence) and sends accepted / arrived / resolved / rejected updates on
citywatch.dispatch-updates (key case_id).

On start it reads both topics from the beginning and shows the cases whose latest
state is still open and assigned to this unit (--new-only: only cases dispatched or
re-sent after the start). A case escalated to another unit leaves the list; a case
re-sent to this unit joins it.

Interactive (default): type a line, e.g. `a 1` accept case #1, `v 1` arrived,
`r 1 goods moved back inside` resolved, `j 1 not our street` rejected, `l` list,
`q` quit (end of input also quits).
Automatic (--auto, for demos): every open case of the unit is accepted after
--accept-after S, reported arrived --arrive-after S later and resolved
--resolve-after S after that; --max-cases N ends after N resolved cases,
--duration S after S seconds."""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from streams.commands import add_config_argument, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.clients.patrol import Output, PatrolSession

logger = logging.getLogger(__name__)

CATCH_UP_MAX_S = 10.0  # show the list after this even if the end offsets were not reached


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--unit", required=True, metavar="ID", help="patrol unit id (from cameras.yaml units:)"
    )
    parser.add_argument(
        "--new-only",
        action="store_true",
        help="ignore cases dispatched before the start (default: show the unit's open cases)",
    )
    parser.add_argument("--auto", action="store_true", help="act on every case by itself (demo mode)")
    parser.add_argument("--accept-after", type=seconds, default=3.0, metavar="S", help="--auto: default 3")
    parser.add_argument(
        "--arrive-after", type=seconds, default=5.0, metavar="S", help="--auto: after accepting; default 5"
    )
    parser.add_argument(
        "--resolve-after", type=seconds, default=5.0, metavar="S", help="--auto: after arriving; default 5"
    )
    parser.add_argument(
        "--max-cases", type=int, default=None, metavar="N", help="--auto: end after resolving N cases"
    )
    parser.add_argument("--duration", type=seconds, default=None, metavar="S", help="end after S seconds")


def seconds(text: str) -> float:
    """argparse type: a non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds cannot be negative")
    return value


class RecordSource(Protocol):
    """Decoded records of the dispatch and alerts topics: ("case" | "alert", value)."""

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]: ...

    def caught_up(self) -> bool: ...


class UpdateSink(Protocol):
    def send(self, case_id: str, value: dict[str, Any]) -> None: ...


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.clients.patrol import AutoPlan, PatrolSession, check_unit
    from streams.config import load_config
    from streams.contract.errors import UsageError

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    check_unit(cfg, args.unit)
    if args.max_cases is not None and (args.max_cases < 1 or not args.auto):
        raise UsageError("--max-cases needs --auto and a number of at least 1")
    plan = (
        AutoPlan(args.accept_after, args.arrive_after, args.resolve_after, args.max_cases)
        if args.auto
        else None
    )
    session = PatrolSession(args.unit, tz=cfg.site.timezone, auto=plan)
    bootstrap = kafka_address(args)
    source = KafkaSource(bootstrap, new_only=args.new_only)
    sink = KafkaSink(bootstrap)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    lines: queue.Queue[str | None] = queue.Queue()
    if not args.auto:
        threading.Thread(target=_read_stdin, args=(lines,), daemon=True).start()
    try:
        loop(session, source, sink, lines, stop, duration_s=args.duration)
    finally:
        source.close()
        sink.close()
    return 0


def loop(
    session: PatrolSession,
    source: RecordSource,
    sink: UpdateSink,
    lines: queue.Queue[str | None],
    stop: threading.Event,
    *,
    duration_s: float | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    write: Callable[[str], None] | None = None,
) -> None:
    """Feed the session until quit, --duration, --max-cases or a signal."""
    out_write = write or _print
    started = monotonic()
    while not stop.is_set() and not session.quit and not session.auto_finished():
        if duration_s is not None and monotonic() - started >= duration_s:
            break
        outputs: list[Output] = []
        for kind, value in source.poll(0.2):
            handle = session.on_case if kind == "case" else session.on_alert
            outputs.append(handle(value, clock()))
        if not session.live and (source.caught_up() or monotonic() - started >= CATCH_UP_MAX_S):
            outputs.append(session.go_live(clock()))
        while session.live:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is None:  # end of input
                session.quit = True
                break
            outputs.append(session.on_line(line, clock()))
        outputs.append(session.on_tick(clock()))
        for out in outputs:
            for update in out.updates:
                sink.send(str(update["case_id"]), update)
            for text in out.lines:
                out_write(text)


def _print(text: str) -> None:
    sys.stdout.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stdout.flush()


def _read_stdin(lines: queue.Queue[str | None]) -> None:
    for line in sys.stdin:
        lines.put(line)
    lines.put(None)


class KafkaSource:
    """Every partition of dispatch and alerts, outside any consumer group, at explicit offsets."""

    def __init__(self, bootstrap: str, *, new_only: bool) -> None:
        from streams.contract.topics import Topics
        from streams.kafka_io import assign_all, standalone_consumer

        topics = Topics.current()
        self._kinds = {topics.dispatch: "case", topics.alerts: "alert"}
        self._consumer = standalone_consumer(bootstrap, "citywatch-patrol")
        self._ends = assign_all(self._consumer, list(self._kinds), from_beginning=not new_only)

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        from streams.contract.errors import RecordError
        from streams.contract.records import Alert, DispatchCase, Record, decode

        out: list[tuple[str, dict[str, Any]]] = []
        for records in self._consumer.poll(timeout_ms=int(timeout_s * 1000)).values():
            for r in records:
                kind = self._kinds[r.topic]
                try:
                    rec: Record = decode(DispatchCase if kind == "case" else Alert, r.value)
                except RecordError as exc:
                    logger.warning("skipping %s[%s]@%s: %s", r.topic, r.partition, r.offset, exc)
                    continue
                out.append((kind, rec.to_dict()))
        return out

    def caught_up(self) -> bool:
        return all(self._consumer.position(tp) >= end for tp, end in self._ends.items())

    def close(self) -> None:
        self._consumer.close()


class KafkaSink:
    """Patrol updates to citywatch.dispatch-updates, keyed by case_id, flushed one by one."""

    def __init__(self, bootstrap: str) -> None:
        from streams.contract.topics import Topics
        from streams.kafka_io import producer

        self._topic = Topics.current().dispatch_updates
        self._producer = producer(bootstrap, client_id="citywatch-patrol", enable_idempotence=False)

    def send(self, case_id: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._producer.send(self._topic, key=case_id.encode("utf-8"), value=raw)
        self._producer.flush(10)

    def close(self) -> None:
        self._producer.close(5)
