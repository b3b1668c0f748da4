"""Start-up and shut-down helpers shared by the detector roles: topics, readers, detector,
pipelines, publisher."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from detectors.reader import CameraReader
from detectors.sources import open_source
from streams.config import Camera, Config
from streams.config.camera_source import is_stream
from streams.contract.errors import BrokerError, KafkaSecurityError, SourceError
from streams.redact import redact

if TYPE_CHECKING:
    from detectors.camera_commands import CommandListener
    from detectors.evidence import EvidenceStore
    from detectors.fixture_store import KeptFixtures
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import CameraPipeline
    from detectors.publish import KafkaPublisher, Publisher
    from streams.contract.topics import Topics

logger = logging.getLogger(__name__)


def prepare_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    """Create the topics we write; Kafka being down is not fatal (records are buffered)."""
    from streams.kafka_io import ensure_topics

    try:
        ensure_topics(bootstrap, topics, partitions=partitions)
    except KafkaSecurityError:
        raise  # a wrong CA or password does not mend itself: say so and stop
    except BrokerError as exc:
        logger.warning("cannot create topics now (%s); records are buffered until Kafka answers", exc)


def detection_source(camera: Camera) -> tuple[str, str]:
    """The source detection reads (its ``substream`` where set, else its ``source``) and the
    configuration key that names it."""
    if camera.substream is not None:
        return camera.substream, "substream"
    return camera.source, "source"


def probe(camera: Camera) -> None:
    """Open a file or image source once so a wrong path fails at start-up, naming camera and source.

    Streams and devices are not probed: they may come up later, and their
    readers reconnect with backoff."""
    spec, key = detection_source(camera)
    if is_stream(spec) or spec.startswith("device:"):
        open_source(spec, camera.decode)  # only checks the spelling of device:N
        return
    source = open_source(spec, camera.decode)
    try:
        source.open()
    except SourceError as exc:
        raise SourceError(
            f"camera {camera.id}: cannot open {key} {redact(spec)!r} ({redact(str(exc))}); "
            f"fix its {key}: in the configuration (a video file, an image, rtsp://, http(s):// or device:N)"
        ) from None
    finally:
        source.close()


def start_readers(
    cameras: Sequence[Camera], *, realtime: bool, loop: bool, wake: threading.Event
) -> dict[str, CameraReader]:
    """A started reader per camera whose source can be opened; the others are logged and left out.

    Each reads the camera's ``detection_source`` and, unless ``decode: all``, makes pictures
    only of the frames its ``detect_fps`` takes (with ``keyframes``, among its key frames).
    Raises ``SourceError`` (listing every camera) only if no camera can start."""
    readers: dict[str, CameraReader] = {}
    problems: list[str] = []
    for camera in cameras:
        try:
            probe(camera)
        except SourceError as exc:
            logger.error("%s: %s", camera.id, exc)
            problems.append(str(exc))
            continue
        spec, _key = detection_source(camera)
        readers[camera.id] = CameraReader(
            camera.id,
            lambda spec=spec, decode=camera.decode: open_source(spec, decode),  # type: ignore[misc]
            realtime=realtime,
            loop=loop,
            wake=wake,
            retry_missing_files=False,
            sample_fps=None if camera.decode == "all" else camera.detect_fps,
        ).start()
    if not readers:
        raise SourceError("no camera could start:\n" + "\n".join(problems))
    return readers


def stop_readers(readers: dict[str, CameraReader]) -> None:
    for reader in readers.values():
        reader.stop()


def warm_detector(cfg: Config) -> UltralyticsDetector:
    """The configured model, loaded and warmed up, publishing the configuration's labels."""
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import published_labels

    detector = UltralyticsDetector(cfg.model, published_labels(cfg))
    detector.warmup()
    return detector


def camera_pipeline(
    camera: Camera,
    cfg: Config,
    model_name: str,
    evidence: EvidenceStore,
    *,
    sample_fps: float | None = -1.0,
    shadow_gate: bool = False,
    fixtures: KeptFixtures | None = None,
) -> CameraPipeline:
    """One camera's pipeline with its own ByteTrack tracker (``sample_fps`` -1: the camera's detect_fps)."""
    from detectors.pipeline import CameraPipeline
    from detectors.tracking import ByteTracker

    return CameraPipeline(
        camera,
        cfg,
        ByteTracker(camera.detect_fps, high=cfg.model.conf),
        model_name=model_name,
        evidence=evidence,
        sample_fps=sample_fps,
        shadow_gate=shadow_gate,
        fixtures=fixtures,
    )


def close_publisher(publisher: KafkaPublisher, bootstrap: str, role: str, what: str = "records") -> None:
    """Deliver what is buffered (up to 10 s), saying what could not be, and close."""
    if not publisher.flush(10):
        logger.warning("%s: %d %s could not be delivered to %s", role, publisher.buffered, what, bootstrap)
    publisher.close()


def command_listener(role: str, bootstrap: str, topics: Topics, publisher: Publisher) -> CommandListener:
    """A started listener for operators' camera commands (its inbox is drained by the role's loop)."""
    from detectors.camera_commands import CommandInbox, CommandListener

    return CommandListener(
        bootstrap, topics.camera_commands, topics.deadletter, CommandInbox(), publisher, role=role
    ).start()
