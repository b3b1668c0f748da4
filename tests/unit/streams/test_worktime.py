"""Working time on the Chinese calendar (streams/logic/worktime.py), its configuration, and the
due times of the incident logic that use it. Holidays and make-up days are read from
chinese-calendar itself, never typed here."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.commands.check import calendar_warnings, summary
from streams.config.site import Site
from streams.contract.timeutil import from_iso, to_iso
from streams.logic import incidents as inc
from streams.logic.worktime import WALL, SlaClocks, WorkCalendar, WorkClock, site_clock, unknown_years

from ...config_support import category, parse, problems_for, streams_site, to_yaml

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = ["08:30-12:00", "14:30-18:00"]  # 7 working hours a day
DAY_S = 7 * 3600.0
CLOCK = WorkClock(HOURS, "Asia/Shanghai")


def local(text: str) -> float:
    """A local time in Shanghai, "2026-09-30 17:00", as a timestamp."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def shown(ts: float) -> str:
    return datetime.fromtimestamp(ts, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def at_local(day: date, hhmm: str) -> float:
    return local(f"{day.isoformat()} {hhmm}")


# -- 国庆 2026 ---------------------------------------------------------------------------------


def national_day_2026() -> tuple[list[date], list[date]]:
    """The National Day holidays of 2026 and its make-up working weekend days, from the library."""
    around = [date(2026, 9, 14) + timedelta(days=i) for i in range(35)]
    off = [d for d in around if chinese_calendar.get_holiday_detail(d) == (True, "National Day")]
    make_up = [
        d for d in chinese_calendar.get_workdays(around[0], around[-1]) if d.weekday() >= 5
    ]  # 调休: weekend days that are working days
    return off, make_up


def test_the_national_day_holidays_are_off_and_their_make_up_weekend_days_are_on() -> None:
    off, make_up = national_day_2026()
    assert off == [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]  # as the brief says: Oct 1-7
    assert make_up and all(d.weekday() >= 5 for d in make_up)
    for day in off:
        assert CLOCK.working_seconds(at_local(day, "00:00"), at_local(day + timedelta(days=1), "00:00")) == 0
    for day in make_up:  # a Saturday or Sunday that is a working day counts in full
        assert CLOCK.working_seconds(at_local(day, "00:00"), at_local(day, "23:59")) == DAY_S
    ordinary_weekend = date(2026, 10, 17)
    assert ordinary_weekend.weekday() == 5 and ordinary_weekend not in make_up
    assert CLOCK.intervals(ordinary_weekend) == ()


def test_a_case_due_across_the_national_day_holidays_waits_for_the_first_working_day() -> None:
    off, make_up = national_day_2026()
    eve = off[0] - timedelta(days=1)
    first_back = chinese_calendar.find_workday(1, eve)  # the first working day after the eve
    assert first_back > off[-1]
    start = at_local(eve, "17:00")  # one working hour left that day
    due = CLOCK.add_working(start, 3 * 3600)
    assert shown(due) == f"{first_back.isoformat()} 10:30"
    assert CLOCK.working_seconds(start, due) == 3 * 3600
    # over the whole stretch: the eve's last hour, then every working day up to the make-up Saturday
    later = make_up[-1]
    span_days = [d for d in chinese_calendar.get_workdays(first_back, later - timedelta(days=1))]
    expected = 3600 + len(span_days) * DAY_S + 1.5 * 3600  # and 08:30-10:00 of the make-up day
    assert CLOCK.working_seconds(start, at_local(later, "10:00")) == expected


# -- within a day and over a weekend ---------------------------------------------------------


def test_the_lunch_break_does_not_count() -> None:
    start = local("2026-11-25 11:30")  # a Wednesday
    assert shown(CLOCK.add_working(start, 3600)) == "2026-11-25 15:00"
    assert CLOCK.working_seconds(local("2026-11-25 11:00"), local("2026-11-25 15:00")) == 1.5 * 3600
    assert CLOCK.working_seconds(local("2026-11-25 12:10"), local("2026-11-25 14:20")) == 0
    # due exactly at the end of the morning, not after the break
    assert shown(CLOCK.add_working(start, 1800)) == "2026-11-25 12:00"
    assert shown(CLOCK.add_working(local("2026-11-25 12:30"), 60)) == "2026-11-25 14:31"


def test_a_case_dispatched_on_friday_evening_is_due_the_next_working_morning() -> None:
    friday = date(2026, 11, 27)
    assert friday.weekday() == 4
    monday = chinese_calendar.find_workday(1, friday)
    start = at_local(friday, "19:00")
    due = CLOCK.add_working(start, 3600)
    assert shown(due) == f"{monday.isoformat()} 09:30"
    assert CLOCK.working_seconds(start, due) == 3600
    assert CLOCK.working_seconds(due, start) == -3600  # signed: from a later time back to an earlier


def test_adding_no_time_is_the_start_and_a_negative_or_endless_time_is_refused() -> None:
    start = local("2026-11-28 03:00")
    assert CLOCK.add_working(start, 0) == start
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="finite number of seconds"):
            CLOCK.add_working(start, bad)
        with pytest.raises(ValueError, match="finite number of seconds"):
            WALL.add_working(start, bad)


@given(
    start=st.floats(
        min_value=from_iso("2025-01-01T00:00:00.000Z"), max_value=from_iso("2026-12-31T00:00:00.000Z")
    ),
    seconds=st.floats(min_value=0, max_value=40 * DAY_S),
)
def test_working_time_added_is_working_time_counted(start: float, seconds: float) -> None:
    due = CLOCK.add_working(start, seconds)
    assert due >= start
    assert CLOCK.working_seconds(start, due) == pytest.approx(seconds, abs=1e-3)
    assert CLOCK.working_seconds(start, due - 1) < seconds or seconds == 0  # the earliest such time


def test_the_wall_clock_counts_every_second() -> None:
    start = local("2026-10-01 09:00")
    assert WALL.add_working(start, 90) == start + 90
    assert WALL.working_seconds(start, start + 90) == 90
    assert WALL.working_seconds(start + 90, start) == -90


# -- a year chinese-calendar does not know --------------------------------------------------


def test_a_year_the_calendar_does_not_know_counts_weekends_only_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [year] = unknown_years([2099])
    assert unknown_years([2026]) == []
    clock = WorkClock(HOURS, "Asia/Shanghai", WorkCalendar())
    oct1 = date(year, 10, 1)
    monday = oct1 + timedelta(days=(7 - oct1.weekday()) % 7)  # the first Monday of October
    with caplog.at_level(logging.WARNING, logger="streams.logic.worktime"):
        week = clock.working_seconds(at_local(monday, "00:00"), at_local(monday + timedelta(days=7), "00:00"))
        friday_evening = at_local(monday + timedelta(days=4), "19:00")
        due = clock.add_working(friday_evening, 3600)
        clock.working_seconds(at_local(date(year, 1, 1), "00:00"), at_local(date(year, 12, 31), "00:00"))
    assert week == 5 * DAY_S  # Monday to Friday, whatever the holidays will be
    assert shown(due) == f"{(monday + timedelta(days=7)).isoformat()} 09:30"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(year) in warnings[0].getMessage()
    assert "Monday to Friday" in warnings[0].getMessage()


def test_check_warns_about_the_current_or_next_year_the_calendar_does_not_know() -> None:
    cfg = parse(working_site())
    last_known = max(y for y in range(2020, 2100) if not unknown_years([y]))
    [warning] = calendar_warnings(cfg, local(f"{last_known}-06-01 12:00"))
    assert f"no holidays for {last_known + 1}" in warning and "pip install -U chinese-calendar" in warning
    assert calendar_warnings(cfg, local(f"{last_known - 1}-06-01 12:00")) == []
    # no working hours: nothing counts on the calendar, nothing to warn about
    assert calendar_warnings(parse(streams_site()), local(f"{last_known}-06-01 12:00")) == []
    text = summary(cfg, "cameras.yaml")
    assert "working   08:30-12:00, 14:30-18:00 on working days of the Chinese calendar" in text
    assert "SLA 60 min (working)" in text


# -- configuration ---------------------------------------------------------------------------


def working_site(**cats: dict[str, Any]) -> dict[str, Any]:
    """The streams district with working hours and a 1-hour SLA on out_of_store_business."""
    site = streams_site()
    site["site"]["working_hours"] = list(HOURS)
    site["categories"]["out_of_store_business"] = category("out_of_store_business", sla_s=3600, warn=False)
    site["categories"].update(cats)
    return site


def test_without_working_hours_every_category_runs_on_the_wall_clock() -> None:
    cfg = parse(streams_site())
    assert cfg.site.working_hours is None and site_clock(cfg.site) is WALL
    clocks = SlaClocks(cfg)
    assert all(clocks.of(key) is WALL for key in (*cfg.categories, "not_configured"))
    assert not clocks.uses_calendar()


def test_a_dispatching_category_counts_working_time_unless_it_says_wall() -> None:
    cfg = parse(
        working_site(
            illegal_parking=category("illegal_parking", sla_clock="wall"),
            noise=category("illegal_parking", dispatch=False),
            lawn=category("illegal_parking", dispatch=False, sla_clock="working"),
        )
    )
    clocks = SlaClocks(cfg)
    assert {key: clocks.kind(key) for key in cfg.categories} == {
        "out_of_store_business": "working",
        "illegal_parking": "wall",
        "noise": "wall",
        "lawn": "working",
    }
    assert isinstance(clocks.of("out_of_store_business"), WorkClock) and clocks.of("noise") is WALL
    assert clocks.kind("not_configured") == "working"  # a category's default: it dispatches
    assert clocks.uses_calendar()


@pytest.mark.parametrize(
    ("hours", "path", "words"),
    [
        ([], "site.working_hours", "working_hours is empty: leave it out"),
        (["08:30-1200"], "site.working_hours[0]", "is not HH:MM-HH:MM"),
        (["08:30-12:60"], "site.working_hours[0]", "not a time of day"),
        (["08:30-12:00", "11:30-18:00"], "site.working_hours", "[1] '11:30-18:00' overlaps working_hours[0]"),
        (["14:30-18:00", "08:30-12:00"], "site.working_hours", "[1] '08:30-12:00' comes before"),
        (["22:00-06:00"], "site.working_hours", "runs over midnight"),
        ("08:30-12:00", "site.working_hours", "write ['08:30-12:00']"),
    ],
)
def test_bad_working_hours_are_refused_with_the_fix(hours: Any, path: str, words: str) -> None:
    site = streams_site()
    site["site"]["working_hours"] = hours
    text = to_yaml(site)
    [problem] = problems_for(text)
    assert problem.path == path and words in problem.message
    needle = hours[0] if path.endswith("[0]") else "working_hours"  # an item's error is on its own line
    assert problem.line == 1 + next(i for i, line in enumerate(text.splitlines()) if needle in line)


def test_a_bad_sla_clock_names_the_choices() -> None:
    site = working_site(illegal_parking=category("illegal_parking", sla_clock="office"))
    [problem] = problems_for(to_yaml(site))
    assert problem.path == "categories.illegal_parking.sla_clock" and "'working' or 'wall'" in problem.message


def test_touching_ranges_and_a_whole_working_day_are_fine() -> None:
    assert Site(name="t", working_hours=["08:00-12:00", "12:00-24:00"]).working_hours is not None
    clock = WorkClock(["00:00-24:00"], "Asia/Shanghai")
    friday = date(2026, 11, 27)
    assert (
        clock.working_seconds(at_local(friday, "00:00"), at_local(friday + timedelta(days=3), "00:00"))
        == 86400
    )


# -- the incident logic's due times ----------------------------------------------------------

FRIDAY_EVENING = local("2026-11-27 19:00")


def friday_case(ctx: inc.ConfigIndex) -> inc.Book:
    """out_of_store_business (no warning, grace 3 s) seen Friday 19:00 and dispatched 3 s later."""
    book = inc.Book()
    kw: dict[str, Any] = {"camera_id": "cam-a", "zone_id": "storefront", "category": "out_of_store_business"}
    inc.on_violation(book, ctx, **kw, state="started", since=FRIDAY_EVENING, at=FRIDAY_EVENING)
    inc.on_tick(book, ctx, FRIDAY_EVENING + 3)
    [incident] = book.open.values()
    assert incident.state == "dispatched"
    return book


def test_a_case_is_due_and_goes_overdue_in_working_time() -> None:
    ctx = inc.ConfigIndex(parse(working_site()))
    book = friday_case(ctx)
    [incident] = book.open.values()
    assert incident.due_at is not None and shown(incident.due_at) == "2026-11-30 09:30"
    # the wall-clock hour has long passed by Saturday noon: nothing is overdue over the weekend
    assert inc.on_tick(book, ctx, local("2026-11-28 12:00")) == []
    assert inc.on_tick(book, ctx, local("2026-11-30 09:29")) == []
    effects = inc.on_tick(book, ctx, local("2026-11-30 12:00"))
    overdue = next(e for e in effects if e.kind == "alert").value
    assert overdue["state"] == "overdue" and overdue["history"][-1]["at"] == to_iso(local("2026-11-30 09:30"))
    [case] = [e.value for e in effects if e.kind == "dispatch"]  # escalated, with a new working hour
    assert case["unit_id"] == "unit-d" and case["due_at"] == to_iso(local("2026-11-30 10:30"))


def test_a_wall_clock_category_is_due_an_hour_later_whatever_the_day() -> None:
    site = working_site()
    site["categories"]["out_of_store_business"]["sla_clock"] = "wall"
    ctx = inc.ConfigIndex(parse(site))
    [incident] = friday_case(ctx).open.values()
    assert incident.due_at == FRIDAY_EVENING + 3 + 3600
