"""Capped exponential backoff, the one retry policy: the camera readers' reconnects,
the detector publisher's retries and the speaker drivers' attempts all wait by it.

    Backoff(initial=0.5, factor=2, cap=30): 0.5, 1, 2, 4, ... 30, 30; ``reset`` after a success
"""

from __future__ import annotations

import math


class Backoff:
    """Capped exponential backoff: initial, initial*factor, ... up to cap; ``reset`` after success."""

    def __init__(self, initial: float = 0.5, factor: float = 2.0, cap: float = 30.0) -> None:
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def doubling(initial: float) -> Backoff:
    """initial, 2*initial, 4*initial, ... without a cap (the retry count bounds it)."""
    return Backoff(initial, 2.0, math.inf)
