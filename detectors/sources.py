"""Frame sources: video files (mp4/avi/gif/...), a still image looped as a stream, RTSP/HTTP
streams through OpenCV's FFmpeg backend, and local devices (``device:N``); key frames only
through PyAV in ``detectors.keyframes``. ``detectors.reader.CameraReader`` runs one in a thread.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from detectors.types import Image
from streams.config.camera import DecodeMode
from streams.config.camera_source import is_stream
from streams.contract.errors import SourceError
from streams.redact import redact

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
STILL_FPS = 10.0  # a still image looped as a stream pretends to be a 10 fps camera


class FrameSource(Protocol):
    """One picture stream. ``read`` returns (image, media time in s), or None at the end of a file,
    and raises ``SourceError`` when a stream is lost.

    ``read`` is ``grab`` then ``retrieve``: ``grab`` moves to the next frame and returns its media
    time (None at the end of a file) without making a picture of it; ``retrieve`` makes the
    picture of the frame last grabbed (None where a file's frame cannot be decoded). A reader
    that samples retrieves only the frames it takes, among those with ``picture_ready``."""

    description: str
    live: bool  # True: frames not taken in time are gone (cameras, streams)
    native_fps: float | None
    # whether the frame last grabbed can be retrieved (False: one the source does not decode,
    # such as a frame between key frames of a KeyframeSource)
    picture_ready: bool

    def open(self) -> None: ...

    def read(self) -> tuple[Image, float] | None: ...

    def grab(self) -> float | None: ...

    def retrieve(self) -> Image | None: ...

    def close(self) -> None: ...


class StillSource:
    """A still image served as an endless stream (media time advances at STILL_FPS)."""

    live = False
    picture_ready = True

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
        t = self.grab()
        return self.retrieve(), t

    def grab(self) -> float:
        self._open_image()
        t = self._n / (self.native_fps or STILL_FPS)
        self._n += 1
        return t

    def retrieve(self) -> Image:
        return self._open_image()

    def _open_image(self) -> Image:
        if self._image is None:
            raise SourceError(f"image {self._path} is not open")
        return self._image

    def close(self) -> None:
        self._image = None


class OpenCVSource:
    """Video file, RTSP/HTTP stream (FFmpeg backend) or local device through ``cv2.VideoCapture``."""

    picture_ready = True  # every frame grabbed is decoded

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
        t = self.grab()
        if t is None:
            return None
        image = self.retrieve()
        return None if image is None else (image, t)

    def grab(self) -> float | None:
        # VideoCapture.grab demuxes and decodes the frame but leaves it in the decoder's pixel
        # format: the conversion to BGR and the copy are retrieve's
        cap = self._opened()
        if not cap.grab():
            if self.live:
                raise SourceError(f"lost {self.description}: no frame")
            return None  # end of the file
        if self.live:
            return time.monotonic() - self._t0
        return float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0

    def retrieve(self) -> Image | None:
        ok, image = self._opened().retrieve()
        if not ok or image is None:
            if self.live:
                raise SourceError(f"lost {self.description}: a frame could not be decoded")
            return None  # a file's frame that cannot be decoded ends it, as a read would
        return np.asarray(image, dtype=np.uint8)

    def _opened(self) -> cv2.VideoCapture:
        if self._cap is None:
            raise SourceError(f"{self.description} is not open")
        return self._cap

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(spec: str, decode: DecodeMode = "sampled") -> FrameSource:
    """The source for a camera's ``source:`` (or ``substream:``) value (not opened yet);
    ``decode: keyframes`` reads videos through PyAV, decoding their key frames only."""
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES and not is_stream(spec):
        return StillSource(spec)
    if decode == "keyframes":
        from detectors.keyframes import KeyframeSource

        return KeyframeSource(spec)
    return OpenCVSource(spec)
