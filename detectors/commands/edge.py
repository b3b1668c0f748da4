"""Edge mode: cameras -> motion gate -> YOLO -> tracking, zones, evidence -> citywatch.detections,
plus citywatch.camera-status for every camera, in one process."""

from __future__ import annotations

import argparse
import logging
import threading

from detectors.commands import (
    add_role_arguments,
    add_source_arguments,
    load_role,
    role_health,
    stop_on_signals,
)

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_role_arguments(parser)
    add_source_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from detectors.evidence import EvidenceStore
    from detectors.fixture_store import KeptFixtures
    from detectors.live import LiveSnapshots
    from detectors.pipeline import DetectionLoop, RunLimits, StatusReporter, run_edge
    from detectors.publish import KafkaPublisher
    from detectors.runtime import (
        camera_pipeline,
        close_publisher,
        command_listener,
        prepare_topics,
        start_readers,
        stop_readers,
        warm_detector,
    )
    from streams import role_metrics
    from streams.config.watch import ConfigWatch
    from streams.role_health import serve

    role = load_role(args)
    cfg, cameras, topics = role.cfg, role.cameras, role.topics
    detector = warm_detector(cfg)
    prepare_topics(
        role.bootstrap,
        [topics.detections, topics.camera_status, topics.camera_commands],
        cfg.kafka.partitions,
    )
    evidence = EvidenceStore(cfg.evidence)
    fixtures = {c.id: KeptFixtures.open(c, cfg) for c in cameras}
    health = role_health(args, "edge", role.bootstrap, [topics.detections, topics.camera_status])
    limits = RunLimits(args.duration, args.max_frames, on_round=health.round if health else None)
    wake = threading.Event()
    publisher = KafkaPublisher(role.bootstrap)
    readers = {}
    server = None
    commands = command_listener("edge", role.bootstrap, topics, publisher)
    try:
        readers = start_readers(cameras, realtime=not args.fast, loop=args.loop, wake=wake)
        pipelines = {
            c.id: camera_pipeline(c, cfg, detector.name, evidence, fixtures=fixtures[c.id])
            for c in cameras
            if c.id in readers
        }
        loop = DetectionLoop(pipelines, detector, publisher, topics)
        metrics = role_metrics.detector(
            "edge",
            lambda: pipelines,
            publisher,
            lambda: loop.inference_ms_total,
            commands=lambda: commands.inbox.handler.counts,
        )
        server = serve(args, health, [metrics])
        status = StatusReporter(readers, publisher, topics)
        # each camera's latest frame for the camera wall (streams/web/cameras.py)
        live = LiveSnapshots(cfg.evidence.dir, {c.id: c.live_snapshot_s for c in cameras if c.id in readers})
        with stop_on_signals(limits.stop):
            zones = ConfigWatch(role.path, cfg)  # zones edited in cameras.yaml apply without a restart
            sampled = run_edge(
                readers, loop, status, limits, wake, cfg.model.batch, commands.inbox, zones, live
            )
        for camera_id, p in pipelines.items():
            s = p.stats
            logger.info(
                "%s: %d frames sampled, %d inferred, %d skipped as still, %d snapshots",
                camera_id,
                s.sampled,
                s.inferred,
                s.skipped,
                s.snapshots,
            )
        logger.info("edge: %d frames sampled in all", sampled)
    finally:
        if server is not None:
            server.close()
        commands.close()
        stop_readers(readers)
        close_publisher(publisher, role.bootstrap, "edge")
    return 0
