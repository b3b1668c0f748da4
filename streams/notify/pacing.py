"""One robot's pace (pure; every call takes ``now``): at most ``per_minute`` messages in any
``window_s``; while the window is full, events wait, and when it opens again the waiting events
go as one digest (up to ``digest_max``; the rest in the next). A failed send is tried again after
a backoff, and counts towards ``failing`` until a send succeeds. Nothing is dropped: what waits
stays in the outbox until it is sent.

    per_minute 20, 25 events at once: 20 messages, then (window full) 5 wait, and one digest of
    the 5 when the first message leaves the window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TypeVar

from streams.backoff import Backoff

FAILING_AFTER = 3  # consecutive failed sends before the robot is reported failing (health)
DIGEST_MAX = 50  # events in one digest

K = TypeVar("K")


class Pace:
    def __init__(
        self,
        per_minute: int,
        window_s: float = 60.0,
        *,
        backoff: Backoff | None = None,
        digest_max: int = DIGEST_MAX,
    ) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.digest_max = digest_max
        self.backoff = backoff or Backoff(1.0, 2.0, 60.0)
        self._sent: deque[float] = deque(maxlen=per_minute)  # times of the latest messages
        self.held = False  # events waited for the window: the next message is a digest
        self.failures = 0  # consecutive
        self.retry_at = float("-inf")

    def restore(self, sent_times: Iterable[float]) -> None:
        """The window as it was: the times of the messages sent before a restart."""
        for t in sorted(sent_times):
            self._sent.append(t)

    def room(self, now: float) -> bool:
        while self._sent and self._sent[0] <= now - self.window_s:
            self._sent.popleft()
        return len(self._sent) < self.per_minute

    def plan(self, now: float, pending: Sequence[K]) -> list[K]:
        """What to send at ``now`` of the events waiting (oldest first): one event, a digest of
        several, or nothing (none waiting, a retry not yet due, the window full)."""
        if not pending or now < self.retry_at:
            return []
        if not self.room(now):
            self.held = True
            return []
        if self.held and len(pending) > 1:
            return list(pending[: self.digest_max])
        return [pending[0]]

    def sent(self, now: float) -> None:
        self._sent.append(now)
        self.held = False
        self.failures = 0
        self.retry_at = float("-inf")
        self.backoff.reset()

    def failed(self, now: float) -> float:
        """A send failed at ``now``: the delay before the next try."""
        self.failures += 1
        delay = self.backoff.next()
        self.retry_at = now + delay
        return delay

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER
