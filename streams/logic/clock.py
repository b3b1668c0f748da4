"""Event time against the wall clock.

Every key (camera, sensor, case, speaker) keeps its own event clock in its table
value (``incidents.Book.clock``, ``policy.SpeakerState.clock``); this module
holds what they share: refusing inputs dated too far ahead of the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KeyClock:
    """One key's event clock: the newest event time of its inputs, and the wall-clock time
    at which it was seen (so a silent key's deadlines still fire, also after a restart)."""

    clock: float | None = None
    clock_wall: float = 0.0

    def observe(self, event_time: float, wall: float) -> float:
        """Move the clock to ``event_time`` if it is newer; return the clock."""
        if self.clock is None or event_time > self.clock:
            self.clock = event_time
            # an event dated ahead of the wall clock starts advancing once the wall reaches it
            self.clock_wall = max(wall, event_time)
        return self.clock

    def now(self, wall: float, lateness_s: float = 0.0) -> float | None:
        """This key's estimated event time at wall-clock ``wall``.

        Event time advances with the wall clock only once the key has been silent for
        ``lateness_s``: until then a deadline waits for the inputs still on their way,
        so a tick never decides with what the stream has not delivered yet.
        """
        if self.clock is None:
            return None
        return self.clock + max(0.0, wall - self.clock_wall - lateness_s)


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
