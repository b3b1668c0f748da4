"""Detect: citywatch.frames -> YOLO -> tracking, zones, evidence -> citywatch.detections, as a member
of a consumer group: start N workers with the same --group and they share the cameras."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from detectors.commands import Role, add_role_arguments, load_role, role_health, stop_on_signals

if TYPE_CHECKING:
    from detectors.pipeline import CameraPipeline

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
    from detectors.live import LiveSnapshots
    from detectors.pipeline import DetectionLoop, RunLimits
    from detectors.publish import KafkaPublisher
    from detectors.runtime import close_publisher, command_listener, prepare_topics, warm_detector
    from streams import role_metrics
    from streams.config.watch import ConfigWatch
    from streams.role_health import serve

    role = load_role(args)
    cfg, topics = role.cfg, role.topics
    detector = warm_detector(cfg)
    prepare_topics(
        role.bootstrap, [topics.frames, topics.detections, topics.camera_commands], cfg.kafka.partitions
    )
    pipeline_for = PipelineFor(role, detector.name)
    health = role_health(args, "detect", role.bootstrap, [topics.frames, topics.detections])
    limits = RunLimits(args.duration, args.max_frames)
    publisher = KafkaPublisher(role.bootstrap, client_id="citywatch-detect")
    consumer = frame_consumer(
        role.bootstrap,
        topics.frames,
        args.group,
        from_beginning=args.from_beginning,
        max_records=cfg.model.batch * 4,
    )
    if health is not None:
        limits.on_round = lambda: health.round(consumer)
    server = None
    commands = command_listener("detect", role.bootstrap, topics, publisher)
    try:
        loop = DetectionLoop({}, detector, publisher, topics)
        metrics = role_metrics.detector(
            "detect",
            lambda: loop.pipelines,
            publisher,
            lambda: loop.inference_ms_total,
            commands=lambda: commands.inbox.handler.counts,
        )
        server = serve(args, health, [metrics])
        # each camera's latest frame for the camera wall (streams/web/cameras.py)
        live = LiveSnapshots(cfg.evidence.dir, {c.id: c.live_snapshot_s for c in role.cameras})
        with stop_on_signals(limits.stop):
            zones = ConfigWatch(role.path, cfg)  # zones edited in cameras.yaml apply without a restart
            handled = run_detect(
                consumer, pipeline_for, loop, limits, cfg.model.batch, commands.inbox, zones, live
            )
        logger.info("detect: %d frames handled", handled)
    finally:
        if server is not None:
            server.close()
        commands.close()
        consumer.close()
        close_publisher(publisher, role.bootstrap, "detect")
    return 0


class PipelineFor:
    """A new pipeline for each selected camera whose frames arrive; frames of other cameras
    are ignored (said once per camera)."""

    def __init__(self, role: Role, model_name: str) -> None:
        from detectors.evidence import EvidenceStore
        from detectors.fixture_store import KeptFixtures

        self.role = role
        self.model_name = model_name
        self.cameras = {c.id: c for c in role.cameras}
        self.evidence = EvidenceStore(role.cfg.evidence)
        # read every selected camera's fixtures now: an unreadable file stops the start, saying which
        self.fixtures = {camera_id: KeptFixtures.open(c, role.cfg) for camera_id, c in self.cameras.items()}
        self.unknown: set[str] = set()

    def __call__(self, camera_id: str) -> CameraPipeline | None:
        from detectors.runtime import camera_pipeline

        camera = self.cameras.get(camera_id)
        if camera is None:
            if camera_id not in self.unknown:
                self.unknown.add(camera_id)
                logger.warning(
                    "%s: frames of a camera not selected in %s; ignoring them", camera_id, self.role.path
                )
            return None
        # capture already sampled at detect_fps: take every frame that arrives
        return camera_pipeline(
            camera,
            self.role.cfg,
            self.model_name,
            self.evidence,
            sample_fps=None,
            fixtures=self.fixtures[camera_id],
        )
