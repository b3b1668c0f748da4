"""A frame source that decodes only key frames (``decode: keyframes``), through PyAV.

The decoder is told to skip every frame that is not a key frame (``skip_frame = NONKEY``),
so a camera costs one decode per group of pictures instead of one per frame. Every packet
is still read: ``grab`` advances one frame of the stream, so the frame rate, the sequence
numbers and real-time playing count the stream's frames; ``picture_ready`` says whether the
frame just grabbed is a decoded key frame, and only those are offered to the sampler. It fits
a camera whose key frame interval is at most its sampling period (e.g. an I-frame every second
for ``detect_fps: 1``); with sparser key frames detection gets fewer pictures than it asks for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.types import Image
from streams.config.camera_source import source_kind
from streams.contract.errors import SourceError
from streams.redact import redact

if TYPE_CHECKING:
    import av
    from av.container import InputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream


class KeyframeSource:
    """Video file or RTSP/HTTP stream whose key frames alone are decoded."""

    def __init__(self, spec: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0) -> None:
        self.description = redact(spec)  # credentials of a stream URL never reach logs or records
        kind = source_kind(spec)
        if kind == "device":
            raise SourceError(
                f"{self.description}: decode: keyframes reads video files and streams, not a local "
                "device; use decode: sampled for device:N"
            )
        self._spec = spec
        self.live = kind == "stream"
        self.native_fps: float | None = None
        self.picture_ready = False
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._container: InputContainer | None = None
        self._stream: VideoStream | None = None
        self._packets: Iterator[Packet[VideoStream]] | None = None
        self._picture: av.VideoFrame | None = None
        self._t0 = 0.0

    def open(self) -> None:
        import av

        if not self.live and not Path(self._spec).is_file():
            raise SourceError(f"video file {self.description} not found")
        options = {"rtsp_transport": "tcp"} if self._spec.lower().startswith("rtsp") else None
        try:
            container = av.open(self._spec, options=options, timeout=self._timeouts)
        except av.FFmpegError as exc:  # its message may quote the URL with its password
            raise SourceError(f"cannot open {self.description}: {redact(str(exc))}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.description} has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        rate = stream.average_rate
        fps = float(rate) if rate else 0.0
        self.native_fps = fps if 0 < fps < 1000 else None
        self._container, self._stream = container, stream
        self._packets = container.demux(stream)
        self._picture = None
        self.picture_ready = False
        self._t0 = time.monotonic()

    def grab(self) -> float | None:
        """Read the next frame's packet (decoding it only if it is a key frame); its media time,
        or None at the end of a file."""
        import av

        if self._packets is None or self._stream is None:
            raise SourceError(f"{self.description} is not open")
        self.picture_ready = False
        try:
            while True:
                packet = next(self._packets, None)
                if packet is None or packet.size == 0:  # the end (a flushing packet has no data)
                    if self.live:
                        raise SourceError(f"lost {self.description}: the stream ended")
                    return None
                frames = packet.decode()
                if frames:
                    self._picture = frames[-1]
                    self.picture_ready = True
                    return self._time(self._picture.pts)
                return self._time(packet.pts if packet.pts is not None else packet.dts)
        except av.FFmpegError as exc:
            raise SourceError(f"lost {self.description}: {redact(str(exc))}") from None

    def _time(self, pts: int | None) -> float:
        if self.live or self._stream is None:
            return time.monotonic() - self._t0
        base = self._stream.time_base
        start = self._stream.start_time or 0
        return 0.0 if pts is None or base is None else float((pts - start) * base)

    def retrieve(self) -> Image | None:
        """The key frame just grabbed as BGR, or None if the frame grabbed is not one."""
        if not self.picture_ready or self._picture is None:
            return None
        return np.asarray(self._picture.to_ndarray(format="bgr24"), dtype=np.uint8)

    def read(self) -> tuple[Image, float] | None:
        """The next key frame and its media time."""
        while True:
            t = self.grab()
            if t is None:
                return None
            image = self.retrieve()
            if image is not None:
                return image, t

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._packets = self._picture = None
        self.picture_ready = False
