"""Event time against the wall clock.

Every key (camera, sensor, case, speaker) keeps its own event clock in its table
value (``incidents.Book.clock``, ``policy.SpeakerState.clock``); this module
holds what they share: refusing inputs dated too far ahead of the wall clock.
"""

from __future__ import annotations


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
