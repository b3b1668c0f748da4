"""Capture: cameras -> citywatch.frames (JPEG bytes; headers camera_id, seq, captured_at) at each
camera's detect_fps, plus citywatch.camera-status. If Kafka is unreachable it keeps capturing into a
bounded buffer (oldest dropped first), reports the cameras degraded, and recovers by itself."""

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
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality 10..100 (default 85)")
    parser.add_argument(
        "--buffer", type=int, default=200, metavar="N", help="frames kept while Kafka is down (default 200)"
    )


def run(args: argparse.Namespace) -> int:
    from detectors.capture import run_capture
    from detectors.pipeline import RunLimits, StatusReporter
    from detectors.publish import KafkaPublisher
    from detectors.runtime import close_publisher, prepare_topics, start_readers, stop_readers
    from detectors.sampling import Sampler
    from streams import role_metrics
    from streams.role_health import serve

    role = load_role(args)
    cameras, topics = role.cameras, role.topics
    prepare_topics(role.bootstrap, [topics.frames, topics.camera_status], role.cfg.kafka.partitions)
    health = role_health(args, "capture", role.bootstrap, [topics.frames, topics.camera_status])
    limits = RunLimits(args.duration, args.max_frames, on_round=health.round if health else None)
    wake = threading.Event()
    publisher = KafkaPublisher(role.bootstrap, max_records=args.buffer, client_id="citywatch-capture")
    readers = {}
    server = None
    try:
        readers = start_readers(cameras, realtime=not args.fast, loop=args.loop, wake=wake)
        samplers = {c.id: Sampler(c.detect_fps) for c in cameras if c.id in readers}
        queued = lambda: {camera_id: s.taken for camera_id, s in samplers.items()}  # noqa: E731
        server = serve(args, health, [role_metrics.detector("capture", dict, publisher, queued=queued)])
        status = StatusReporter(readers, publisher, topics)
        with stop_on_signals(limits.stop):
            sent = run_capture(
                readers, samplers, publisher, topics, status, limits, wake, quality=args.quality
            )
        logger.info("capture: %d frames queued, %d dropped while Kafka was down", sent, publisher.dropped)
    finally:
        if server is not None:
            server.close()
        stop_readers(readers)
        close_publisher(publisher, role.bootstrap, "capture", "frames")
    return 0
