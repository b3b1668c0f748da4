"""Daily time ranges such as ``08:00-22:00`` or ``22:00-07:00`` (over midnight)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@lru_cache(maxsize=256)
def parse_range(text: str) -> tuple[int, int]:
    """Return (start, end) in minutes of the day; end may be 1440 (24:00)."""
    m = _RANGE.match(text)
    if not m:
        raise ValueError(
            f"time range {text!r} is not HH:MM-HH:MM; write e.g. '08:00-22:00' "
            "(or '22:00-07:00' for a range over midnight)"
        )
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mm, what in ((h1, m1, "start"), (h2, m2, "end")):
        if mm > 59 or h > 24 or (h == 24 and mm):
            raise ValueError(
                f"time range {text!r}: {what} {h:02d}:{mm:02d} is not a time of day "
                "(hours 00-24, minutes 00-59)"
            )
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == 1440:
        raise ValueError(f"time range {text!r} starts at 24:00; start at 00:00 instead")
    if start == end:
        raise ValueError(f"time range {text!r} is empty (start equals end); use '00:00-24:00' for all day")
    return start, end


def in_range(text: str, minute_of_day: int) -> bool:
    """Whether ``minute_of_day`` (0..1439) falls in the range (end excluded)."""
    start, end = parse_range(text)
    if start < end:
        return start <= minute_of_day < end
    return minute_of_day >= start or minute_of_day < end


def check_range(text: str) -> str:
    parse_range(text)
    return text


def parse_working_hours(ranges: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """The (start, end) minutes of the day of a site's working hours, checked: at least one range,
    each within the day (no range over midnight), in the order of the day and not overlapping."""
    if not ranges:
        raise ValueError(
            "working_hours is empty: leave it out to count the whole day (the wall clock), or list "
            "ranges such as ['08:30-12:00', '14:30-18:00']"
        )
    parsed: list[tuple[int, int]] = []
    for i, text in enumerate(ranges):
        start, end = parse_range(text)
        if end < start:
            raise ValueError(
                f"working_hours[{i}] {text!r} runs over midnight: a working-hours range lies within one "
                "day; split it in two: '00:00-06:00' first and '22:00-24:00' last"
            )
        if parsed and start < parsed[-1][1]:
            before = ranges[i - 1]
            what = "overlaps" if start >= parsed[-1][0] else "comes before"
            raise ValueError(
                f"working_hours[{i}] {text!r} {what} working_hours[{i - 1}] {before!r}: list the ranges "
                "in the order of the day, each starting at or after the end of the one before"
            )
        parsed.append((start, end))
    return tuple(parsed)


def working_hours_list(value: object) -> object:
    """A single range where a list of them belongs gets an error that shows the list."""
    if isinstance(value, str):
        raise ValueError(
            f"working_hours is a list of ranges: write [{value!r}] (more ranges: comma-separated)"
        )
    return value


def check_working_hours(ranges: list[str]) -> list[str]:
    parse_working_hours(ranges)
    return ranges
