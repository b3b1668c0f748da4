"""Frame sources and the per-camera reader thread.

Sources: video files (mp4/avi/gif/...), a still image looped as a stream,
RTSP/HTTP streams through OpenCV's FFmpeg backend, and local devices
(``device:N``). ``CameraReader`` runs one source in a thread: for live
video it keeps only the latest frame, so a slow detector never lags behind;
a lost stream is reopened with capped exponential backoff.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from detectors.health import FpsMeter, SourceHealth, SourceState
from detectors.types import Frame, Image
from streams.backoff import Backoff
from streams.contract.errors import SourceError
from streams.redact import redact

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
STILL_FPS = 10.0  # a still image looped as a stream pretends to be a 10 fps camera


class FrameSource(Protocol):
    """One picture stream. ``read`` returns (image, media time in s), or None at the end of a file,
    and raises ``SourceError`` when a stream is lost."""

    description: str
    live: bool  # True: frames not taken in time are gone (cameras, streams)
    native_fps: float | None

    def open(self) -> None: ...

    def read(self) -> tuple[Image, float] | None: ...

    def close(self) -> None: ...


def is_stream(spec: str) -> bool:
    return spec.split("://", 1)[0].lower() in ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


class StillSource:
    """A still image served as an endless stream (media time advances at STILL_FPS)."""

    live = False

    def __init__(self, path: str, fps: float = STILL_FPS) -> None:
        self.description = path
        self.native_fps: float | None = fps
        self._path = path
        self._image: Image | None = None
        self._n = 0

    def open(self) -> None:
        image = cv2.imread(self._path, cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot read image {self._path}: missing or not a picture")
        self._image = np.asarray(image, dtype=np.uint8)
        self._n = 0

    def read(self) -> tuple[Image, float] | None:
        if self._image is None:
            raise SourceError(f"image {self._path} is not open")
        t = self._n / (self.native_fps or STILL_FPS)
        self._n += 1
        return self._image, t

    def close(self) -> None:
        self._image = None


class OpenCVSource:
    """Video file, RTSP/HTTP stream (FFmpeg backend) or local device through ``cv2.VideoCapture``."""

    def __init__(self, spec: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0) -> None:
        self.description = redact(spec)  # credentials of a stream URL never reach logs or records
        self._spec = spec
        self._device: int | None = None
        if spec.startswith("device:"):
            try:
                self._device = int(spec.removeprefix("device:"))
            except ValueError:
                raise SourceError(
                    f"bad device source {self.description!r}; write device:N, e.g. device:0"
                ) from None
        self.live = self._device is not None or is_stream(spec)
        self.native_fps: float | None = None
        self._open_timeout_ms = int(open_timeout_s * 1000)
        self._read_timeout_ms = int(read_timeout_s * 1000)
        self._cap: cv2.VideoCapture | None = None
        self._t0 = 0.0

    def open(self) -> None:
        try:
            self._open()
        except cv2.error as exc:  # OpenCV's message may quote the URL with its password
            raise SourceError(f"cannot open {self.description}: {redact(str(exc))}") from None

    def _open(self) -> None:
        if self._device is not None:
            cap = cv2.VideoCapture(self._device)
        elif self.live:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                self._open_timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                self._read_timeout_ms,
            ]
            cap = cv2.VideoCapture(self._spec, cv2.CAP_FFMPEG, params)
        else:
            if not Path(self._spec).is_file():
                raise SourceError(f"video file {self.description} not found")
            cap = cv2.VideoCapture(self._spec)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.description}")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.native_fps = fps if 0 < fps < 1000 else None
        self._cap = cap
        self._t0 = time.monotonic()

    def read(self) -> tuple[Image, float] | None:
        if self._cap is None:
            raise SourceError(f"{self.description} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            if self.live:
                raise SourceError(f"lost {self.description}: no frame")
            return None  # end of the file
        if self.live:
            t = time.monotonic() - self._t0
        else:
            msec = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            t = msec / 1000.0
        return np.asarray(image, dtype=np.uint8), t

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(spec: str) -> FrameSource:
    """The source for a camera's ``source:`` value (not opened yet)."""
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES and not is_stream(spec):
        return StillSource(spec)
    return OpenCVSource(spec)


class CameraReader:
    """Reads one camera's source in a thread and hands frames to the pipeline.

    ``realtime`` (default): files and stills are played at their native rate and
    only the latest frame is kept, like a live camera. ``realtime=False``: files
    are read as fast as the consumer takes them, none dropped (benchmarks,
    batch processing). ``loop``: a file starts again at its end.
    """

    def __init__(
        self,
        camera_id: str,
        factory: Callable[[], FrameSource],
        *,
        realtime: bool = True,
        loop: bool = False,
        backoff: Backoff | None = None,
        wake: threading.Event | None = None,
        retry_missing_files: bool = True,
    ) -> None:
        self.camera_id = camera_id
        self._factory = factory
        self.realtime = realtime
        self.loop = loop
        self._backoff = backoff or Backoff()
        self._wake = wake or threading.Event()
        self._retry_missing = retry_missing_files
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._lossless = False
        self._taken_seq = -1
        self._seq = 0
        self._state: SourceState = "connecting"
        self._reason = "connecting"
        self._fps = FpsMeter()
        self._last_mono: float | None = None
        self._last_wall: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{camera_id}", daemon=True)
        self.transitions: list[tuple[SourceState, str]] = []  # every state change, oldest first

    # -- consumer side -------------------------------------------------------
    def start(self) -> CameraReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=15)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest frame read so far (-1 before the first)."""
        with self._cond:
            return self._seq - 1

    @property
    def ended(self) -> bool:
        return self._state == "ended"

    def take(self) -> Frame | None:
        """The newest frame not taken yet, or None (never blocks)."""
        with self._cond:
            frame = self._latest
            if frame is None or frame.seq <= self._taken_seq:
                return None
            return self._hand_over(frame)

    def wait(self, timeout: float) -> Frame | None:
        """Like ``take`` but waits up to ``timeout`` seconds for a new frame."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and frame.seq > self._taken_seq:
                    return self._hand_over(frame)
                left = deadline - time.monotonic()
                if left <= 0 or self._state == "ended" or self._stop.is_set():
                    return None
                self._cond.wait(left)

    def _hand_over(self, frame: Frame) -> Frame:
        # called with the lock held
        self._taken_seq = frame.seq
        self._cond.notify_all()
        if self._lossless:
            # A file read as fast as possible has no arrival time: its frames count as
            # captured when the pipeline takes them, not when they were read ahead.
            return replace(frame, captured_at=time.time(), mono=time.monotonic())
        return frame

    def health(self, now_mono: float | None = None) -> SourceHealth:
        now = time.monotonic() if now_mono is None else now_mono
        with self._cond:
            age = None if self._last_mono is None else max(0.0, now - self._last_mono)
            return SourceHealth(self._state, self._reason, self._fps.fps(now), self._last_wall, age)

    # -- reader thread -------------------------------------------------------
    def _set_state(self, state: SourceState, reason: str) -> None:
        # a source's error may quote its URL (OpenCV, FFmpeg): never let its credentials through
        reason = redact(reason)
        with self._cond:
            if state == self._state and reason == self._reason:
                return
            self._state, self._reason = state, reason
            self.transitions.append((state, reason))
            self._cond.notify_all()
        self._wake.set()
        if state == "offline":
            logger.warning("%s: offline: %s", self.camera_id, reason)
        else:
            logger.info("%s: %s %s", self.camera_id, state, reason)

    def _run(self) -> None:
        while not self._stop.is_set():
            source = self._factory()
            try:
                source.open()
            except Exception as exc:  # SourceError, or whatever a decoder raises: never end the thread
                if not isinstance(exc, SourceError):
                    exc = SourceError(f"cannot open {source.description}: {exc!r}")
                if not source.live and not self._retry_missing:
                    self._set_state("ended", str(exc))
                    return
                delay = self._backoff.next()
                self._set_state("offline", f"{exc}; retrying in {delay:.1f}s")
                self._stop.wait(delay)
                continue
            self._backoff.reset()
            self._set_state("online", f"reading {source.description}")
            try:
                finished = self._pump(source)
            except SourceError as exc:
                finished = False
                delay = self._backoff.next()
                self._set_state("offline", f"{exc}; reconnecting in {delay:.1f}s")
                self._stop.wait(delay)
            except Exception as exc:  # a decoder crash must not kill the camera for good
                finished = False
                logger.error("%s: reader failed: %s", self.camera_id, redact(repr(exc)))
                logger.debug(
                    "%s: reader failure trace: %s",
                    self.camera_id,
                    redact("".join(traceback.format_exception(exc))),
                )
                delay = self._backoff.next()
                self._set_state("offline", f"reader error {exc!r}; reconnecting in {delay:.1f}s")
                self._stop.wait(delay)
            finally:
                source.close()
            if finished:
                self._set_state("ended", "end of file")
                return

    def _pump(self, source: FrameSource) -> bool:
        """Read until stopped (False) or the end of a non-looping file (True)."""
        start_mono = time.monotonic()
        offset = 0.0  # media time of earlier loops of a file
        last_t = 0.0
        first_t: float | None = None
        while not self._stop.is_set():
            got = source.read()
            if got is None:
                if not self.loop:
                    return True
                source.close()
                source.open()
                offset += last_t + 1.0 / (source.native_fps or 25.0)
                continue
            image, t = got
            t += offset
            last_t = t - offset
            if first_t is None:
                first_t = t
            if self.realtime and not source.live:
                # play the file at its native rate, like a camera would deliver it
                due = start_mono + (t - first_t)
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return False
            self._lossless = not self.realtime and not source.live
            self._publish(image, t, lossless=self._lossless)
        return False

    def _publish(self, image: Image, media_t: float, *, lossless: bool) -> None:
        with self._cond:
            if lossless:
                # hand every frame over: wait until the previous one was taken
                while self._latest is not None and self._latest.seq > self._taken_seq:
                    if self._stop.is_set():
                        return
                    self._cond.wait(0.1)
            mono = time.monotonic()
            self._latest = Frame(self.camera_id, self._seq, image, time.time(), mono, media_t)
            self._seq += 1
            self._last_mono, self._last_wall = mono, self._latest.captured_at
            self._fps.tick(mono)
            self._cond.notify_all()
        self._wake.set()
