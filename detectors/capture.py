"""The capture role: camera readers -> sampled JPEG frames on ``citywatch.frames``.

The camera path never waits for Kafka: frames go to the publisher's bounded
buffer (oldest dropped first) and camera status turns ``degraded`` while
Kafka does not take them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import cv2

from detectors.pipeline import RunLimits, StatusReporter, run_rounds
from detectors.publish import Publisher
from detectors.reader import CameraReader
from detectors.sampling import Sampler
from detectors.types import Frame
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics

logger = logging.getLogger(__name__)


def frame_headers(frame: Frame) -> list[tuple[str, bytes]]:
    return [
        ("camera_id", frame.camera_id.encode("utf-8")),
        ("seq", str(frame.seq).encode("ascii")),
        ("captured_at", to_iso(frame.captured_at).encode("ascii")),
    ]


def encode_jpeg(frame: Frame, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"{frame.camera_id}: JPEG encoding of frame {frame.seq} failed")
    return bytes(data.tobytes())


def run_capture(
    readers: Mapping[str, CameraReader],
    samplers: Mapping[str, Sampler],
    publisher: Publisher,
    topics: Topics,
    status: StatusReporter,
    limits: RunLimits,
    wake: threading.Event,
    *,
    quality: int = 85,
) -> int:
    """Publish sampled frames until the limits say stop or every source ended; return the count."""

    def step(sent: int) -> int:
        for camera_id, reader in readers.items():
            frame = reader.take()
            if frame is None or not samplers[camera_id].take(frame.media_t, picked=frame.sampled):
                continue
            publisher.send(topics.frames, camera_id, encode_jpeg(frame, quality), frame_headers(frame))
            sent += 1
            if limits.done(sent):
                break
        return sent

    return run_rounds(readers, status, limits, wake, step)
