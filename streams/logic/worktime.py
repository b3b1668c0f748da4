"""Working time on the Chinese calendar: how long a case has, counted in the site's working hours.

    Clock (Protocol)   working_seconds(start_ts, end_ts), add_working(start_ts, seconds)
    ├── WallClock      every second counts (``WALL``)
    └── WorkClock      only ``site.working_hours`` (local, in ``site.timezone``) on working days

Working days come from ``chinese-calendar``: statutory holidays are off, make-up working days
(调休, e.g. a Saturday that is a working day) are on, other weekends are off. For a year the
library does not know yet, Monday to Friday are working days, with a warning logged once per
year (``WorkCalendar``); ``citywatch check`` names those years among the current and the next.

A category's SLA runs on the working clock or on the wall (``Category.clock_kind``):
``SlaClocks(cfg)`` gives each category its clock. Everything here is a function of its
arguments (and of the installed calendar), so deadlines stay functions of recorded event times.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import chinese_calendar

from streams.config.models import Category, ClockKind, Config
from streams.config.site import Site
from streams.config.timerange import parse_working_hours

logger = logging.getLogger(__name__)

MAX_DAYS_CACHED = 4096  # working intervals per clock, and day kinds per calendar, kept in memory
MAX_WARNED_YEARS = 256  # years the calendar has warned about (beyond it: warned again, never grown)
MAX_SEARCH_DAYS = 366 * 100  # add_working gives up past a century of days (an absurd sla_s)


class Clock(Protocol):
    def working_seconds(self, start_ts: float, end_ts: float) -> float:
        """Seconds of working time from ``start_ts`` to ``end_ts`` (negative when end is before start)."""
        ...

    def add_working(self, start_ts: float, seconds: float) -> float:
        """The earliest time at which ``seconds`` of working time have passed since ``start_ts``."""
        ...


class WallClock:
    """Every second counts: the clock of SLAs before working time existed."""

    def working_seconds(self, start_ts: float, end_ts: float) -> float:
        return end_ts - start_ts

    def add_working(self, start_ts: float, seconds: float) -> float:
        _check_seconds(seconds)
        return start_ts + seconds


WALL = WallClock()


class WorkCalendar:
    """Which local dates are working days, by ``chinese-calendar``; weekends only (and one
    warning per year) for a year it does not know."""

    def __init__(self) -> None:
        self._days: dict[date, bool] = {}
        self._warned: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            known = self._look_up(day)
            if len(self._days) >= MAX_DAYS_CACHED:
                self._days.clear()
            self._days[day] = known
        return known

    def _look_up(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError as exc:
            if day.year not in self._warned:
                if len(self._warned) >= MAX_WARNED_YEARS:
                    self._warned.clear()
                self._warned.add(day.year)
                logger.warning(
                    "working time: chinese-calendar %s has no holidays for %d (%s): counting Monday to "
                    "Friday as working days that year; upgrade chinese-calendar once the State Council "
                    "has published that year's holidays",
                    chinese_calendar.__version__,
                    day.year,
                    exc,
                )
            return day.weekday() < 5


CALENDAR = WorkCalendar()


def unknown_years(years: Iterable[int]) -> list[int]:
    """Those of ``years`` that chinese-calendar has no holidays for (weekends only there)."""
    out = []
    for year in years:
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            out.append(year)
    return out


def calendar_version() -> str:
    return str(chinese_calendar.__version__)


class WorkClock:
    """Working hours (``"HH:MM-HH:MM"`` ranges, local time in ``timezone``) on working days."""

    def __init__(
        self, working_hours: Sequence[str], timezone: str, calendar: WorkCalendar = CALENDAR
    ) -> None:
        self.ranges = parse_working_hours(working_hours)
        self.zone = ZoneInfo(timezone)
        self.calendar = calendar
        self._intervals: dict[date, tuple[tuple[float, float], ...]] = {}

    def working_seconds(self, start_ts: float, end_ts: float) -> float:
        if end_ts < start_ts:
            return -self.working_seconds(end_ts, start_ts)
        total = 0.0
        day, last = self._local_day(start_ts), self._local_day(end_ts)
        while day <= last:
            for begin, end in self.intervals(day):
                total += max(0.0, min(end, end_ts) - max(begin, start_ts))
            day += timedelta(days=1)
        return total

    def add_working(self, start_ts: float, seconds: float) -> float:
        _check_seconds(seconds)
        if seconds == 0:
            return start_ts
        left = seconds
        day = self._local_day(start_ts)
        for _ in range(MAX_SEARCH_DAYS):
            for begin, end in self.intervals(day):
                since = max(begin, start_ts)
                if end <= since:
                    continue
                if since + left <= end:
                    return since + left
                left -= end - since
            day += timedelta(days=1)
        raise ValueError(f"{seconds:g} s of working time do not end within a century: lower sla_s")

    def intervals(self, day: date) -> tuple[tuple[float, float], ...]:
        """The working intervals (start, end timestamps) of local date ``day``; none on a day off."""
        found = self._intervals.get(day)
        if found is None:
            found = ()
            if self.calendar.is_working_day(day):
                found = tuple((self._at(day, start), self._at(day, end)) for start, end in self.ranges)
            if len(self._intervals) >= MAX_DAYS_CACHED:
                self._intervals.clear()
            self._intervals[day] = found
        return found

    def _at(self, day: date, minute: int) -> float:
        if minute == 1440:  # 24:00 is the next day's midnight
            day, minute = day + timedelta(days=1), 0
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.zone)
        return local.timestamp()

    def _local_day(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()


def _check_seconds(seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"working time to add must be a finite number of seconds >= 0, not {seconds!r}")


def site_clock(site: Site, calendar: WorkCalendar = CALENDAR) -> WorkClock | WallClock:
    """The site's working clock: its working hours on the Chinese calendar, or the wall clock
    when ``site.working_hours`` is not set (the whole day, every day)."""
    if site.working_hours is None:
        return WALL
    return WorkClock(site.working_hours, site.timezone, calendar)


# the clock of a category the configuration does not name: the model's defaults decide
_DEFAULT_KIND: ClockKind = "working" if Category.model_fields["dispatch"].default else "wall"


class SlaClocks:
    """The SLA clock of each category of a configuration: the site's working clock or the wall."""

    def __init__(self, cfg: Config, calendar: WorkCalendar = CALENDAR) -> None:
        self.working = site_clock(cfg.site, calendar)
        self.kinds: dict[str, ClockKind] = {key: cat.clock_kind() for key, cat in cfg.categories.items()}

    def kind(self, category: str) -> ClockKind:
        return self.kinds.get(category, _DEFAULT_KIND)

    def of(self, category: str) -> WorkClock | WallClock:
        """The clock ``category``'s SLA is counted on."""
        return self.working if self.kind(category) == "working" else WALL

    def uses_calendar(self) -> bool:
        """Whether any category's SLA depends on the Chinese calendar."""
        return isinstance(self.working, WorkClock) and "working" in self.kinds.values()
