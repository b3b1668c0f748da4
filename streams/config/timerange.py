"""Daily time ranges such as ``08:00-22:00`` or ``22:00-07:00`` (over midnight)."""

from __future__ import annotations

import re
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
