"""Edge mode: cameras -> motion gate -> YOLO -> tracking, zones, evidence -> citywatch.detections,
plus citywatch.camera-status for every camera, in one process."""

from __future__ import annotations

import argparse
import logging
import threading

from detectors.commands import add_role_arguments, add_source_arguments, select_cameras, stop_on_signals

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_role_arguments(parser)
    add_source_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from detectors.evidence import EvidenceStore
    from detectors.fixture_store import KeptFixtures
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import (
        CameraPipeline,
        DetectionLoop,
        RunLimits,
        StatusReporter,
        published_labels,
        run_edge,
    )
    from detectors.publish import KafkaPublisher
    from detectors.runtime import prepare_topics, start_readers, stop_readers
    from detectors.tracking import ByteTracker
    from streams.commands import kafka_address
    from streams.config import load_config, resolve_path
    from streams.topics import Topics

    path = resolve_path(args.config)
    cfg = load_config(path)
    cameras = select_cameras(cfg, args.camera, str(path))
    topics = Topics.current()
    bootstrap = kafka_address(args)
    detector = UltralyticsDetector(cfg.model, published_labels(cfg))
    detector.warmup()
    prepare_topics(bootstrap, [topics.detections, topics.camera_status], cfg.kafka.partitions)
    evidence = EvidenceStore(cfg.evidence)
    fixtures = {c.id: KeptFixtures.open(c, cfg) for c in cameras}
    limits = RunLimits(args.duration, args.max_frames)
    wake = threading.Event()
    publisher = KafkaPublisher(bootstrap)
    readers = {}
    try:
        readers = start_readers(cameras, realtime=not args.fast, loop=args.loop, wake=wake)
        pipelines = {
            c.id: CameraPipeline(
                c,
                cfg,
                ByteTracker(c.detect_fps, high=cfg.model.conf),
                model_name=detector.name,
                evidence=evidence,
                fixtures=fixtures[c.id],
            )
            for c in cameras
            if c.id in readers
        }
        loop = DetectionLoop(pipelines, detector, publisher, topics)
        status = StatusReporter(readers, publisher, topics)
        with stop_on_signals(limits.stop):
            sampled = run_edge(readers, loop, status, limits, wake, cfg.model.batch)
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
        stop_readers(readers)
        if not publisher.flush(10):
            logger.warning("edge: %d records could not be delivered to %s", publisher.buffered, bootstrap)
        publisher.close()
    return 0
