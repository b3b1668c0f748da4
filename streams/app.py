"""The Faust worker: thin agents around the pure rules, incidents and policy.

    detections ─rules─▶ violations ─┐
                                    ├─incidents─▶ alerts, dispatch, speaker-intents, case-index
    internal.incident-inputs ───────┘       ▲
    broadcast-requests, speaker-intents,    │ outcome / ack (keyed by camera)
    loudspeaker-acks ─policy─▶ loudspeaker, broadcast-decisions
    dispatch-updates, case-index ─cases─▶ internal.incident-inputs (keyed by camera)

Every state lives in a table keyed by the key of the topic it is read from, so
partitions (and their state) move together between workers. A record that
cannot be decoded goes to the dead-letter topic and the agent carries on.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from kafka.partitioner import murmur2

from streams import faust_tuning
from streams import incidents as inc
from streams import policy as pol
from streams.budget import TABLE_VALUE_BUDGET, encoded_size
from streams.clock import ahead_of_wall
from streams.config import Config
from streams.records import (
    BAD_INPUT,
    BroadcastRequest,
    Detection,
    DispatchUpdate,
    LoudspeakerAck,
    Violation,
    dead_letter,
    decode,
    parse_object,
)
from streams.rules import CameraState, Sighting, camera_rules, step
from streams.timeutil import from_iso, to_iso
from streams.topics import Topics

logger = logging.getLogger(__name__)

# the environment may override these (soak tests run the worker at extreme timings)
TICK_INTERVAL_S = float(os.environ.get("CITYWATCH_TICK_INTERVAL_S", "0.25"))
FETCH_MAX_WAIT_MS = int(os.environ.get("CITYWATCH_FETCH_MAX_WAIT_MS", str(faust_tuning.FETCH_MAX_WAIT_MS)))
GROUP_TIMEOUT_S = float(os.environ.get("CITYWATCH_GROUP_TIMEOUT_S", "15"))  # session and rebalance
INDEX_EVERY_S = 10.0  # how often the tick re-reads every book for deadlines
REINDEX_AFTER_ASSIGN_S = 30.0  # after an assignment, re-read the books every tick for this long
# a key's event time advances with the wall clock only after it has been silent this long,
# so a deadline never fires ahead of an input still on its way through the worker
LATENESS_S = 2.0
SETTLE_S = LATENESS_S
RETICK_S = 5.0  # a deadline whose tick changed nothing is ticked again after this long
PARK_S = 15.0  # how long a patrol update may wait for its case to be known
MAX_PARKED = 20  # patrol updates parked per unknown case; more are dead-lettered at once
MAX_PARKED_BYTES = 8 * 1024  # a larger update is not parked (the case table's value stays small)
CLOSED_CASE_KEPT_S = 3600.0  # a closed case stays known (for late updates) this long, then is pruned


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
    by_state: dict[str, int] = field(default_factory=dict)


@dataclass
class Worker:
    """The built app and what extensions (health, sensors, web) need to plug into it.

    An extension is a function ``install(worker)`` called at the end of
    ``create_worker``; it may add agents, timers, tables and web routes to
    ``worker.app`` and publish through ``send_json`` / ``dead``.
    """

    app: faust.App
    cfg: Config
    topics: Topics
    stats: Stats
    agents: dict[str, Any]
    tables: dict[str, Any]
    ctx: inc.Context
    partitions: int
    send_json: Callable[[faust.TopicT, str, dict[str, Any]], Awaitable[None]]
    dead: Callable[[Any, str], Awaitable[None]]
    topic: Callable[[str], faust.TopicT]
    web_port: int | None = None
    # (method, path, aiohttp handler) added by extensions; the web server mounts them behind its token check
    web_routes: list[tuple[str, str, Any]] = field(default_factory=list)
    # reports for /healthz by name (e.g. "kafka"), added by extensions; a report with "ok": false
    # makes the worker "degraded" (503)
    health: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


# extensions installed into every worker, as "module:function"
EXTENSIONS: list[str] = ["streams.feeds:install", "streams.web:install"]


def _partition(key: str, partitions: int) -> int:
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def create_worker(
    cfg: Config,
    *,
    bootstrap: str,
    topics: Topics | None = None,
    web_port: int | None = None,
    datadir: str | Path = "var/faust",
    app_id: str | None = None,
) -> Worker:
    """Build the Faust app with its agents, tables and timer for one configuration."""
    topics = topics or Topics.current()
    partitions = cfg.kafka.partitions
    faust_tuning.apply(FETCH_MAX_WAIT_MS)
    app = faust.App(
        app_id or f"{topics.prefix}worker",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=partitions,
        topic_allow_declare=False,  # topics are created explicitly (ensure_topics)
        topic_disable_leader=True,
        # tables keep JSON; topics carry raw bytes (decoded at the boundary)
        key_serializer="json",
        value_serializer="json",
        datadir=str(datadir),
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        # the embedded broker makes a group join wait for the rebalance timeout
        broker_max_poll_interval=max(GROUP_TIMEOUT_S, 15.0),
        broker_rebalance_timeout=GROUP_TIMEOUT_S,
        broker_session_timeout=GROUP_TIMEOUT_S,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=30.0,
        broker_commit_every=500,
        broker_commit_interval=1.0,
        broker_max_poll_records=2000,
        consumer_max_fetch_size=4 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=8192,
        stream_wait_empty=False,
        producer_linger=0.002,
        table_standby_replicas=0,
    )
    stats = Stats()
    rules_by_camera = camera_rules(cfg)
    ctx = inc.Context(cfg)
    speakers = {s.id: s for s in cfg.speakers}
    tz = cfg.site.timezone

    created_topics: list[faust.TopicT] = []

    def topic(name: str) -> faust.TopicT:
        t = app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")
        created_topics.append(t)
        return t

    t_detections = topic(topics.detections)
    t_violations = topic(topics.violations)
    t_alerts = topic(topics.alerts)
    t_loudspeaker = topic(topics.loudspeaker)
    t_dispatch = topic(topics.dispatch)
    t_deadletter = topic(topics.deadletter)
    t_decisions = topic(topics.broadcast_decisions)
    t_incident_inputs = topic(topics.incident_inputs)
    t_speaker_intents = topic(topics.speaker_intents)
    t_case_index = topic(topics.case_index)

    def sources(*names: str) -> faust.TopicT:
        return app.topic(*names, partitions=partitions, key_serializer="raw", value_serializer="raw")

    incident_sources = sources(topics.violations, topics.incident_inputs)
    policy_sources = sources(topics.broadcast_requests, topics.speaker_intents, topics.loudspeaker_acks)
    case_sources = sources(topics.dispatch_updates, topics.case_index)

    def table(name: str) -> Any:
        return app.Table(name, default=None, partitions=partitions, key_type=str)

    rules_table = table("rules")
    incidents_table = table("incidents")
    speakers_table = table("speakers")
    cases_table = table("cases")
    rule_cache: dict[str, CameraState] = {}
    # indexes kept beside the tables so timers never scan them (rebuilt after an assignment):
    # each book's next deadline with its clock, the speakers with a queue, parked and closed cases
    deadlines: dict[str, tuple[float, float, float]] = {}  # key -> (deadline, clock, clock_wall)
    ticked: dict[str, tuple[float, float]] = {}  # key -> (deadline ticked, monotonic time)
    queued_speakers: set[str] = set()
    parked_cases: dict[str, float] = {}  # case_id -> wall time its first update was parked
    closed_cases: dict[str, float] = {}  # case_id -> wall time it closed (insertion order = age)
    reindex_until = [0.0]  # monotonic time until which every tick re-reads the tables
    last_input = [0.0, 0.0]  # monotonic time of the last input any agent took, its broker time
    settled = [False]  # the backlog after the last assignment has been read
    resumed: list[float | None] = [None, None]  # when the tables were seen recovered (monotonic, wall)
    index_built = [float("-inf")]
    max_skew = cfg.site.max_clock_skew_s

    @app.on_partitions_revoked.connect
    async def _forget(*_args: Any, **_kwargs: Any) -> None:
        rule_cache.clear()  # another worker may own (and change) these cameras now
        deadlines.clear()
        ticked.clear()
        queued_speakers.clear()
        parked_cases.clear()
        closed_cases.clear()

    @app.on_partitions_assigned.connect
    async def _reindex(*_args: Any, **_kwargs: Any) -> None:
        # the tables fill while their changelogs are read back: re-read them every tick for a
        # while, so deadlines that passed while no worker ran fire right after the start
        reindex_until[0] = time.monotonic() + REINDEX_AFTER_ASSIGN_S
        settled[0] = False
        resumed[:] = [None, None]

    async def dead(event: Any, error: str) -> None:
        msg = event.message
        stats.deadletters += 1
        logger.warning("dead-letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, error)
        record = dead_letter(msg.topic, msg.partition, msg.offset, error, event.value)
        await t_deadletter.send(key=msg.topic.encode(), value=record.to_bytes())

    async def send_json(t: faust.TopicT, key: str, value: dict[str, Any]) -> None:
        await t.send(key=key.encode(), value=json.dumps(value, ensure_ascii=False).encode())

    async def send_all(sends: list[tuple[faust.TopicT, str, dict[str, Any]]]) -> None:
        """Publish outputs and wait until the broker has them.

        Agents publish before they write their table: a crash in between redelivers the
        input to the old state, which produces the same outputs with the same ids again
        (a recognisable duplicate) instead of losing them.
        """
        futures = []
        for t, key, value in sends:
            data = json.dumps(value, ensure_ascii=False).encode()
            futures.append(await t.send(key=key.encode(), value=data))
        if futures:
            await asyncio.gather(*futures)

    def took(event: Any) -> None:
        last_input[0] = time.monotonic()
        last_input[1] = max(last_input[1], float(event.message.timestamp or 0.0))  # seconds

    def too_early(event_time: float) -> str | None:
        return ahead_of_wall(event_time, time.time(), max_skew)

    def write_book(key: str, book: inc.Book, stored: Any) -> None:
        """Save a book if it changed, within the table's size budget; never raise."""
        saved = book.to_json()
        if saved == stored:
            return
        while encoded_size(saved) > TABLE_VALUE_BUDGET and inc.shrink(book):
            saved = book.to_json()
        if encoded_size(saved) > TABLE_VALUE_BUDGET:
            stats.over_budget += 1
            logger.error(
                "%s: incident state is %d bytes, over the %d-byte budget even when shrunk: not saved",
                key,
                encoded_size(saved),
                TABLE_VALUE_BUDGET,
            )
            return
        incidents_table[key] = saved

    def index_book(key: str, book: inc.Book) -> None:
        due = book.next_deadline()
        if due is None or book.clock is None:
            deadlines.pop(key, None)
            ticked.pop(key, None)
        else:
            deadlines[key] = (due, book.clock, book.clock_wall)

    # ------------------------------------------------------------ rules

    @app.agent(t_detections)
    async def rules_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            took(event)
            try:
                det = decode(Detection, event.value)
                captured = from_iso(det.captured_at)
            except BAD_INPUT as exc:
                await dead(event, str(exc))
                continue
            rules = rules_by_camera.get(det.camera_id)
            if rules is None:
                await dead(event, f"camera {det.camera_id!r} is not in cameras.yaml: add it or fix the id")
                continue
            skew = too_early(captured)
            if skew is not None:
                await dead(event, f"detections: captured_at {det.captured_at}: {skew}")
                continue
            stats.detections += 1
            stats.last_detection_at = time.time()
            state = rule_cache.get(det.camera_id)
            if state is None:
                state = rule_cache[det.camera_id] = CameraState.from_json(rules_table.get(det.camera_id))
            result = step(
                state,
                rules,
                captured,
                det.seq,
                [Sighting(o.label, o.zones, o.score) for o in det.objects if o.zones],
                det.snapshot,
            )
            if result.duplicate:
                stats.duplicates += 1
                continue
            sends: list[tuple[faust.TopicT, str, dict[str, Any]]] = []
            for ev in result.events:
                stats.violations += 1
                v = Violation(
                    camera_id=ev.camera_id,
                    zone_id=ev.zone_id,
                    category=ev.category,
                    state=ev.state,
                    since=to_iso(ev.since),
                    at=to_iso(ev.at),
                    labels=list(ev.labels),
                    evidence=list(ev.evidence),
                    frames_seen=ev.frames_seen,
                    frames=ev.frames,
                    scores=dict(ev.scores),
                    seq=det.seq,
                )
                sends.append((t_violations, ev.camera_id, v.model_dump(mode="json")))
            await send_all(sends)
            if result.save:
                rules_table[det.camera_id] = state.to_json()

    # ------------------------------------------------------------ incidents

    def incident_sends(effects: list[inc.Effect]) -> list[tuple[faust.TopicT, str, dict[str, Any]]]:
        sends: list[tuple[faust.TopicT, str, dict[str, Any]]] = []
        for eff in effects:
            if eff.kind == "alert":
                stats.alerts += 1
                sends.append((t_alerts, eff.key, eff.value))
            elif eff.kind == "warn":
                sends.append((t_speaker_intents, eff.key, eff.value))
            elif eff.kind == "dispatch":
                stats.cases += 1
                sends.append((t_dispatch, eff.key, eff.value))
            elif eff.kind == "case":
                sends.append((t_case_index, eff.key, eff.value))
        return sends

    def apply_input(book: inc.Book, data: dict[str, Any], key: str) -> list[inc.Effect] | None:
        kind = data.get("kind")
        at = from_iso(str(data["at"]))
        if kind in ("update", "operator", "condition"):
            # inputs dated by their sender's event time move this key's clock; ticks come
            # from this clock, acks and policy outcomes carry other processes' times
            skew = too_early(at)
            if skew is not None:
                raise ValueError(f"{kind} at {data['at']}: {skew}")
            book.observe(at, time.time())
        if kind == "tick":
            return inc.on_tick(book, ctx, at)
        if kind == "update":
            refused = inc.update_refusal(
                book, case_id=str(data["case_id"]), unit_id=str(data["unit_id"]), status=str(data["status"])
            )
            if refused is not None:
                stats.refused += 1
                logger.info("%s: patrol update refused: %s", key, refused)
            return inc.on_update(
                book,
                ctx,
                case_id=str(data["case_id"]),
                unit_id=str(data["unit_id"]),
                status=str(data["status"]),
                note=str(data.get("note") or ""),
                at=at,
            )
        if kind == "outcome":
            return inc.on_outcome(
                book,
                ctx,
                incident_id=str(data["incident_id"]),
                decision=str(data["decision"]),
                reason=str(data.get("reason") or ""),
                text=str(data.get("text") or ""),
                at=at,
            )
        if kind == "ack":
            return inc.on_ack(
                book,
                ctx,
                incident_id=str(data["incident_id"]),
                status=str(data["status"]),
                reason=str(data.get("reason") or ""),
                at=at,
            )
        if kind == "operator":
            return inc.on_operator(
                book,
                ctx,
                incident_id=str(data["incident_id"]),
                action=str(data["action"]),
                by=str(data.get("by") or "operator"),
                reason=str(data.get("reason") or ""),
                at=at,
            )
        if kind == "health":
            return inc.set_held(
                book, ctx, held=bool(data["held"]), reason=str(data.get("reason") or ""), at=at
            )
        if kind == "condition":  # a sensor rule or camera health (streams/feeds.py)
            return inc.on_condition(
                book,
                ctx,
                subject=str(data["subject"]),
                source=str(data["source"]),
                category=str(data["category"]),
                state=str(data["state"]),
                since=from_iso(str(data["since"])),
                at=at,
                note=str(data.get("note") or ""),
            )
        raise ValueError(f"unknown input kind {kind!r}")

    @app.agent(incident_sources)
    async def incidents_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            took(event)
            camera_id = (event.key or b"").decode("utf-8", "replace")
            effects: list[inc.Effect] | None
            try:
                if event.message.topic == topics.violations:
                    v = decode(Violation, event.value)
                    camera_id = v.camera_id
                    at = from_iso(v.at)
                    skew = too_early(at)
                    if skew is not None:
                        raise ValueError(f"violation at {v.at}: {skew}")
                    stored = incidents_table.get(camera_id)
                    book = inc.Book.from_json(stored)
                    book.observe(at, time.time())
                    effects = inc.on_violation(
                        book,
                        ctx,
                        camera_id=v.camera_id,
                        zone_id=v.zone_id,
                        category=v.category,
                        state=v.state,
                        since=from_iso(v.since),
                        at=at,
                        labels=v.labels,
                        evidence=v.evidence,
                        frames_seen=v.frames_seen,
                        frames=v.frames,
                        scores=v.scores,
                    )
                else:
                    data = parse_object(event.value, "incident input")
                    stored = incidents_table.get(camera_id)
                    book = inc.Book.from_json(stored)
                    effects = apply_input(book, data, camera_id)
            except BAD_INPUT as exc:
                await dead(event, f"incidents: {exc}")
                continue
            if effects is None:
                await dead(event, f"incidents: no open incident matches this input on camera {camera_id!r}")
                continue
            # outputs first, then the book (saved whenever it changed, also silently: a clear
            # noted, a sighting time; a later decision depends on it)
            await send_all(incident_sends(effects))
            write_book(camera_id, book, stored)
            index_book(camera_id, book)

    # ------------------------------------------------------------ broadcast policy

    def template_text(req: BroadcastRequest) -> str:
        if req.text:
            return req.text
        name = req.template or ""
        if name in cfg.categories:
            cam = next((c for c in cfg.cameras if c.speaker == req.speaker_id), None)
            return ctx.warning_text(cam.id if cam else "", name)
        return ""

    def policy_sends(effects: list[pol.PolicyEffect]) -> list[tuple[faust.TopicT, str, dict[str, Any]]]:
        sends: list[tuple[faust.TopicT, str, dict[str, Any]]] = []
        for eff in effects:
            if eff.kind == "command":
                stats.commands += 1
                sends.append((t_loudspeaker, eff.key, eff.value))
            elif eff.kind == "decision":
                sends.append((t_decisions, eff.key, eff.value))
            else:  # outcome / ack for an incident, keyed by its camera
                sends.append((t_incident_inputs, eff.key, eff.value))
        return sends

    def policy_input(msg: Any, value: bytes, speaker_id: str) -> tuple[str, pol.SpeakerState, list[Any]]:
        """Decode one policy input and decide on it at the speaker's clock."""
        wall = time.time()
        if msg.topic == topics.broadcast_requests:
            req = decode(BroadcastRequest, value)
            state = pol.SpeakerState.from_json(speakers_table.get(req.speaker_id))
            sent_at = float(msg.timestamp or wall)  # Faust gives seconds
            skew = too_early(sent_at)
            if skew is not None:
                raise ValueError(f"broadcast request: {skew}")
            now = state.advance(sent_at, wall)
            request = pol.Request(
                request_id=req.request_id,
                speaker_id=req.speaker_id,
                text=template_text(req),
                source="operator",
                requested_by=req.requested_by,
                reason=req.reason,
                force=req.force,
                lang=str(getattr(req, "lang", None) or "zh"),
                camera_id=getattr(req, "camera_id", None),
                incident_id=getattr(req, "incident_id", None),
                at=now,
                template=req.template,
            )
            return req.speaker_id, state, pol.decide(state, speakers.get(req.speaker_id), tz, request, now)
        if msg.topic == topics.loudspeaker_acks:
            ack = decode(LoudspeakerAck, value)
            state = pol.SpeakerState.from_json(speakers_table.get(ack.speaker_id))
            finished = from_iso(ack.finished_at or ack.started_at or to_iso(wall))
            skew = too_early(finished)
            if skew is not None:
                raise ValueError(f"loudspeaker ack: {skew}")
            now = state.advance(finished, wall)
            effects = pol.on_ack(
                state,
                speakers.get(ack.speaker_id),
                tz,
                command_id=ack.command_id,
                incident_id=ack.incident_id,
                status=ack.status,
                reason=ack.reason,
                now=now,
            )
            return ack.speaker_id, state, effects
        data = parse_object(value, "speaker intent")
        state = pol.SpeakerState.from_json(speakers_table.get(speaker_id))
        at = from_iso(str(data["at"]))
        if data.get("kind") == "tick":
            return (
                speaker_id,
                state,
                pol.release(state, speakers.get(speaker_id), tz, state.advance(at, wall)),
            )
        skew = too_early(at)
        if skew is not None:
            raise ValueError(f"warning request: {skew}")
        now = state.advance(at, wall)
        request = pol.Request(
            request_id=str(data["request_id"]),
            speaker_id=speaker_id,
            text=str(data["text"]),
            source="auto",
            requested_by=str(data.get("requested_by") or "citywatch"),
            reason=str(data.get("reason") or ""),
            lang=str(data.get("lang") or "zh"),
            camera_id=data.get("camera_id"),
            incident_id=data.get("incident_id"),
            at=at,
        )
        return speaker_id, state, pol.decide(state, speakers.get(speaker_id), tz, request, now)

    @app.agent(policy_sources)
    async def policy_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            took(event)
            key = (event.key or b"").decode("utf-8", "replace")
            try:
                speaker_id, state, effects = policy_input(event.message, event.value, key)
            except BAD_INPUT as exc:
                await dead(event, f"policy: {exc}")
                continue
            await send_all(policy_sends(effects))
            speakers_table[speaker_id] = state.to_json()
            if state.queue:
                queued_speakers.add(speaker_id)
            else:
                queued_speakers.discard(speaker_id)

    # ------------------------------------------------------------ patrol updates -> incidents

    async def dead_parked(case_id: str, parked: list[dict[str, Any]], error: str) -> None:
        for p in parked:
            stats.deadletters += 1
            raw = base64.b64decode(p["raw"])
            record = dead_letter(p["topic"], p["partition"], p["offset"], error, raw)
            await t_deadletter.send(key=p["topic"].encode(), value=record.to_bytes())

    async def on_case_index(case_id: str, data: dict[str, Any]) -> None:
        entry = cases_table.get(case_id) or {}
        kind = data.get("kind")
        if kind == "expire":
            if entry.get("pending") and not entry.get("camera_id"):
                error = f"unknown case_id {case_id!r}: no dispatched case has this id"
                await dead_parked(case_id, entry["pending"], error)
                del cases_table[case_id]
            parked_cases.pop(case_id, None)
            return
        if kind == "closed":
            if entry.get("camera_id"):
                cases_table[case_id] = {**entry, "closed_at": time.time()}
                closed_cases[case_id] = time.time()
            return
        if kind == "prune":
            if entry.get("closed_at"):
                del cases_table[case_id]
            closed_cases.pop(case_id, None)
            return
        sends = [
            (t_incident_inputs, str(data["camera_id"]), {"kind": "update", **p["update"]})
            for p in entry.get("pending", [])
        ]
        await send_all(sends)
        cases_table[case_id] = {"camera_id": data["camera_id"], "incident_id": data["incident_id"]}
        parked_cases.pop(case_id, None)

    @app.agent(case_sources)
    async def cases_agent(stream: faust.StreamT[bytes]) -> None:
        """Route patrol updates (keyed by case) to their incident (keyed by camera).

        The case index arrives on its own topic, so an update can overtake it:
        such an update is parked and forwarded once the index arrives, or
        dead-lettered after PARK_S seconds. A closed case is forgotten after
        CLOSED_CASE_KEPT_S.
        """
        async for event in stream.events():
            took(event)
            msg = event.message
            case_id = (event.key or b"").decode("utf-8", "replace")
            try:
                if msg.topic == topics.case_index:
                    data = parse_object(event.value, "case index")
                    await on_case_index(case_id, data)
                    continue
                upd = decode(DispatchUpdate, event.value)
                skew = too_early(from_iso(upd.at))
                if skew is not None:
                    raise ValueError(f"dispatch update at {upd.at}: {skew}")
            except BAD_INPUT as exc:
                await dead(event, f"dispatch-updates: {exc}")
                continue
            fields = {
                "case_id": upd.case_id,
                "unit_id": upd.unit_id,
                "status": upd.status,
                "note": upd.note,
                "at": upd.at,
            }
            entry = cases_table.get(upd.case_id) or {}
            if entry.get("camera_id"):
                await send_all([(t_incident_inputs, entry["camera_id"], {"kind": "update", **fields})])
                continue
            pending = entry.get("pending", [])
            if len(event.value or b"") > MAX_PARKED_BYTES:
                await dead(
                    event,
                    f"dispatch-updates: case {upd.case_id!r} is unknown and the update is too large to wait",
                )
                continue
            if len(pending) >= MAX_PARKED:
                await dead(
                    event,
                    f"dispatch-updates: case {upd.case_id!r} is unknown and has {MAX_PARKED} updates waiting",
                )
                continue
            parked = {
                "topic": msg.topic,
                "partition": msg.partition,
                "offset": msg.offset,
                "raw": base64.b64encode(event.value or b"").decode("ascii"),
                "update": fields,
            }
            since = entry.get("since") or time.time()
            cases_table[upd.case_id] = {"pending": [*pending, parked], "since": since}
            parked_cases.setdefault(upd.case_id, since)

    @app.task  # type: ignore[untyped-decorator]
    async def track_output_topics() -> None:
        """Make the producer track every topic it will write to.

        aiokafka narrows its metadata requests to the topics it tracks; a topic
        first seen in the bootstrap (all-topics) metadata is never tracked, drops
        out of the next update, and a send to it then spins on metadata forever
        (seen with the embedded broker). Tracking them all up front avoids that.
        """
        names = [t.get_topic_name() for t in created_topics]
        names += [tbl.changelog_topic.get_topic_name() for tbl in app.tables.values()]
        while True:
            inner = getattr(app.producer, "_producer", None)
            if inner is not None:
                break
            await asyncio.sleep(0.05)
        for name in names:
            inner.client.add_topic(name)
        await inner.client.force_metadata_update()

    # ------------------------------------------------------------ timers

    def active_partitions(topic_name: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic_name}

    def rebuild_indexes() -> None:
        """Re-read the tables into the indexes (after a restart or a rebalance, and now and then)."""
        for key, data in list(incidents_table.items()):
            index_book(key, inc.Book.from_json(data))
        for speaker_id, data in list(speakers_table.items()):
            if data and data.get("queue"):
                queued_speakers.add(speaker_id)
        closed = dict(closed_cases)
        for case_id, entry in list(cases_table.items()):
            if entry and entry.get("pending") and not entry.get("camera_id"):
                parked_cases.setdefault(case_id, float(entry.get("since") or 0.0))
            elif entry and entry.get("closed_at"):
                closed.setdefault(case_id, float(entry["closed_at"]))
        # oldest first: the pruning stops at the first case still kept
        closed_cases.clear()
        closed_cases.update(sorted(closed.items(), key=lambda item: item[1]))

    @app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def expire_cases() -> None:
        wall = time.time()
        actives = active_partitions(topics.case_index)
        for case_id, since in list(parked_cases.items()):
            if wall - since >= PARK_S and _partition(case_id, partitions) in actives:
                parked_cases.pop(case_id, None)
                await send_json(t_case_index, case_id, {"kind": "expire"})
        for case_id, closed_at in list(closed_cases.items()):
            if wall - closed_at < CLOSED_CASE_KEPT_S:
                break  # in the order they closed: the rest are younger
            closed_cases.pop(case_id, None)
            if _partition(case_id, partitions) in actives:
                await send_json(t_case_index, case_id, {"kind": "prune"})

    @app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        wall, mono = time.time(), time.monotonic()
        if mono < reindex_until[0] or mono - index_built[0] >= INDEX_EVERY_S:
            index_built[0] = mono
            rebuild_indexes()
        # after an assignment, time moves only with the inputs until the tables are recovered
        # and the backlog is read (no input for SETTLE_S): a deadline must not overtake an
        # update that was sent before it
        if not settled[0]:
            if getattr(app, "in_recovery", False):
                resumed[:] = [None, None]
            elif resumed[0] is None or resumed[1] is None:
                resumed[:] = [mono, wall]
            elif mono - resumed[0] >= 2 * SETTLE_S:
                # the backlog is read once the inputs fall quiet, or once an input written
                # after the resume arrives (on a busy stream they never fall quiet)
                settled[0] = mono - last_input[0] >= SETTLE_S or last_input[1] >= resumed[1]
        caught_up = settled[0]
        actives = active_partitions(topics.incident_inputs)
        for key, (due, clock_at, clock_wall) in list(deadlines.items()):
            # this key's event time: its clock, advanced by the wall clock once it is silent
            silent = max(0.0, wall - clock_wall - LATENESS_S) if caught_up else 0.0
            now = clock_at + silent
            if due > now or _partition(key, partitions) not in actives:
                continue
            last = ticked.get(key)
            if last is not None and last[0] == due and mono - last[1] < RETICK_S:
                continue  # already asked; the answer reschedules it
            ticked[key] = (due, mono)
            await send_json(t_incident_inputs, key, {"kind": "tick", "at": to_iso(now)})
        speaker_actives = active_partitions(topics.speaker_intents)
        for speaker_id in list(queued_speakers):
            if _partition(speaker_id, partitions) not in speaker_actives:
                continue
            state = pol.SpeakerState.from_json(speakers_table.get(speaker_id))
            at = state.now(wall)
            if at is not None:
                await send_json(t_speaker_intents, speaker_id, {"kind": "tick", "at": to_iso(at)})

    worker = Worker(
        app=app,
        cfg=cfg,
        topics=topics,
        stats=stats,
        agents={
            "rules": rules_agent,
            "incidents": incidents_agent,
            "policy": policy_agent,
            "cases": cases_agent,
        },
        tables={
            "rules": rules_table,
            "incidents": incidents_table,
            "speakers": speakers_table,
            "cases": cases_table,
        },
        ctx=ctx,
        partitions=partitions,
        send_json=send_json,
        dead=dead,
        topic=topic,
        web_port=web_port,
    )
    for ref in EXTENSIONS:
        module_name, _, func = ref.partition(":")
        getattr(importlib.import_module(module_name), func)(worker)
    return worker
