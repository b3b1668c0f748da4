"""Detect: citywatch.frames -> YOLO -> tracking, zones, evidence -> citywatch.detections, as a member
of a consumer group: start N workers with the same --group and they share the cameras."""

from __future__ import annotations

import argparse
import logging

from detectors.commands import add_role_arguments, select_cameras, stop_on_signals

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_role_arguments(parser)
    parser.add_argument(
        "--group", default="citywatch-detect", help="consumer group id (default citywatch-detect)"
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="a new group starts at the oldest frame, not the newest"
    )


def run(args: argparse.Namespace) -> int:
    from detectors.detect import frame_consumer, run_detect
    from detectors.evidence import EvidenceStore
    from detectors.fixture_store import KeptFixtures
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import CameraPipeline, DetectionLoop, RunLimits, published_labels
    from detectors.publish import KafkaPublisher
    from detectors.runtime import prepare_topics
    from detectors.tracking import ByteTracker
    from streams.commands import kafka_address
    from streams.config import load_config, resolve_path
    from streams.topics import Topics

    path = resolve_path(args.config)
    cfg = load_config(path)
    cameras = {c.id: c for c in select_cameras(cfg, args.camera, str(path))}
    topics = Topics.current()
    bootstrap = kafka_address(args)
    detector = UltralyticsDetector(cfg.model, published_labels(cfg))
    detector.warmup()
    prepare_topics(bootstrap, [topics.frames, topics.detections], cfg.kafka.partitions)
    evidence = EvidenceStore(cfg.evidence)
    # read every selected camera's fixtures now: an unreadable file stops the start, saying which
    fixtures = {camera_id: KeptFixtures.open(camera, cfg) for camera_id, camera in cameras.items()}
    unknown: set[str] = set()

    def pipeline_for(camera_id: str) -> CameraPipeline | None:
        camera = cameras.get(camera_id)
        if camera is None:
            if camera_id not in unknown:
                unknown.add(camera_id)
                logger.warning("%s: frames of a camera not selected in %s; ignoring them", camera_id, path)
            return None
        # capture already sampled at detect_fps: take every frame that arrives
        tracker = ByteTracker(camera.detect_fps, high=cfg.model.conf)
        return CameraPipeline(
            camera,
            cfg,
            tracker,
            model_name=detector.name,
            evidence=evidence,
            sample_fps=None,
            fixtures=fixtures[camera_id],
        )

    limits = RunLimits(args.duration, args.max_frames)
    publisher = KafkaPublisher(bootstrap, client_id="citywatch-detect")
    consumer = frame_consumer(
        bootstrap,
        topics.frames,
        args.group,
        from_beginning=args.from_beginning,
        max_records=cfg.model.batch * 4,
    )
    try:
        loop = DetectionLoop({}, detector, publisher, topics)
        with stop_on_signals(limits.stop):
            handled = run_detect(consumer, pipeline_for, loop, limits, cfg.model.batch)
        logger.info("detect: %d frames handled", handled)
    finally:
        consumer.close()
        if not publisher.flush(10):
            logger.warning("detect: %d records could not be delivered to %s", publisher.buffered, bootstrap)
        publisher.close()
    return 0
