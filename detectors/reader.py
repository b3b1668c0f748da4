"""The per-camera reader thread.

``CameraReader`` runs one frame source in a thread: for live video it keeps only the latest
frame, so a slow detector never lags behind; a lost stream is reopened with capped
exponential backoff. Given the camera's sampling rate it makes pictures only of the frames
that will be sampled.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace

from detectors.health import FpsMeter, SourceHealth, SourceState
from detectors.sampling import Sampler
from detectors.sources import FrameSource
from detectors.types import Frame, Image
from streams.backoff import Backoff
from streams.contract.errors import SourceError
from streams.redact import redact

logger = logging.getLogger(__name__)


class CameraReader:
    """Reads one camera's source in a thread and hands frames to the pipeline.

    ``realtime`` (default): files and stills are played at their native rate and
    only the latest frame is kept, like a live camera. ``realtime=False``: files
    are read as fast as the consumer takes them, none dropped (benchmarks,
    batch processing). ``loop``: a file starts again at its end.

    ``sample_fps`` (the camera's ``detect_fps``): only the frames a ``Sampler`` at that rate
    takes are made into pictures and handed over, marked ``Frame.sampled``; the others are
    grabbed but not converted or copied, and still count in the frame rate, the last frame's
    age and the sequence numbers (seq N is the source's Nth frame either way). None: every
    frame is retrieved and handed over.
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
        sample_fps: float | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._sampler = None if sample_fps is None else Sampler(sample_fps)
        self._last_picture_t: float | None = None
        self._between_pictures = 0  # frames since the last picture the source did not decode
        self._sparse_warned = False
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
        sampled = self._sampler is not None
        while not self._stop.is_set():
            t = source.grab()
            wanted = (
                t is not None
                and source.picture_ready
                and (self._sampler is None or self._sampler.take(t + offset))
            )
            image = source.retrieve() if wanted else None
            if t is None or (wanted and image is None):
                if not self.loop:
                    return True
                source.close()
                source.open()
                offset += last_t + 1.0 / (source.native_fps or 25.0)
                continue
            last_t = t
            t += offset
            if first_t is None:
                first_t = t
            if self.realtime and not source.live:
                # play the file at its native rate, like a camera would deliver it
                due = start_mono + (t - first_t)
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return False
            self._lossless = not self.realtime and not source.live
            if source.picture_ready:
                self._check_pictures(t)
            else:
                self._between_pictures += 1
            if image is None:
                self._count_skipped()
            else:
                self._publish(image, t, lossless=self._lossless, sampled=sampled)
        return False

    def _check_pictures(self, media_t: float) -> None:
        """Say once when a source that decodes only some frames (key frames) gives pictures
        further apart than the sampling period: detection then gets fewer than it asks for."""
        last, self._last_picture_t = self._last_picture_t, media_t
        between, self._between_pictures = self._between_pictures, 0
        if self._sampler is None or self._sparse_warned or last is None or not between:
            return
        gap = media_t - last
        if gap > 1.5 * self._sampler.period:
            self._sparse_warned = True
            logger.warning(
                "%s: pictures come %.2fs apart, fewer than the %.2f fps sampled; set the camera's "
                "key frame (I-frame) interval to at most %.2fs or use decode: sampled",
                self.camera_id,
                gap,
                1.0 / self._sampler.period,
                self._sampler.period,
            )

    def _count_skipped(self) -> None:
        # a frame not sampled still shows that the source is alive and at what rate
        with self._cond:
            mono = time.monotonic()
            self._seq += 1
            self._last_mono, self._last_wall = mono, time.time()
            self._fps.tick(mono)

    def _publish(self, image: Image, media_t: float, *, lossless: bool, sampled: bool) -> None:
        with self._cond:
            if lossless:
                # hand every frame over: wait until the previous one was taken
                while self._latest is not None and self._latest.seq > self._taken_seq:
                    if self._stop.is_set():
                        return
                    self._cond.wait(0.1)
            mono = time.monotonic()
            self._latest = Frame(self.camera_id, self._seq, image, time.time(), mono, media_t, sampled)
            self._seq += 1
            self._last_mono, self._last_wall = mono, self._latest.captured_at
            self._fps.tick(mono)
            self._cond.notify_all()
        self._wake.set()
