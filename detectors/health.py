"""Camera health: frame rate and the camera-status record (pure)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from streams.contract.records import CameraStatus
from streams.contract.timeutil import to_iso
from streams.redact import redact

SourceState = Literal["connecting", "online", "offline", "ended"]


class FpsMeter:
    """Frames per second over the last ``window_s`` seconds of monotonic time."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, t: float) -> None:
        self._times.append(t)
        self._trim(t)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def fps(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0


@dataclass(frozen=True)
class SourceHealth:
    """What a frame reader knows about its source at one moment."""

    state: SourceState
    reason: str
    fps: float
    last_frame_at: float | None  # wall epoch seconds
    last_frame_age_s: float | None


@dataclass(frozen=True)
class PublisherHealth:
    ok: bool
    reason: str = ""


def camera_status(
    camera_id: str,
    source: SourceHealth,
    publisher: PublisherHealth,
    *,
    stale_after_s: float,
) -> CameraStatus:
    """The camera-status record: offline when the source is down, degraded when frames are
    late or Kafka cannot take our records, else online."""
    extra: dict[str, object] = {}
    if source.last_frame_age_s is not None:
        extra["last_frame_age_s"] = round(source.last_frame_age_s, 3)
    if source.state in ("offline", "ended", "connecting"):
        status, reason = "offline", source.reason or source.state
    elif source.last_frame_age_s is not None and source.last_frame_age_s > stale_after_s:
        status, reason = "degraded", f"no new frame for {source.last_frame_age_s:.1f}s"
    elif not publisher.ok:
        status, reason = "degraded", publisher.reason
    else:
        status, reason = "online", ""
    last = to_iso(source.last_frame_at) if source.last_frame_at is not None else None
    return CameraStatus(
        camera_id=camera_id,
        status=status,
        fps=round(source.fps, 2),
        last_frame_at=last,
        reason=redact(reason),
        **extra,
    )
