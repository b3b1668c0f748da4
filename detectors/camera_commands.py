"""Operators' commands to the cameras of this detector process (``citywatch.camera-commands``).

``CommandListener`` is a thread with its own kafka-python consumer: every partition of the
topic, no consumer group, from the end at its start. Every ``edge`` or ``detect`` process
must see the commands of its own cameras, whichever partition they are on, and a command
sent while no detector ran is not replayed at the next start (the zone may no longer be
clean then). It decodes each record at the boundary (a malformed one goes to the dead-letter
topic) and hands good ones to a bounded inbox; the role's loop drains the inbox between
rounds (``CommandInbox.drain``), on its own thread, so a pipeline is only ever touched by
the loop. ``CommandHandler`` decides and applies one command (pure but for the pipeline
call): another process's camera, too old (``MAX_AGE_S``), a redelivery, or applied.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from detectors.publish import Publisher
from streams.contract.errors import RecordError
from streams.contract.records import CameraCommand, dead_letter, decode
from streams.contract.timeutil import from_iso

logger = logging.getLogger(__name__)

MAX_AGE_S = 600.0  # a command older than this is ignored: the zone may no longer be clean
MAX_SEEN = 1024  # command ids remembered to recognise a redelivery
MAX_INBOX = 256  # commands waiting for the loop; more are dropped (said, counted)

# what became of a command (the metric's outcome label)
APPLIED = "applied"
NO_BACKGROUND = "no_background"  # the camera is here but keeps no static-object background
NOT_HERE = "not_here"  # a camera this process does not read (another edge or detect has it)
STALE = "stale"
DUPLICATE = "duplicate"
OUTCOMES = (APPLIED, NO_BACKGROUND, NOT_HERE, STALE, DUPLICATE)


class Recapturing(Protocol):
    """What a command needs of a camera's pipeline (``detectors.pipeline.CameraPipeline``)."""

    def recapture_background(self, zone_id: str | None, at: float) -> bool: ...


class CommandHandler:
    """Decides and applies camera commands; counts outcomes per camera (cameras of this
    process only, so the counters are bounded by its cameras)."""

    def __init__(self, max_age_s: float = MAX_AGE_S, max_seen: int = MAX_SEEN) -> None:
        self.max_age_s = max_age_s
        self.max_seen = max_seen
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.counts: Counter[tuple[str, str]] = Counter()  # (camera or "", outcome) -> commands

    def handle(self, command: CameraCommand, pipelines: Mapping[str, Recapturing], now: float) -> str:
        """Apply ``command`` to its camera's pipeline if this process has it; the outcome."""
        camera_id = command.camera_id
        pipeline = pipelines.get(camera_id)
        if pipeline is None:
            logger.debug("%s: camera command %s is for another process", camera_id, command.command_id)
            self.counts["", NOT_HERE] += 1
            return NOT_HERE
        outcome = self._decide(command, pipeline, now)
        self.counts[camera_id, outcome] += 1
        return outcome

    def _decide(self, command: CameraCommand, pipeline: Recapturing, now: float) -> str:
        camera_id, zone = command.camera_id, command.zone_id or "(all zones)"
        at = from_iso(command.requested_at)
        age = now - at
        if age > self.max_age_s:
            logger.warning(
                "%s: ignoring %s's request to re-capture the background of zone %s: sent %.0f s ago "
                "(at most %.0f s); send it again if the zone is still clean",
                camera_id, command.requested_by, zone, age, self.max_age_s,
            )  # fmt: skip
            return STALE
        if command.command_id in self._seen:
            return DUPLICATE
        self._seen[command.command_id] = None
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)
        if not pipeline.recapture_background(command.zone_id, at):
            logger.warning(
                "%s: %s asked to re-capture the background of zone %s, but this camera keeps no "
                "static-object background (no static-object detector runs for it)",
                camera_id, command.requested_by, zone,
            )  # fmt: skip
            return NO_BACKGROUND
        logger.info(
            "%s: re-capturing the background of zone %s, asked by %s%s (%s)",
            camera_id, zone, command.requested_by,
            f": {command.reason}" if command.reason else "", command.command_id,
        )  # fmt: skip
        return APPLIED


class CommandInbox:
    """Commands waiting for the loop: bounded; ``put`` never blocks (a full inbox drops)."""

    def __init__(self, handler: CommandHandler | None = None, max_size: int = MAX_INBOX) -> None:
        self.handler = handler or CommandHandler()
        self._queue: queue.Queue[CameraCommand] = queue.Queue(max_size)
        self.dropped = 0

    def put(self, command: CameraCommand) -> bool:
        try:
            self._queue.put_nowait(command)
        except queue.Full:
            self.dropped += 1
            logger.warning(
                "%s: camera command %s dropped: %d commands wait for the loop already",
                command.camera_id, command.command_id, self._queue.maxsize,
            )  # fmt: skip
            return False
        return True

    def drain(self, pipelines: Mapping[str, Recapturing], now: float) -> int:
        """Apply every waiting command (on the loop's thread); how many were handled.
        A command whose pipeline raises is logged and counted as handled: the loop goes on."""
        handled = 0
        while True:
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                return handled
            handled += 1
            try:
                self.handler.handle(command, pipelines, now)
            except Exception:  # a background model's failure must not end the role
                logger.exception("%s: camera command %s failed", command.camera_id, command.command_id)


class CommandListener:
    """Reads ``topic`` (all partitions, from the end at start) into ``inbox`` on its own thread;
    malformed records go to ``deadletter`` through ``publisher``. ``ready`` is set once every
    partition has its start: a command sent after that is seen. A broker that is not there
    is retried with backoff; nothing here ends the role."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        deadletter: str,
        inbox: CommandInbox,
        publisher: Publisher,
        *,
        role: str,
        consumer_factory: Any = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.deadletter = deadletter
        self.inbox = inbox
        self.publisher = publisher
        self.role = role
        self._consumer_factory = consumer_factory
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.deadletters = 0
        self._thread = threading.Thread(target=self._run, name=f"{role}-camera-commands", daemon=True)

    def start(self) -> CommandListener:
        self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        self._thread.join(timeout_s)

    def _consumer(self) -> Any:
        from streams.kafka_io import assign_all, standalone_consumer

        if self._consumer_factory is not None:
            return self._consumer_factory()
        consumer = standalone_consumer(self.bootstrap, f"citywatch-{self.role}-commands")
        try:
            assign_all(consumer, [self.topic], from_beginning=False)
        except BaseException:
            consumer.close()
            raise
        return consumer

    def _run(self) -> None:
        from streams.backoff import Backoff
        from streams.kafka_io import PollGuard, close_quietly

        backoff = Backoff(1.0, 2.0, 30.0)
        consumer = None
        while consumer is None and not self.stop.is_set():
            try:
                consumer = self._consumer()
            except Exception as exc:  # the role goes on without commands meanwhile
                delay = backoff.next()
                logger.warning(
                    "%s: cannot read %s yet (%s); trying again in %.0f s", self.role, self.topic, exc, delay
                )
                self.stop.wait(delay)
        if consumer is None:
            return
        logger.info("%s: reading camera commands from %s", self.role, self.topic)
        self.ready.set()
        guard = PollGuard(f"{self.role} camera commands", self.stop)
        try:
            while not self.stop.is_set():
                for records in guard.poll(consumer, 500).values():
                    for r in records:
                        self._take(r)
        finally:
            close_quietly(self.role, consumer.close)

    def _take(self, r: Any) -> None:
        try:
            command = decode(CameraCommand, r.value)
        except RecordError as exc:
            self.deadletters += 1
            key = r.key.decode("utf-8", "replace") if r.key is not None else self.topic
            logger.warning("%s: dead-lettered a camera command at %s:%d: %s", key, r.partition, r.offset, exc)
            letter = dead_letter(r.topic, r.partition, r.offset, str(exc), r.value)
            self.publisher.send(self.deadletter, self.topic, letter.to_bytes())
            return
        self.inbox.put(command)
