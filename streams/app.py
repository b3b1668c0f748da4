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
from streams.clock import EventClock
from streams.config import Config
from streams.errors import RecordError
from streams.records import (
    BroadcastRequest,
    DeadLetter,
    Detection,
    DispatchUpdate,
    LoudspeakerAck,
    Violation,
    decode,
)
from streams.rules import CameraState, Sighting, camera_rules, step
from streams.timeutil import from_iso, to_iso
from streams.topics import Topics

logger = logging.getLogger(__name__)

TICK_INTERVAL_S = 0.25
INDEX_EVERY_S = 10.0  # how often the tick re-reads every book for deadlines
PARK_S = 15.0  # how long a patrol update may wait for its case to be known


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
    clock: EventClock
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
    faust_tuning.apply()
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
        broker_max_poll_interval=15.0,
        broker_rebalance_timeout=15.0,
        broker_session_timeout=15.0,
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
    clock = EventClock()
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
    # next deadline of each book this worker wrote, so the tick need not read every book
    deadlines: dict[str, float] = {}

    @app.on_partitions_revoked.connect
    async def _forget(*_args: Any, **_kwargs: Any) -> None:
        rule_cache.clear()  # another worker may own (and change) these cameras now
        deadlines.clear()

    async def dead(event: Any, error: str) -> None:
        msg = event.message
        stats.deadletters += 1
        logger.warning("dead-letter %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, error)
        record = DeadLetter(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            error=error,
            raw=base64.b64encode(event.value or b"").decode("ascii"),
        )
        await t_deadletter.send(key=msg.topic.encode(), value=record.to_bytes())

    async def send_json(t: faust.TopicT, key: str, value: dict[str, Any]) -> None:
        await t.send(key=key.encode(), value=json.dumps(value, ensure_ascii=False).encode())

    # ------------------------------------------------------------ rules

    @app.agent(t_detections)
    async def rules_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                det = decode(Detection, event.value)
            except RecordError as exc:
                await dead(event, str(exc))
                continue
            rules = rules_by_camera.get(det.camera_id)
            if rules is None:
                await dead(event, f"camera {det.camera_id!r} is not in cameras.yaml: add it or fix the id")
                continue
            stats.detections += 1
            stats.last_detection_at = time.time()
            state = rule_cache.get(det.camera_id)
            if state is None:
                state = rule_cache[det.camera_id] = CameraState.from_json(rules_table.get(det.camera_id))
            result = step(
                state,
                rules,
                from_iso(det.captured_at),
                det.seq,
                [Sighting(o.label, o.zones) for o in det.objects if o.zones],
                det.snapshot,
            )
            if result.duplicate:
                stats.duplicates += 1
                continue
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
                    seq=det.seq,
                )
                await t_violations.send(key=ev.camera_id.encode(), value=v.to_bytes())
            if result.save:
                rules_table[det.camera_id] = state.to_json()

    # ------------------------------------------------------------ incidents

    async def publish(effects: list[inc.Effect]) -> None:
        for eff in effects:
            if eff.kind == "alert":
                stats.alerts += 1
                await send_json(t_alerts, eff.key, eff.value)
            elif eff.kind == "warn":
                await send_json(t_speaker_intents, eff.key, eff.value)
            elif eff.kind == "dispatch":
                stats.cases += 1
                await send_json(t_dispatch, eff.key, eff.value)
            elif eff.kind == "case":
                await send_json(t_case_index, eff.key, eff.value)

    def apply_input(book: inc.Book, data: dict[str, Any]) -> list[inc.Effect] | None:
        kind = data.get("kind")
        at = from_iso(str(data["at"]))
        if kind in ("update", "outcome", "operator"):
            # ticks come from this clock (observing them would feed it its own transit delay);
            # acks and health carry the gateway's wall-clock, not event time
            clock.observe(at)
        if kind == "tick":
            return inc.on_tick(book, ctx, at)
        if kind == "update":
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
            clock.observe(at)
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
            camera_id = (event.key or b"").decode("utf-8", "replace")
            effects: list[inc.Effect] | None
            try:
                if event.message.topic == topics.violations:
                    v = decode(Violation, event.value)
                    camera_id = v.camera_id
                    at = from_iso(v.at)
                    clock.observe(at)
                    stored = incidents_table.get(camera_id)
                    book = inc.Book.from_json(stored)
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
                    )
                else:
                    data = json.loads(event.value)
                    stored = incidents_table.get(camera_id)
                    book = inc.Book.from_json(stored)
                    effects = apply_input(book, data)
            except (RecordError, ValueError, KeyError, TypeError) as exc:
                await dead(event, f"incidents: {exc}")
                continue
            if effects is None:
                await dead(event, f"incidents: no open incident matches this input on camera {camera_id!r}")
                continue
            # save whenever the book changed, also silently (a clear noted, a sighting time):
            # a later decision depends on it
            saved = book.to_json()
            if saved != stored:
                incidents_table[camera_id] = saved
            due = book.next_deadline()
            if due is None:
                deadlines.pop(camera_id, None)
            else:
                deadlines[camera_id] = due
            if effects:
                await publish(effects)

    # ------------------------------------------------------------ broadcast policy

    def template_text(req: BroadcastRequest) -> str:
        if req.text:
            return req.text
        name = req.template or ""
        if name in cfg.categories:
            cam = next((c for c in cfg.cameras if c.speaker == req.speaker_id), None)
            return ctx.warning_text(cam.id if cam else "", name)
        return ""

    async def publish_policy(effects: list[pol.PolicyEffect]) -> None:
        for eff in effects:
            if eff.kind == "command":
                stats.commands += 1
                await send_json(t_loudspeaker, eff.key, eff.value)
            elif eff.kind == "decision":
                await send_json(t_decisions, eff.key, eff.value)
            else:  # outcome / ack for an incident, keyed by its camera
                await send_json(t_incident_inputs, eff.key, eff.value)

    @app.agent(policy_sources)
    async def policy_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            speaker_id = (event.key or b"").decode("utf-8", "replace")
            now = float(msg.timestamp or time.time())  # Faust gives seconds
            try:
                if msg.topic == topics.broadcast_requests:
                    req = decode(BroadcastRequest, event.value)
                    speaker_id = req.speaker_id
                    state = pol.SpeakerState.from_json(speakers_table.get(speaker_id))
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
                    effects = pol.decide(state, speakers.get(speaker_id), tz, request, now)
                elif msg.topic == topics.loudspeaker_acks:
                    ack = decode(LoudspeakerAck, event.value)
                    speaker_id = ack.speaker_id
                    state = pol.SpeakerState.from_json(speakers_table.get(speaker_id))
                    at = from_iso(ack.finished_at or ack.started_at or to_iso(now))
                    effects = pol.on_ack(
                        state,
                        speakers.get(speaker_id),
                        tz,
                        command_id=ack.command_id,
                        incident_id=ack.incident_id,
                        status=ack.status,
                        reason=ack.reason,
                        now=at,
                    )
                else:
                    data = json.loads(event.value)
                    state = pol.SpeakerState.from_json(speakers_table.get(speaker_id))
                    if data.get("kind") == "tick":
                        effects = pol.release(state, speakers.get(speaker_id), tz, from_iso(data["at"]))
                    else:
                        at = from_iso(str(data["at"]))
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
                        effects = pol.decide(state, speakers.get(speaker_id), tz, request, at)
            except (RecordError, ValueError, KeyError, TypeError) as exc:
                await dead(event, f"policy: {exc}")
                continue
            speakers_table[speaker_id] = state.to_json()
            await publish_policy(effects)

    # ------------------------------------------------------------ patrol updates -> incidents

    async def forward_update(camera_id: str, upd: dict[str, Any]) -> None:
        await send_json(t_incident_inputs, camera_id, {"kind": "update", **upd})

    async def dead_parked(case_id: str, parked: list[dict[str, Any]]) -> None:
        for p in parked:
            stats.deadletters += 1
            record = DeadLetter(
                topic=p["topic"],
                partition=p["partition"],
                offset=p["offset"],
                error=f"unknown case_id {case_id!r}: no dispatched case has this id",
                raw=p["raw"],
            )
            await t_deadletter.send(key=p["topic"].encode(), value=record.to_bytes())

    @app.agent(case_sources)
    async def cases_agent(stream: faust.StreamT[bytes]) -> None:
        """Route patrol updates (keyed by case) to their incident (keyed by camera).

        The case index arrives on its own topic, so an update can overtake it:
        such an update is parked and forwarded once the index arrives, or
        dead-lettered after PARK_S seconds.
        """
        async for event in stream.events():
            msg = event.message
            case_id = (event.key or b"").decode("utf-8", "replace")
            try:
                if msg.topic == topics.case_index:
                    data = json.loads(event.value)
                    entry = cases_table.get(case_id) or {}
                    if data.get("kind") == "expire":
                        if entry.get("pending") and not entry.get("camera_id"):
                            await dead_parked(case_id, entry["pending"])
                            cases_table[case_id] = None
                        continue
                    cases_table[case_id] = {
                        "camera_id": data["camera_id"],
                        "incident_id": data["incident_id"],
                    }
                    for p in entry.get("pending", []):
                        await forward_update(data["camera_id"], p["update"])
                    continue
                upd = decode(DispatchUpdate, event.value)
            except (RecordError, ValueError, KeyError, TypeError) as exc:
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
                await forward_update(entry["camera_id"], fields)
                continue
            parked = {
                "topic": msg.topic,
                "partition": msg.partition,
                "offset": msg.offset,
                "raw": base64.b64encode(event.value or b"").decode("ascii"),
                "update": fields,
            }
            cases_table[upd.case_id] = {
                "pending": [*entry.get("pending", []), parked],
                "since": entry.get("since") or time.time(),
            }

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

    last_tick: dict[str, float] = {}
    index_built = [float("-inf")]

    def active_partitions(topic_name: str) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic_name}

    @app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def expire_parked() -> None:
        actives = active_partitions(topics.case_index)
        for case_id, entry in list(cases_table.items()):
            if not entry or not entry.get("pending") or _partition(case_id, partitions) not in actives:
                continue
            if time.time() - float(entry.get("since") or 0) >= PARK_S:
                await send_json(t_case_index, case_id, {"kind": "expire"})

    @app.timer(interval=TICK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        now = clock.now()
        if now is None:
            return
        actives = active_partitions(topics.incident_inputs)
        if time.monotonic() - index_built[0] >= INDEX_EVERY_S:
            # now and then from the table too: books restored after a restart or a rebalance
            index_built[0] = time.monotonic()
            for key, data in list(incidents_table.items()):
                due = inc.Book.from_json(data).next_deadline()
                if due is not None:
                    deadlines[key] = due
        for camera_id, deadline in list(deadlines.items()):
            if deadline > now or _partition(camera_id, partitions) not in actives:
                continue
            if time.monotonic() - last_tick.get(camera_id, 0.0) < TICK_INTERVAL_S:
                continue
            last_tick[camera_id] = time.monotonic()
            await send_json(t_incident_inputs, camera_id, {"kind": "tick", "at": to_iso(now)})
        for speaker_id, data in list(speakers_table.items()):
            if not data or not data.get("queue"):
                continue
            if _partition(speaker_id, partitions) not in active_partitions(topics.speaker_intents):
                continue
            await send_json(t_speaker_intents, speaker_id, {"kind": "tick", "at": to_iso(now)})

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
        clock=clock,
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
