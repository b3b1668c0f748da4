"""The detect role: ``citywatch.frames`` -> detections, as one member of a consumer group.

Kafka assigns the frames topic's partitions (keyed by camera) among the
group's workers, so N workers share the cameras and one camera is always
handled by one worker. Of the frames one poll returns for a camera only the
newest is processed: a worker that fell behind catches up instead of lagging.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline, DetectionLoop, RunLimits, apply_zone_changes
from detectors.types import Frame
from streams.contract.timeutil import from_iso

if TYPE_CHECKING:
    from detectors.camera_commands import CommandInbox
    from detectors.live import LiveSnapshots
    from streams.config.watch import ConfigWatch

logger = logging.getLogger(__name__)

# Rebalances on the embedded broker wait for max_poll_interval_ms; one poll's
# work (a few batches of inference) stays far below this.
MAX_POLL_INTERVAL_MS = 10_000


@dataclass(frozen=True)
class RawFrame:
    camera_id: str
    value: bytes
    headers: dict[str, bytes]


def decode_frame(raw: RawFrame) -> Frame:
    """JPEG bytes and headers -> Frame; ValueError saying what is wrong."""
    try:
        image = cv2.imdecode(np.frombuffer(raw.value, np.uint8), cv2.IMREAD_COLOR)
    except (cv2.error, TypeError, ValueError):  # an empty value or a tombstone
        image = None
    if image is None:
        raise ValueError("value is not a JPEG picture")
    try:
        seq = int(raw.headers["seq"].decode("ascii"))
        captured_at = from_iso(raw.headers["captured_at"].decode("ascii"))
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"bad or missing seq/captured_at header ({exc})") from None
    return Frame(raw.camera_id, seq, np.asarray(image, np.uint8), captured_at, time.monotonic(), captured_at)


def newest_per_camera(raws: Iterable[RawFrame]) -> tuple[list[RawFrame], int]:
    """The last frame of each camera (in arrival order) and how many older ones were skipped."""
    latest: dict[str, RawFrame] = {}
    total = 0
    for raw in raws:
        latest[raw.camera_id] = raw
        total += 1
    return list(latest.values()), total - len(latest)


def frame_consumer(bootstrap: str, topic: str, group: str, *, from_beginning: bool, max_records: int) -> Any:
    from kafka import KafkaConsumer

    from streams import kafka_security

    return KafkaConsumer(
        topic,
        **kafka_security.kafka_python(),
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="citywatch-detect",
        enable_auto_commit=True,
        auto_offset_reset="earliest" if from_beginning else "latest",
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        session_timeout_ms=MAX_POLL_INTERVAL_MS,
        heartbeat_interval_ms=2_000,
        max_poll_records=max_records,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


def run_detect(
    consumer: Any,
    pipeline_for: Callable[[str], CameraPipeline | None],
    loop: DetectionLoop,
    limits: RunLimits,
    batch_size: int,
    commands: CommandInbox | None = None,
    zones: ConfigWatch | None = None,
    live: LiveSnapshots | None = None,
) -> int:
    """Poll frames, run them through the detector, publish detections; return frames handled.
    Operators' camera commands, and zones edited in cameras.yaml (``zones``), are applied
    between polls, to the cameras this worker has; the frames are offered to ``live`` (the
    camera wall's pictures) after their records."""
    handled = 0
    pipelines: dict[str, CameraPipeline] = dict(loop.pipelines)
    loop.pipelines = pipelines
    while not limits.done(handled):
        if commands is not None:
            commands.drain(pipelines, time.time())
        if zones is not None:
            apply_zone_changes(zones, pipelines)
        polled = consumer.poll(timeout_ms=200)
        raws = [
            RawFrame(
                r.key.decode("utf-8", "replace") if r.key is not None else "",
                r.value,
                {k: v for k, v in (r.headers or [])},
            )
            for records in polled.values()
            for r in records
        ]
        if not raws:
            continue
        fresh, skipped = newest_per_camera(raws)
        if skipped:
            logger.debug("detect: skipped %d older frames to keep up", skipped)
        handled += len(raws)
        batch: list[tuple[Frame, GateDecision]] = []
        taken: list[Frame] = []
        for raw in fresh:
            pipeline = pipelines.get(raw.camera_id)
            if pipeline is None:
                pipeline = pipeline_for(raw.camera_id)
                if pipeline is None:
                    continue
                if zones is not None:  # made from the configuration of the start: the zones of now
                    pipeline.apply_zones(zones.cfg, zones.cfg.camera(raw.camera_id).zones)
            pipelines[raw.camera_id] = pipeline
            try:
                frame = decode_frame(raw)
            except ValueError as exc:
                logger.warning("%s: bad frame on the frames topic: %s", raw.camera_id, exc)
                continue
            decision = pipeline.admit(frame)
            taken.append(frame)
            if decision is not None:
                batch.append((frame, decision))
        for start in range(0, len(batch), batch_size):
            loop.process(batch[start : start + batch_size])
        if live is not None:
            for frame in taken:  # capture sent only sampled frames; its camera-status is its own
                live.sampled(frame.camera_id, frame.mono)
                live.offer(frame, pipelines[frame.camera_id].last_objects, None)
    return handled
