"""The worker's registration: every topic, table, agent, timer and task, in one
place and in the order they are made (see streams/worker/__init__.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import faust

from streams.config import Config
from streams.config.watch import POLL_S, ConfigWatch
from streams.contract.topics import Topics
from streams.logic import incidents as inc
from streams.logic.rules import CameraState, camera_rules
from streams.web import install as install_web
from streams.web.ingest import install_route
from streams.worker import producer
from streams.worker.agents import (
    camera_health,
    cases,
    feeds_ticker,
    incidents,
    policy,
    sensors,
    ticker,
    zone_reload,
)
from streams.worker.cache import StateCache, forget_on_revoke
from streams.worker.context import Outputs, Stats, Tables, Worker, WorkerContext
from streams.worker.faust_app import make_app
from streams.worker.feeds import build_feeds
from streams.worker.settings import FEEDS_TICK_INTERVAL_S, TICK_INTERVAL_S
from streams.worker.ticks import partition_of

logger = logging.getLogger(__name__)


def assignment_note(cfg: Config, detections: str, partitions: int, assigned: Iterable[Any]) -> str:
    """What a worker works on after a rebalance: its partitions of the detections topic (and of
    every input keyed like it) and the cameras they hold."""
    mine = sorted({tp.partition for tp in assigned if tp.topic == detections})
    cameras = [c.id for c in cfg.cameras if partition_of(c.id, partitions) in mine]
    shown = ", ".join(map(str, mine)) or "none"
    held = ", ".join(cameras) or "-"
    return f"assigned partitions [{shown}] of {partitions} ({len(cameras)} cameras: {held})"


def build_context(app: faust.App, cfg: Config, topics: Topics) -> WorkerContext:
    """The output topics and tables (in this order), and the context over them."""
    partitions = cfg.kafka.partitions
    created: list[faust.TopicT] = []

    def topic(name: str) -> faust.TopicT:
        t = app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")
        created.append(t)
        return t

    out = Outputs(
        violations=topic(topics.violations),
        alerts=topic(topics.alerts),
        loudspeaker=topic(topics.loudspeaker),
        dispatch=topic(topics.dispatch),
        deadletter=topic(topics.deadletter),
        decisions=topic(topics.broadcast_decisions),
        incident_inputs=topic(topics.incident_inputs),
        speaker_intents=topic(topics.speaker_intents),
        case_index=topic(topics.case_index),
    )

    def table(name: str) -> Any:
        return app.Table(name, default=None, partitions=partitions, key_type=str)

    tables = Tables(
        rules=table("rules"), incidents=table("incidents"), speakers=table("speakers"), cases=table("cases")
    )
    return WorkerContext(
        app=app,
        cfg=cfg,
        topics=topics,
        partitions=partitions,
        stats=Stats(),
        incidents=inc.ConfigIndex(cfg),
        out=out,
        tables=tables,
        created_topics=created,
        rules_by_camera=camera_rules(cfg),
        rule_states=StateCache(tables.rules, lambda _key, data: CameraState.from_json(data)),
        speakers={s.id: s for s in cfg.speakers},
    )


def register_core(ctx: WorkerContext) -> dict[str, Any]:
    """The incidents (with the rules step), policy and cases agents, the producer's task and
    the timers."""
    app, topics = ctx.app, ctx.topics
    # one stream per camera key: the rules step and every change of an incident book
    incident_sources = ctx.sources(topics.detections, topics.violations, topics.incident_inputs)
    policy_sources = ctx.sources(topics.broadcast_requests, topics.speaker_intents, topics.loudspeaker_acks)
    case_sources = ctx.sources(topics.dispatch_updates, topics.case_index)
    forget_on_revoke(app, ctx.rule_states, ctx.indexes)

    async def assigned(*args: Any, **_kwargs: Any) -> None:  # (the app, the assigned partitions)
        ticker.on_assigned(ctx)
        tps: Iterable[Any] = args[1] if len(args) > 1 else ()
        logger.info("%s", assignment_note(ctx.cfg, topics.detections, ctx.partitions, tps))

    app.on_partitions_assigned.connect(assigned)
    agents = {
        "incidents": app.agent(incident_sources, name="incidents")(partial(incidents.run, ctx)),
        "policy": app.agent(policy_sources, name="policy")(partial(policy.run, ctx)),
        "cases": app.agent(case_sources, name="cases")(partial(cases.run, ctx)),
    }
    app.task(partial(producer.track_output_topics, ctx))
    app.timer(interval=TICK_INTERVAL_S, name="expire_cases")(partial(cases.expire, ctx))
    app.timer(interval=TICK_INTERVAL_S, name="tick")(partial(ticker.tick, ctx))
    return agents


def install_feeds(ctx: WorkerContext, worker: Worker) -> None:
    """The sensor and camera-health agents, their timer and the HTTP ingest route."""
    app, topics = ctx.app, ctx.topics
    feeds = build_feeds(ctx)
    sensor_sources = ctx.sources(topics.sensor_readings, topics.sensor_ticks)
    sensors_agent = app.agent(sensor_sources, name="sensors")(partial(sensors.run, ctx, feeds))
    health_sources = ctx.sources(topics.camera_status, topics.camera_ticks)
    health_agent = app.agent(health_sources, name="health")(partial(camera_health.run, ctx, feeds))
    app.timer(interval=FEEDS_TICK_INTERVAL_S, name="feeds_tick")(partial(feeds_ticker.tick, ctx, feeds))
    worker.agents.update({"sensors": sensors_agent, "health": health_agent})
    worker.tables.update({"sensors": feeds.sensors.table, "camera-health": feeds.cameras.table})
    if worker.web_port is not None:
        install_route(worker, feeds.readings, room=feeds.window_room)


def create_worker(
    cfg: Config,
    *,
    bootstrap: str,
    topics: Topics | None = None,
    web_port: int | None = None,
    datadir: str | Path = "var/faust",
    app_id: str | None = None,
    db: str | None = None,
    config_path: str | Path | None = None,
) -> Worker:
    """Build the Faust app with its agents, tables and timers for one configuration.

    The order is the contract: the core agents, then the feeds (which add the sensor
    ingest route), then the web, which mounts the routes added before it.
    """

    topics = topics or Topics.current()
    app = make_app(
        topics,
        bootstrap=bootstrap,
        partitions=cfg.kafka.partitions,
        web_port=web_port,
        datadir=datadir,
        app_id=app_id,
    )
    ctx = build_context(app, cfg, topics)
    agents = register_core(ctx)
    if config_path is not None:  # zones edited in cameras.yaml apply without a restart
        watch = ConfigWatch(config_path, cfg)
        app.timer(interval=POLL_S, name="zone_reload")(partial(zone_reload.tick, ctx, watch))
    t = ctx.tables
    worker = Worker(
        app=app,
        cfg=cfg,
        topics=topics,
        stats=ctx.stats,
        agents=agents,
        tables={"rules": t.rules, "incidents": t.incidents, "speakers": t.speakers, "cases": t.cases},
        ctx=ctx.incidents,
        partitions=ctx.partitions,
        send_json=ctx.send_json,
        dead=ctx.dead,
        topic=ctx.topic,
        web_port=web_port,
        db=db,
        config_path=Path(config_path) if config_path is not None else None,
    )
    install_feeds(ctx, worker)
    install_web(worker)
    return worker
