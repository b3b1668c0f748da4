"""Pick frames at a camera's ``detect_fps`` on the source's own clock (pure)."""

from __future__ import annotations


class Sampler:
    """Accept at most ``fps`` frames per second of media time; ``fps=None`` accepts every frame.

    Frames are taken on a fixed schedule (one slot per period), so a 30 fps
    source sampled at 2 fps gives exactly every 15th frame and jitter does not
    make the rate drift; after a gap the schedule restarts at the next frame.
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive or None")
        self.period = 0.0 if fps is None else 1.0 / fps
        self._next: float | None = None
        self.taken = 0  # frames accepted (a counter for /metrics)
        # slots that passed with no frame taken for them: the source paused, or the
        # detector's loop fell behind (the reader keeps only the newest frame)
        self.missed = 0

    def take(self, media_t: float, *, picked: bool = False) -> bool:
        """Whether the frame at ``media_t`` is taken. ``picked``: a sampler on this schedule
        upstream already chose it (a reader that decodes only sampled frames, ``Frame.sampled``):
        it is taken, and the schedule goes on from it, even when frames between were lost to a
        slow consumer."""
        tolerance = self.period * 1e-3
        if self._next is not None and media_t < self._next - self.period - tolerance:
            self._next = None  # the clock went back (a looped file restarted): start over
        if not picked and self._next is not None and media_t < self._next - tolerance:
            return False
        self._next = media_t + self.period if self._next is None else self._next + self.period
        if self._next <= media_t:
            # behind after a gap: count the slots that passed, and do not burst to catch up
            if self.period > 0:
                self.missed += int((media_t - self._next + tolerance) // self.period) + 1
            self._next = media_t + self.period
        self.taken += 1
        return True
