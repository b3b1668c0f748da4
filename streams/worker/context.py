"""What the worker's agents share: the app, its topics and tables, counters, the
in-memory indexes, and the helpers that publish and dead-letter.

``Worker`` is the built worker as its runners and the web see it; ``WorkerContext``
is what every agent's ``run(ctx, stream)`` gets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import faust
from aiokafka.errors import KafkaError

from streams.backoff import Backoff
from streams.config import Config
from streams.config.models import Speaker
from streams.contract.records import BAD_INPUT, dead_letter
from streams.contract.topics import Topics
from streams.logic import incidents as inc
from streams.logic.clock import ahead_of_wall
from streams.logic.rules import CameraRules, CameraState
from streams.worker.cache import StateCache
from streams.worker.settings import RETICK_S, SEND_RETRY_S
from streams.worker.ticks import Retick

logger = logging.getLogger(__name__)

Send = tuple[faust.TopicT, str, dict[str, Any]]
Headers = list[tuple[str, bytes]]
# a record a worker publishes after it has applied it itself (the violations of its rules
# step) carries its app id here: the worker group that applied it skips it when it reads it
APPLIED_BY = "citywatch-applied-by"
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Stats:
    """Counters for /metrics and the benchmarks."""

    detections: int = 0
    violations: int = 0
    alerts: int = 0
    commands: int = 0
    cases: int = 0
    deadletters: int = 0
    duplicates: int = 0
    refused: int = 0  # patrol updates that would change nothing
    over_budget: int = 0  # table writes refused for their size
    last_detection_at: float = 0.0


@dataclass
class Worker:
    """The built app and what the feeds and the web plug into it.

    Registration (streams/worker/register.py) installs the feeds, then the web
    (``streams.web:install``), which may add agents, timers, tables and web routes to
    ``worker.app`` and publish through ``send_json`` / ``dead``.
    """

    app: faust.App
    cfg: Config
    topics: Topics
    stats: Stats
    agents: dict[str, Any]
    tables: dict[str, Any]
    ctx: inc.ConfigIndex
    partitions: int
    send_json: Callable[[faust.TopicT, str, dict[str, Any]], Awaitable[None]]
    dead: Callable[[Any, str], Awaitable[None]]
    topic: Callable[[str], faust.TopicT]
    web_port: int | None = None
    config_path: Path | None = None  # the file cfg came from (zone editor, zone reload); None: none
    db: str | None = None  # the case record's URL (--db); None: CITYWATCH_DB, store.url or the default
    # (method, path, aiohttp handler) added by the feeds; the web server mounts them behind its token check
    web_routes: list[tuple[str, str, Any]] = field(default_factory=list)
    # reports for /healthz by name (e.g. "kafka"); a report with "ok": false makes the worker
    # "degraded" (503)
    health: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Outputs:
    """The topics the worker's agents write (and some of them read)."""

    violations: faust.TopicT
    alerts: faust.TopicT
    loudspeaker: faust.TopicT
    dispatch: faust.TopicT
    deadletter: faust.TopicT
    decisions: faust.TopicT
    incident_inputs: faust.TopicT
    speaker_intents: faust.TopicT
    case_index: faust.TopicT


@dataclass
class Tables:
    """Every state, in a table keyed by the key of the topic it is read from."""

    rules: Any
    incidents: Any
    speakers: Any
    cases: Any


@dataclass
class Indexes:
    """Kept beside the tables so timers never scan them (rebuilt after an assignment):
    each book's next deadline with its clock, the speakers with a queue, parked and closed cases."""

    deadlines: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # (due, clock, clock_wall)
    ticked: Retick = field(default_factory=lambda: Retick(every_s=RETICK_S))
    queued_speakers: set[str] = field(default_factory=set)
    parked_cases: dict[str, float] = field(default_factory=dict)  # case_id -> wall time first parked
    closed_cases: dict[str, float] = field(default_factory=dict)  # case_id -> wall time closed (in order)

    def clear(self) -> None:
        self.deadlines.clear()
        self.ticked.clear()
        self.queued_speakers.clear()
        self.parked_cases.clear()
        self.closed_cases.clear()


@dataclass
class Progress:
    """How far the worker has read since its last assignment (monotonic and wall times)."""

    reindex_until: float = 0.0  # until then every tick re-reads the tables
    last_input: float = 0.0  # when any agent last took an input
    last_input_at: float = 0.0  # the broker time of the latest input taken
    settled: bool = False  # the backlog after the last assignment has been read
    resumed: tuple[float, float] | None = None  # when the tables were seen recovered
    index_built: float = float("-inf")


@dataclass
class WorkerContext:
    """What every agent, timer and task of the worker works with."""

    app: faust.App
    cfg: Config
    topics: Topics
    partitions: int
    stats: Stats
    incidents: inc.ConfigIndex
    out: Outputs
    tables: Tables
    created_topics: list[faust.TopicT]
    rules_by_camera: dict[str, CameraRules]
    rule_states: StateCache[CameraState]  # cleared on revoke; written when a step says so
    speakers: dict[str, Speaker]
    indexes: Indexes = field(default_factory=Indexes)
    progress: Progress = field(default_factory=Progress)

    def topic(self, name: str) -> faust.TopicT:
        """An output topic (raw bytes); the producer tracks it from the start."""
        t = self.app.topic(name, partitions=self.partitions, key_serializer="raw", value_serializer="raw")
        self.created_topics.append(t)
        return t

    def sources(self, *names: str) -> faust.TopicT:
        """One agent's input topics (raw bytes)."""
        return self.app.topic(
            *names, partitions=self.partitions, key_serializer="raw", value_serializer="raw"
        )

    async def dead(self, event: Any, error: str) -> None:
        """Send an input that cannot be used to the dead-letter topic, with its position and why."""
        msg = event.message
        logger.warning("dead-letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, error)
        await self.dead_raw(msg.topic, msg.partition, msg.offset, error, event.value)

    async def dead_raw(self, topic: str, partition: int, offset: int, error: str, raw: bytes | None) -> None:
        self.stats.deadletters += 1
        record = dead_letter(topic, partition, offset, error, raw)
        await self.out.deadletter.send(key=topic.encode(), value=record.to_bytes())

    async def send_json(self, t: faust.TopicT, key: str, value: dict[str, Any]) -> None:
        await t.send(key=key.encode(), value=json.dumps(value, ensure_ascii=False).encode())

    def applied_here(self) -> Headers:
        """The headers of a record this worker group has applied already (``APPLIED_BY``)."""
        return [(APPLIED_BY, self.app.conf.id.encode())]

    def was_applied_here(self, event: Any) -> bool:
        """Whether an input is a record this worker group published after applying it."""
        headers = event.headers or {}
        return bool(headers.get(APPLIED_BY) == self.app.conf.id.encode())

    async def send_all(self, sends: list[Send], *, applied_on: tuple[faust.TopicT, ...] = ()) -> None:
        """Publish outputs and wait until the broker has them; the records for a topic of
        ``applied_on`` carry the ``applied_here`` headers.

        The records are handed to the producer in the order of ``sends`` (a topic
        partition keeps that order), all before the first acknowledgement is awaited.
        Agents publish before they write their table: a crash in between redelivers the
        input to the old state, which produces the same outputs with the same ids again
        (a recognisable duplicate) instead of losing them. A Kafka error is retried for
        ``SEND_RETRY_S`` before it is raised.
        """
        mine = self.applied_here() if applied_on else None
        pending = [
            (
                t,
                key.encode(),
                json.dumps(value, ensure_ascii=False).encode(),
                mine if t in applied_on else None,
            )
            for t, key, value in sends
        ]
        backoff, deadline = Backoff(0.5, 2.0, 5.0), time.monotonic() + SEND_RETRY_S
        while pending:
            futures = [await t.send(key=k, value=data, headers=headers) for t, k, data, headers in pending]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [
                (send, r) for send, r in zip(pending, results, strict=True) if isinstance(r, BaseException)
            ]
            if not failed:
                return
            error = failed[0][1]
            if not isinstance(error, KafkaError) or time.monotonic() >= deadline:
                raise error
            # e.g. a broker that came back empty answers a send to a topic it has not created
            # again with an error: the records are sent again (their ids make a repeat harmless)
            delay = backoff.next()
            logger.warning(
                "%d records not acknowledged (%s); sending them again in %gs", len(failed), error, delay
            )
            await asyncio.sleep(delay)
            pending = [send for send, _ in failed]

    def route(self, effects: list[Any], routes: dict[str, tuple[faust.TopicT, str | None]]) -> list[Send]:
        """The sends for ``effects`` by their kind: ``routes[kind]`` is (topic, counter in
        Stats to count it, or None); a kind not routed goes to ``routes["*"]`` if any."""
        sends: list[Send] = []
        for eff in effects:
            route = routes.get(eff.kind) or routes.get("*")
            if route is None:
                continue
            topic, counter = route
            if counter is not None:
                setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            sends.append((topic, eff.key, eff.value))
        return sends

    def took(self, event: Any) -> None:
        """Note an input taken (the ticker's clock waits for the backlog after an assignment)."""
        self.progress.last_input = time.monotonic()
        at = float(event.message.timestamp or 0.0)  # seconds
        self.progress.last_input_at = max(self.progress.last_input_at, at)

    def too_early(self, event_time: float) -> str | None:
        return ahead_of_wall(event_time, time.time(), self.cfg.site.max_clock_skew_s)


async def or_dead(
    ctx: WorkerContext,
    event: Any,
    prefix: str,
    read: Callable[P, Awaitable[T | None]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T | None:
    """``read(...)`` an input; one that cannot be read is dead-lettered (``prefix`` and why)
    and None returned, so the agent carries on. ``read`` returns None for an input it
    dead-lettered itself or skips."""
    try:
        return await read(*args, **kwargs)
    except BAD_INPUT as exc:
        await ctx.dead(event, f"{prefix}{exc}")
        return None


async def read_each(
    ctx: WorkerContext,
    stream: faust.StreamT[bytes],
    prefix: str,
    read: Callable[[Any], Awaitable[T | None]],
    *,
    took: bool = True,
) -> AsyncIterator[tuple[Any, T]]:
    """Each event of ``stream`` with what ``read(event)`` made of it; an event that cannot
    be read is dead-lettered (``or_dead``) and the agent carries on with the next.
    ``took``: the event counts for the ticker's clock (``WorkerContext.took``)."""
    async for event in stream.events():
        if took:
            ctx.took(event)
        got = await or_dead(ctx, event, prefix, read, event)
        if got is not None:
            yield event, got
