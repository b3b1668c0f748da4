"""A terminal patrol app for one unit: follows citywatch.dispatch (every partition, no
consumer group) and citywatch.alerts, lists the unit's open cases (location, category,
due time, evidence) and sends accepted / arrived / resolved / rejected updates on
citywatch.dispatch-updates (key case_id).

On start it shows the cases whose latest state is still open and assigned to this
unit (--new-only: only cases dispatched or re-sent after the start): from the case
record (--db, else CITYWATCH_DB, else store.url, else sqlite:///var/citywatch.db) and
the topics from the store's committed offsets on, or, without them, from the topics
read from the beginning. A case escalated to another unit leaves the list; a case
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
from streams.commands.store import add_db_argument

if TYPE_CHECKING:
    from streams.clients.patrol import PatrolSession

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
    add_db_argument(parser)


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
    """Decoded records of the dispatch and alerts topics, and what the case record says:
    ("case" | "alert" | "over", value)."""

    def poll(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]: ...

    def caught_up(self) -> bool: ...

    def reconcile(self, case_ids: list[str]) -> list[tuple[str, dict[str, Any]]]: ...


class UpdateSink(Protocol):
    def send(self, case_id: str, value: dict[str, Any]) -> None: ...


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.clients.patrol import AutoPlan, PatrolSession, check_unit
    from streams.clients.patrol_source import KafkaSource
    from streams.config import load_config
    from streams.contract.errors import UsageError
    from streams.store.database import database_url
    from streams.store.reader import HistoryReader

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
    history = None if args.new_only else HistoryReader(database_url(args.db, cfg.store.url))
    source = KafkaSource(bootstrap, new_only=args.new_only, unit_id=args.unit, history=history)
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
        if history is not None:
            history.close()
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
        handlers = {"case": session.on_case, "alert": session.on_alert, "over": session.on_over}
        outputs = [handlers[kind](value, clock()) for kind, value in source.poll(0.2)]
        if not session.live and (source.caught_up() or monotonic() - started >= CATCH_UP_MAX_S):
            found = source.reconcile(list(session.book.open))
            outputs += [handlers[kind](value, clock()) for kind, value in found]
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
