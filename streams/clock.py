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
