"""A category's warn_hours: the camera keeps watching at night, the loudspeaker speaks only in
those hours (local time of the site, from the event's own time), and outside them the incident
goes on as one of a category that does not warn (pure logic and configuration checks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from streams.config.models import Category
from streams.logic import incidents as inc
from streams.logic.incident_actions import outside_warn_hours

from ...config_support import camera, category, edit_sample, parse, problems_for, streams_site, to_yaml
from ...incident_support import violation

SHANGHAI = "Asia/Shanghai"


def local(text: str, tz: str = SHANGHAI) -> float:
    """Event time of the local wall time ``text`` (YYYY-MM-DDTHH:MM) at the site."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def lawn(**overrides: Any) -> Category:
    return Category(code="200601", name="践踏草坪", labels=["person"], **overrides)


# (warn_hours, local time, may warn): a day range, one over midnight, and no range at all
CASES = [
    ("07:00-21:00", "2026-05-26T06:59", False),
    ("07:00-21:00", "2026-05-26T07:00", True),
    ("07:00-21:00", "2026-05-26T12:30", True),
    ("07:00-21:00", "2026-05-26T20:59", True),
    ("07:00-21:00", "2026-05-26T21:00", False),  # the end is excluded
    ("07:00-21:00", "2026-05-26T23:45", False),
    ("07:00-21:00", "2026-05-27T03:00", False),
    ("21:00-02:00", "2026-05-26T20:59", False),
    ("21:00-02:00", "2026-05-26T21:00", True),
    ("21:00-02:00", "2026-05-26T23:59", True),
    ("21:00-02:00", "2026-05-27T00:00", True),
    ("21:00-02:00", "2026-05-27T01:59", True),
    ("21:00-02:00", "2026-05-27T02:00", False),
    ("21:00-02:00", "2026-05-27T12:00", False),
    ("00:00-24:00", "2026-05-27T00:00", True),
    ("00:00-24:00", "2026-05-27T23:59", True),
    (None, "2026-05-27T03:00", True),
]


@pytest.mark.parametrize(("hours", "when", "warns"), CASES, ids=[f"{c[0]}@{c[1][-5:]}" for c in CASES])
def test_warn_hours_table(hours: str | None, when: str, warns: bool) -> None:
    refusal = outside_warn_hours(lawn(warn_hours=hours), local(when), SHANGHAI)
    assert (refusal is None) is warns
    if not warns:
        assert refusal == f"outside the category's warning hours {hours}"


@pytest.mark.parametrize("day", ["2026-01-15", "2026-04-05", "2026-07-15", "2026-11-01"])
@pytest.mark.parametrize(("clock", "warns"), [("06:59", False), ("07:00", True), ("20:59", True)])
def test_shanghai_has_no_daylight_saving_so_the_edges_stay_put_all_year(
    day: str, clock: str, warns: bool
) -> None:
    at = local(f"{day}T{clock}")
    # the same UTC offset in winter and summer: 07:00 local is 23:00 UTC the day before
    assert datetime.fromtimestamp(at, ZoneInfo(SHANGHAI)).utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert (outside_warn_hours(lawn(warn_hours="07:00-21:00"), at, SHANGHAI) is None) is warns


def test_the_sites_timezone_decides_not_utc() -> None:
    # 23:00 UTC is 07:00 in Shanghai (warned) and 23:00 in London in winter (not warned)
    at = datetime.fromisoformat("2026-01-14T23:00+00:00").timestamp()
    cat = lawn(warn_hours="07:00-21:00")
    assert outside_warn_hours(cat, at, SHANGHAI) is None
    assert outside_warn_hours(cat, at, "Europe/London") is not None


# -- the incident lifecycle ------------------------------------------------------------------


def lawn_ctx(**overrides: Any) -> inc.ConfigIndex:
    """The streams district with cam-a's storefront counted as a lawn that warns 07:00-21:00."""
    site = streams_site()
    site["categories"]["out_of_store_business"] = category(
        "out_of_store_business", warn_hours="07:00-21:00", template="请勿践踏草坪，爱护绿地。", **overrides
    )
    return inc.ConfigIndex(parse(site))


def opened(ctx: inc.ConfigIndex, when: str, **kw: Any) -> tuple[inc.Book, inc.Incident, list[inc.Effect]]:
    book = inc.Book()
    at = local(when)
    seen = {"labels": ["bench"], "frames_seen": 8, "frames": 8}
    effects = violation(book, ctx, "started", at, since=at - 5, **seen, **kw)
    [incident] = book.open.values()
    return book, incident, effects


def warns(effects: list[inc.Effect]) -> list[dict[str, Any]]:
    return [e.value for e in effects if e.kind == "warn"]


# (local time of the sighting, warned): by day the loudspeaker is asked; at night nobody is
DAY_NIGHT = [
    ("2026-05-26T07:00", True),
    ("2026-05-26T14:00", True),
    ("2026-05-26T20:59", True),
    ("2026-05-26T21:00", False),
    ("2026-05-26T23:30", False),
    ("2026-05-27T03:10", False),
    ("2026-05-27T06:59", False),
]


@pytest.mark.parametrize(("when", "warned"), DAY_NIGHT, ids=[c[0][-5:] for c in DAY_NIGHT])
def test_an_incident_is_warned_by_day_and_not_at_night(when: str, warned: bool) -> None:
    ctx = lawn_ctx()
    _book, incident, effects = opened(ctx, when)
    assert incident.state == "open"  # it opens either way: the camera watches day and night
    if warned:
        [warn] = warns(effects)
        assert warn["text"] == "请勿践踏草坪，爱护绿地。" and warn["speaker_id"] == "spk-a"
        assert incident.warn_pending
    else:
        assert warns(effects) == [] and not incident.warn_pending and not incident.review
        assert incident.history[-1]["note"] == "no warning: outside the category's warning hours 07:00-21:00"


def test_at_night_grace_leads_to_dispatch_as_for_a_category_without_warnings() -> None:
    book, incident, _ = opened(lawn_ctx(), "2026-05-27T02:00")
    assert incident.grace_until is not None
    effects = inc.on_tick(book, lawn_ctx(), incident.grace_until + 1)
    assert [e.kind for e in effects].count("dispatch") == 1 and incident.state == "dispatched"
    assert incident.warnings == 0


def test_at_night_a_category_that_does_not_dispatch_only_notes_grace_over() -> None:
    ctx = lawn_ctx(dispatch=False)
    book, incident, _ = opened(ctx, "2026-05-27T02:00")
    assert incident.grace_until is not None
    effects = inc.on_tick(book, ctx, incident.grace_until + 1)
    assert "dispatch" not in [e.kind for e in effects] and incident.state == "open"
    assert incident.history[-1]["note"].startswith("grace over; this category is not dispatched")


def test_the_decision_is_the_event_times_so_a_replay_decides_the_same() -> None:
    ctx = lawn_ctx()
    runs = [opened(ctx, "2026-05-27T02:00")[2] for _ in range(2)]
    assert runs[0] == runs[1]


def test_an_operator_confirming_at_night_gets_no_warning_and_grace_starts_again() -> None:
    ctx = lawn_ctx()
    book = inc.Book()
    at = local("2026-05-26T20:30")
    violation(book, ctx, "started", at, since=at - 5, labels=["bench"], frames_seen=1, frames=8)
    [incident] = book.open.values()
    assert incident.review  # by day, seen too rarely: an operator decides
    assert incident.grace_until is not None
    inc.on_tick(book, ctx, incident.grace_until + 1)  # grace ran out under review
    assert incident.grace_until is None
    night = local("2026-05-26T22:00")
    effects = inc.on_operator(
        book, ctx, incident_id=incident.incident_id, action="confirm", at=night, by="zhang", reason=""
    )
    assert effects is not None and warns(effects) == []
    assert incident.history[-1]["note"] == (
        "confirmed by operator zhang; no warning: outside the category's warning hours 07:00-21:00"
    )
    grace = ctx.cfg.categories["out_of_store_business"].grace_s
    assert incident.grace_until == night + grace
    inc.on_tick(book, ctx, night + grace + 1)
    assert incident.state == "dispatched"


# -- configuration -------------------------------------------------------------------------


def messages(site: dict[str, Any]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems_for(to_yaml(site))]


def with_lawn(**fields: Any) -> dict[str, Any]:
    site = streams_site()
    site["categories"]["lawn"] = {"code": "200601", "name": "践踏草坪", "labels": ["person"], **fields}
    where = {"address": "和平路绿地"}
    site["cameras"].append(camera("cam-c", "lawn", "lawn", speaker="spk-a", location=where))
    return site


@pytest.mark.parametrize(
    ("fields", "path", "words"),
    [
        (
            {"warn_hours": "7-21"},
            "categories.lawn.warn_hours",
            "time range '7-21' is not HH:MM-HH:MM; write e.g. '08:00-22:00'",
        ),
        ({"warn_hours": "07:00-25:00"}, "categories.lawn.warn_hours", "end 25:00 is not a time of day"),
        ({"warn_hours": "07:00-07:00"}, "categories.lawn.warn_hours", "is empty (start equals end)"),
        (
            {"warn_hours": "07:00-21:00", "warn": False},
            "categories.lawn.warn_hours",
            "category lawn has warn_hours '07:00-21:00' but warn: false, so it never warns: remove "
            "warn_hours, or set warn: true",
        ),
        (
            {"warn_hours": "07:00-21:00", "active_hours": "22:00-06:00"},
            "categories.lawn.warn_hours",
            "category lawn warns only in 07:00-21:00, but camera cam-c zone lawn counts it only in "
            "22:00-06:00 (active_hours), wholly outside them",
        ),
    ],
    ids=["not a range", "not a time", "empty", "warn false", "never active then"],
)
def test_warn_hours_errors_name_the_key_and_the_fix(fields: dict[str, Any], path: str, words: str) -> None:
    found = messages(with_lawn(**fields))
    assert any(m.startswith(f"{path}: ") and words in m for m in found), found


def test_warn_hours_that_overlap_the_active_hours_pass() -> None:
    cfg = parse(with_lawn(warn_hours="21:00-02:00", active_hours="20:00-23:00"))
    assert cfg.categories["lawn"].warn_hours == "21:00-02:00"


def test_the_sample_lawn_category_warns_by_day_only(sample_config_text: str) -> None:
    text = edit_sample(sample_config_text, 'warn_hours: "07:00-21:00"', 'warn_hours: "7am-9pm"', "lawn")
    [problem] = [p for p in problems_for(text) if p.path == "categories.lawn_trampling.warn_hours"]
    assert problem.line == text.count("\n", 0, text.index("7am-9pm")) + 1
    assert "write e.g. '08:00-22:00'" in problem.message


def test_check_summary_shows_the_warning_hours(sample_config_text: str) -> None:
    from streams.commands.check import summary
    from streams.config import parse_config

    text = summary(parse_config(sample_config_text, "cameras.yaml"), "cameras.yaml")
    [lawn] = [line for line in text.splitlines() if " lawn_trampling " in line and "dwell" in line]
    assert lawn.endswith("warns 07:00-21:00")
    assert "cam-hp-01" in text and "lawn[lawn_trampling]" in text
    assert not any("warns" in line for line in text.splitlines() if " bike_parking " in line)
