"""A sensor rule's sliding window with running aggregates: O(1) amortised per reading.

A ``Window`` holds the readings measured in (now - span_s, now] with a running sum
and monotonic queues for the max and min candidates, so mean / max / min / last
need no pass over the readings however many the window holds.
"""

from __future__ import annotations

import bisect
import math


def _compact(items: list[tuple[float, float]], head: int) -> int:
    """Drop the consumed front of ``items`` once it is most of the list (amortised O(1)); the new head."""
    if head > 64 and head * 2 > len(items):
        del items[:head]
        return 0
    return head


class Window:
    """The readings measured in (now - span_s, now], with a running sum and the max / min candidates.

    Lists with a head offset stand in for deques, so that a late reading (older than
    the newest) can be placed by binary search. ``hi`` keeps, in time order, each
    reading no later reading equals or exceeds (its values fall), ``lo`` the same for
    the minimum: their first live entry is the window's max / min.
    """

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self._items: list[tuple[float, float]] = []
        self._head = 0
        self._hi: list[tuple[float, float]] = []
        self._hi_head = 0
        self._lo: list[tuple[float, float]] = []
        self._lo_head = 0
        self._sum = 0.0
        self._changes = 0  # additions and removals since the sum was last computed exactly

    def __len__(self) -> int:
        return len(self._items) - self._head

    def items(self) -> list[tuple[float, float]]:
        return self._items[self._head :]

    def oldest(self) -> float | None:
        return self._items[self._head][0] if len(self) else None

    def _find(self, t: float) -> int:
        return bisect.bisect_left(self._items, (t, -math.inf), lo=self._head)

    def contains(self, t: float) -> bool:
        i = self._find(t)
        return i < len(self._items) and self._items[i][0] == t

    def count_after(self, cut: float) -> int:
        """How many readings were measured after ``cut``."""
        return len(self._items) - bisect.bisect_right(self._items, (cut, math.inf), lo=self._head)

    def add(self, t: float, value: float, now: float) -> None:
        """Take a reading measured at ``t`` (not after ``now``), then slide the window to ``now``."""
        if t > now - self.span_s:
            if not len(self) or self._items[-1][0] < t:
                self._items.append((t, value))
            else:
                self._items.insert(self._find(t), (t, value))
            self._sum += value
            self._changes += 1
            self._hi_head = _push(self._hi, self._hi_head, t, value, keep_larger=True)
            self._lo_head = _push(self._lo, self._lo_head, t, value, keep_larger=False)
        self.slide(now)

    def slide(self, now: float) -> None:
        """Let every reading measured at or before ``now - span_s`` leave the window."""
        cut = now - self.span_s
        items = self._items
        while self._head < len(items) and items[self._head][0] <= cut:
            self._sum -= items[self._head][1]
            self._head += 1
            self._changes += 1
        while self._hi_head < len(self._hi) and self._hi[self._hi_head][0] <= cut:
            self._hi_head += 1
        while self._lo_head < len(self._lo) and self._lo[self._lo_head][0] <= cut:
            self._lo_head += 1
        self._tidy()

    def _tidy(self) -> None:
        self._head = _compact(self._items, self._head)
        self._hi_head = _compact(self._hi, self._hi_head)
        self._lo_head = _compact(self._lo, self._lo_head)
        if not len(self):
            self._sum, self._changes = 0.0, 0
        elif self._changes > 2 * len(self) + 64:  # running sums drift: recompute now and then
            self._sum = math.fsum(v for _, v in self._items[self._head :])
            self._changes = 0

    def aggregate(self, how: str) -> tuple[float | None, int]:
        """The aggregate (mean / max / min / last) of the readings in the window, and how many there are."""
        n = len(self)
        if not n:
            return None, 0
        if how == "mean":
            return self._sum / n, n
        if how == "max":
            return self._hi[self._hi_head][1], n
        if how == "min":
            return self._lo[self._lo_head][1], n
        return self._items[-1][1], n

    @classmethod
    def of(cls, span_s: float, samples: list[tuple[float, float]], now: float) -> Window:
        window = cls(span_s)
        for t, v in sorted(samples):
            window.add(t, v, now)
        return window


def _push(queue: list[tuple[float, float]], head: int, t: float, value: float, *, keep_larger: bool) -> int:
    """Place a reading in a max (``keep_larger``) or min queue; return the queue's head."""
    if head < len(queue) and queue[-1][0] >= t:  # a late reading: after it, only later readings
        p = bisect.bisect_left(queue, (t, -math.inf), lo=head)
    else:
        p = len(queue)
    if p < len(queue):
        later = queue[p][1]
        if (later >= value) if keep_larger else (later <= value):
            return head  # a later reading is as extreme: this one can never be the answer
    j = p
    while j > head and ((value >= queue[j - 1][1]) if keep_larger else (value <= queue[j - 1][1])):
        j -= 1
    queue[j:p] = [(t, value)]
    return head
