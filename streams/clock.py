"""Event-time clock: the newest event time seen, advanced by wall-clock between events.

Timers (grace, verification, SLA) fire on event time so a replay gives the same
result; the wall-clock advance lets them fire on quiet streams too.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EventClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self._event: float | None = None
        self._seen_at = 0.0

    def observe(self, event_time: float) -> None:
        if self._event is None or event_time > self._event:
            self._event = event_time
            self._seen_at = self._mono()

    def now(self) -> float | None:
        """Estimated current event time, or None before the first event."""
        if self._event is None:
            return None
        return self._event + (self._mono() - self._seen_at)


def ahead_of_wall(event_time: float, wall_now: float, max_skew_s: float) -> str | None:
    """Why an input dated ``event_time`` is refused, or None when it is acceptable.

    An event more than ``max_skew_s`` ahead of the receiving process's wall clock
    would move its key's clock into the future and fire every deadline at once.
    """
    ahead = event_time - wall_now
    if ahead <= max_skew_s:
        return None
    return (
        f"event time is {ahead:.0f} s ahead of this process's clock (limit site.max_clock_skew_s = "
        f"{max_skew_s:g} s): fix the sender's clock or the record's time"
    )
