"""Pick frames at a camera's ``detect_fps`` on the source's own clock (pure)."""

from __future__ import annotations


class Sampler:
    """Accept at most ``fps`` frames per second of media time; ``fps=None`` accepts every frame.

    A frame is taken when at least one period has passed since the last taken
    frame, less a quarter period of slack so a 30 fps source sampled at 2 fps
    gives every 15th frame rather than drifting to every 16th.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive or None")
        self.period = 0.0 if fps is None else 1.0 / fps
        self._last: float | None = None

    def take(self, media_t: float) -> bool:
        if self._last is not None and media_t < self._last:
            self._last = None  # the source restarted (a looped file): start over
        if self._last is None or media_t - self._last >= self.period * 0.75:
            self._last = media_t
            return True
        return False
