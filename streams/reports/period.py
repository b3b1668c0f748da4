"""The period of a report, ``[from, to)``, read in the site's timezone, and its local days.

A date (``2026-05-01``) is local midnight; a time without an offset (``2026-05-01T08:30``) is
local too; one with an offset or ``Z`` is taken as given. ``from`` must come before ``to``, and a
period is at most ``MAX_DAYS`` long (a report holds every case of its period in memory).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from streams.contract.errors import ReportError
from streams.contract.timeutil import to_iso

MAX_DAYS = 400
BREAKDOWNS: tuple[str, ...] = ("unit", "grid", "category", "camera", "speaker", "day")
FORMS = "a date (2026-05-01), a local time (2026-05-01T08:30) or a time with an offset (…Z, …+08:00)"


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Period:
    start: float  # epoch seconds, included
    end: float  # epoch seconds, excluded
    timezone: str = "Asia/Shanghai"

    @property
    def start_iso(self) -> str:
        """The start as the case record stores times (they compare as text)."""
        return to_iso(self.start)

    @property
    def end_iso(self) -> str:
        return to_iso(self.end)

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, _zone(self.timezone))

    def day_of(self, t: float) -> str:
        """The local date of ``t``, ``YYYY-MM-DD``."""
        starts, days = _midnights(self.start, self.end, self.timezone)
        i = bisect_right(starts, t) - 1
        if 0 <= i < len(days) and t < self.end:
            return days[i]
        return self.local(t).date().isoformat()

    def day_bounds(self, start: float, end: float) -> list[tuple[str, float, float]]:
        """``[start, end)`` cut at local midnights: (day, from, to) of each piece."""
        out: list[tuple[str, float, float]] = []
        t = start
        while t < end:
            day = self.local(t).date()
            midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), _zone(self.timezone))
            cut = min(end, midnight.timestamp())
            out.append((day.isoformat(), t, cut))
            t = cut
        return out

    def describe(self) -> dict[str, str]:
        return {
            "from": self.local(self.start).isoformat(),
            "to": self.local(self.end).isoformat(),
            "timezone": self.timezone,
        }


@lru_cache(maxsize=16)
def _midnights(start: float, end: float, timezone: str) -> tuple[list[float], list[str]]:
    """The local days of ``[start, end)``: when each begins (the first: ``start``) and its date."""
    pieces = Period(start, end, timezone).day_bounds(start, end)
    return [a for _, a, _ in pieces], [day for day, _, _ in pieces]


def parse_moment(text: str, timezone: str, name: str) -> float:
    """``text`` as epoch seconds; ``ReportError`` naming the option and the accepted forms."""
    value = (text or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, datetime.min.time(), _zone(timezone))
        else:
            moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_zone(timezone))
        return moment.astimezone(UTC).timestamp()
    except (ValueError, OverflowError):
        raise ReportError(f"{name} {text!r} is not a date or time: give {FORMS}") from None


def parse_period(start: str, end: str, timezone: str) -> Period:
    """The period ``[start, end)``; ``ReportError`` for a bad date, from >= to or too long a period."""
    if not start or not end:
        raise ReportError(f"give both from and to: {FORMS}")
    begin, finish = parse_moment(start, timezone, "from"), parse_moment(end, timezone, "to")
    if begin >= finish:
        raise ReportError(f"from {start} is not before to {end}: the period is [from, to), to excluded")
    if finish - begin > MAX_DAYS * 86_400:
        raise ReportError(f"the period {start} .. {end} is longer than {MAX_DAYS} days: report it in parts")
    return Period(begin, finish, timezone)


def check_breakdown(by: str | None) -> str | None:
    """``by`` itself when it names a breakdown (or is None); ``ReportError`` naming the choices."""
    if by in (None, ""):
        return None
    if by not in BREAKDOWNS:
        raise ReportError(f"cannot break a report down by {by!r}: use one of {', '.join(BREAKDOWNS)}")
    return by
