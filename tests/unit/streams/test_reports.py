"""The KPIs of the case record, each on a day made by the real incident logic and written through
the store's own writer: a closed loop, a reopened case, an escalated one, one resolved after its
due time, warnings that worked and one that cleared before it played, a camera outage across
midnight, and an empty period."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from streams.contract.errors import ReportError
from streams.reports.period import parse_period
from streams.reports.report import kpi_report

from ...reports_support import DAY, T0, District, fresh_engine, history, reports_config

CFG = reports_config()
LATER = T0 + 7 * 86_400  # "now" for the reports: everything has happened


def report(engine: Engine, by: str | None = None, day: tuple[str, str] = DAY) -> dict[str, Any]:
    return kpi_report(engine, parse_period(*day, "Asia/Shanghai"), by, CFG, now=LATER)


def stored(tmp_path: Path, district: District) -> Engine:
    engine = fresh_engine(tmp_path / "record.db")
    district.store(engine)
    return engine


def dispatched(d: District, at: float, camera: str = "cam-b") -> str:
    """A violation warned at ``at + 0.5`` (played at + 1) and still there after grace: dispatched."""
    iid = d.seen(at, camera=camera)
    d.warned(iid, at + 0.5, played=at + 1)
    d.tick(at + 4)  # grace 3 s after the warning
    assert d.case_of(iid)[1] == "unit-a", history(d, iid)
    return iid


def closed_loop(d: District, iid: str, at: float, camera: str = "cam-b") -> None:
    """accepted, arrived, resolved, camera sees it clear, verified and closed."""
    d.update(iid, "accepted", at)
    d.update(iid, "arrived", at + 5)
    d.update(iid, "resolved", at + 8)
    d.seen(at + 9, "cleared", camera=camera)
    d.tick(at + 12)


def test_a_closed_loop_is_dispatched_closed_on_time_with_its_times(tmp_path: Path) -> None:
    d = District()
    iid = dispatched(d, T0 + 10)  # dispatched at 13.5
    closed_loop(d, iid, T0 + 20)
    total = report(stored(tmp_path, d))["total"]
    assert (total["cases_dispatched"], total["cases_closed"], total["close_rate"]) == (1, 1, 1.0)
    assert (total["cases_on_time"], total["on_time_rate"], total["rework_rate"]) == (1, 1.0, 0.0)
    assert total["overdue"] == {"cases": 0, "escalations": {}}
    assert total["dispatch_to_accept"]["wall"] == {"median_s": 6.5, "p90_s": 6.5}
    assert total["dispatch_to_arrive"]["wall"]["median_s"] == 11.5
    assert total["dispatch_to_resolve"]["wall"]["median_s"] == 14.5
    assert total["open_to_close"] == {"n": 1, "wall": {"median_s": 21.0, "p90_s": 21.0},
                                      "working": {"median_s": 21.0, "p90_s": 21.0}}  # fmt: skip


def test_a_reopened_case_counts_once_with_its_rework(tmp_path: Path) -> None:
    d = District()
    iid = dispatched(d, T0 + 10)
    d.update(iid, "accepted", T0 + 20)
    d.update(iid, "resolved", T0 + 28)
    d.seen(T0 + 29, "ongoing", camera="cam-b")  # still there after the resolve
    d.tick(T0 + 32)  # verification over: reopened, dispatched again
    assert "reopened" in [s for _, s, _ in history(d, iid)]
    closed_loop(d, iid, T0 + 35)
    total = report(stored(tmp_path, d))["total"]
    assert (total["cases_dispatched"], total["cases_resolved"], total["cases_reopened"]) == (1, 1, 1)
    assert total["rework_rate"] == 1.0 and total["cases_closed"] == 1
    assert total["dispatch_to_resolve"]["wall"]["median_s"] == 28 - 13.5  # the first resolve


def test_an_escalated_case_is_overdue_not_on_time_and_stays_with_its_first_unit(tmp_path: Path) -> None:
    d = District()
    iid = dispatched(d, T0 + 10)  # due at 43.5
    d.tick(T0 + 44)  # overdue: escalated to unit-d (district)
    assert d.case_of(iid)[1] == "unit-d"
    closed_loop(d, iid, T0 + 50)
    r = report(stored(tmp_path, d), by="unit")
    assert r["total"]["overdue"] == {"cases": 1, "escalations": {"district": 1}}
    assert (r["total"]["cases_closed"], r["total"]["cases_on_time"]) == (1, 0)
    assert [(g["unit"], g["cases_dispatched"]) for g in r["groups"]] == [("unit-a", 1)]


def test_a_case_resolved_after_its_due_time_is_not_on_time(tmp_path: Path) -> None:
    d = District()
    iid = dispatched(d, T0 + 10)  # due at 43.5
    d.update(iid, "accepted", T0 + 20)
    d.update(iid, "arrived", T0 + 25)  # arrival stops the due clock: never overdue
    d.update(iid, "resolved", T0 + 50)
    d.seen(T0 + 51, "cleared", camera="cam-b")
    d.tick(T0 + 54)
    total = report(stored(tmp_path, d))["total"]
    assert (total["cases_closed"], total["overdue"]["cases"], total["cases_on_time"]) == (1, 0, 0)
    assert total["on_time_rate"] == 0.0


def test_a_warning_works_only_when_the_zone_clears_after_it_played(tmp_path: Path) -> None:
    d = District()
    worked = d.seen(T0)
    d.warned(worked, T0 + 0.5, played=T0 + 1)
    d.seen(T0 + 2, "cleared")
    early = d.seen(T0 + 100)
    d.warned(early, T0 + 100.5, played=T0 + 102)
    d.seen(T0 + 101, "cleared")  # before the loudspeaker played
    pending = d.seen(T0 + 200)
    d.seen(T0 + 200.2, "cleared")  # before the policy even answered: applied on its answer
    d.warned(pending, T0 + 200.5, played=T0 + 201)
    silent = d.seen(T0 + 300)
    d.warned(silent, T0 + 300.5, played=T0 + 301, status="failed")
    d.seen(T0 + 302, "cleared")
    for iid in (worked, early, pending, silent):
        assert history(d, iid)[-1][2] == "the warning worked", history(d, iid)
    total = report(stored(tmp_path, d))["total"]
    assert (total["incidents_warned"], total["warnings_effective"]) == (4, 1)
    assert total["warning_effectiveness"] == 0.25
    assert total["cases_dispatched"] == 0 and total["close_rate"] is None


def test_warning_effectiveness_per_loudspeaker(tmp_path: Path) -> None:
    d = District()
    worked = d.seen(T0)
    d.warned(worked, T0 + 0.5, played=T0 + 1, speaker="spk-b")
    d.seen(T0 + 2, "cleared")
    failed = d.seen(T0 + 100)
    d.warned(failed, T0 + 100.5, played=T0 + 101, status="failed", speaker="spk-b")
    d.seen(T0 + 102, "cleared")  # cleared, but the loudspeaker never played
    ignored = d.seen(T0 + 200, camera="cam-b")
    d.warned(ignored, T0 + 200.5, played=T0 + 201, speaker="spk-a")
    d.suppressed(T0 + 300, "quiet hours 22:00-07:00")  # an operator's, at spk-a
    r = report(stored(tmp_path, d), by="speaker")
    groups = {g["speaker"]: g for g in r["groups"]}
    assert sorted(groups) == ["spk-a", "spk-b"]
    b, a = groups["spk-b"], groups["spk-a"]
    assert (b["incidents_warned"], b["warnings_effective"], b["warning_effectiveness"]) == (2, 1, 0.5)
    assert (a["incidents_warned"], a["warnings_effective"], a["warning_effectiveness"]) == (1, 0, 0.0)
    assert a["broadcasts"] == {"sent": {"within policy": 1}, "suppressed": {"quiet hours": 1}}
    assert b["broadcasts"] == {"sent": {"within policy": 2}}
    assert (b["cases_dispatched"], a["cases_dispatched"]) == (0, 0)  # a case has no loudspeaker
    assert r["total"]["incidents_warned"] == 3 and r["total"]["warnings_effective"] == 1


def test_broadcasts_count_by_decision_and_reason(tmp_path: Path) -> None:
    d = District()
    d.warned(d.seen(T0), T0 + 0.5, played=T0 + 1)
    d.suppressed(T0 + 5, "quiet hours 22:00-07:00")
    d.suppressed(T0 + 6, "rate limit: last broadcast 3s ago, minimum interval 60s")
    d.suppressed(T0 + 7, "rate limit: 20 broadcasts in the last hour")
    r = report(stored(tmp_path, d), by="camera")
    assert r["total"]["broadcasts"] == {
        "sent": {"within policy": 1},
        "suppressed": {"quiet hours": 1, "rate limit": 2},
    }
    # operator broadcasts belong to no incident: in the total only
    assert [(g["camera"], g["broadcasts"]) for g in r["groups"]] == [
        ("cam-a", {"sent": {"within policy": 1}})
    ]


def test_camera_offline_hours_are_clipped_to_the_period_and_cut_at_local_midnight(tmp_path: Path) -> None:
    d = District()
    down = T0 + 13 * 3600  # 23:00 in Shanghai
    d.offline(down, down + 5)
    d.online(down, down + 2 * 3600)  # back at 01:00
    engine = stored(tmp_path, d)
    assert report(engine)["total"]["camera_offline_hours"] == 1.0
    two_days = report(engine, by="day", day=("2026-05-26", "2026-05-28"))
    assert two_days["total"]["camera_offline_hours"] == 2.0
    days = [(g["day"], g["camera_offline_hours"]) for g in two_days["groups"]]
    assert days == [("2026-05-26", 1.0), ("2026-05-27", 1.0)]
    assert report(engine, by="camera")["groups"][0]["camera"] == "cam-a"


def test_a_case_belongs_to_the_day_of_its_first_dispatch_and_counts_what_happened_before_to(
    tmp_path: Path,
) -> None:
    d = District()
    late = T0 + 13 * 3600 + 1800  # 23:30 in Shanghai
    iid = dispatched(d, late)
    closed_loop(d, iid, late + 3600)  # closed the next day
    engine = stored(tmp_path, d)
    first = report(engine)["total"]
    assert (first["cases_dispatched"], first["cases_closed"], first["close_rate"]) == (1, 0, 0.0)
    both = report(engine, day=("2026-05-26", "2026-05-28"))["total"]
    assert (both["cases_dispatched"], both["cases_closed"]) == (1, 1)
    assert report(engine, day=("2026-05-27", "2026-05-28"))["total"]["cases_dispatched"] == 0


def test_an_empty_period_has_zero_counts_and_no_rates(tmp_path: Path) -> None:
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)
    r = report(stored(tmp_path, d), by="unit", day=("2026-06-01", "2026-06-02"))
    assert r["groups"] == []
    total = r["total"]
    assert total["cases_dispatched"] == total["incidents_warned"] == 0
    assert total["close_rate"] is total["on_time_rate"] is total["rework_rate"] is None
    assert total["warning_effectiveness"] is None and total["camera_offline_hours"] == 0.0
    assert total["dispatch_to_accept"] == {"n": 0, "wall": {"median_s": None, "p90_s": None},
                                           "working": {"median_s": None, "p90_s": None}}  # fmt: skip


@pytest.mark.parametrize(
    ("by", "key"),
    [("unit", "unit-a"), ("grid", "grid-a"), ("category", "illegal_parking"), ("camera", "cam-b"),
     ("speaker", "spk-a"), ("day", "2026-05-26")],
)  # fmt: skip
def test_every_breakdown_names_its_group(tmp_path: Path, by: str, key: str) -> None:
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)
    r = report(stored(tmp_path, d), by=by)
    assert r["by"] == by and [g[by] for g in r["groups"]] == [key]
    if by == "speaker":  # the warning is the loudspeaker's; the case is not
        assert r["groups"][0]["incidents_warned"] == r["total"]["incidents_warned"] == 1
        assert r["groups"][0]["cases_closed"] == 0 and r["total"]["cases_closed"] == 1
    else:
        assert r["groups"][0]["cases_closed"] == r["total"]["cases_closed"] == 1


def test_medians_and_p90_over_several_cases(tmp_path: Path) -> None:
    d = District()
    for n, accept_after in enumerate((2, 4, 6, 8, 20)):
        iid = dispatched(d, T0 + 1000 * n)
        d.update(iid, "accepted", T0 + 1000 * n + 3.5 + accept_after)
        d.operator(iid, "close", T0 + 1000 * n + 200, reason="checked")  # an operator's close
    times = report(stored(tmp_path, d))["total"]["dispatch_to_accept"]
    assert times["n"] == 5
    assert times["wall"] == {"median_s": 6.0, "p90_s": 15.2}  # between 8 and 20
    # closed by an operator without a resolve: closed, and on time by its close
    total = report(stored(tmp_path, d))["total"]
    assert (total["cases_closed"], total["cases_resolved"]) == (5, 0)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-05-27", "2026-05-26", "is not before"),
        ("2026-05-26", "2026-05-26", "is not before"),
        ("2026-02-30", "2026-05-26", "is not a date"),
        ("yesterday", "2026-05-26", "is not a date"),
        ("2024-01-01", "2026-01-01", "longer than"),
        ("", "2026-01-01", "give both"),
    ],
)
def test_bad_periods_say_what_to_fix(start: str, end: str, says: str) -> None:
    with pytest.raises(ReportError, match=says):
        parse_period(start, end, "Asia/Shanghai")


def test_dates_are_local_midnights_and_times_may_carry_an_offset() -> None:
    p = parse_period("2026-05-26", "2026-05-26T12:00:00Z", "Asia/Shanghai")
    assert (p.start_iso, p.end_iso) == ("2026-05-25T16:00:00.000Z", "2026-05-26T12:00:00.000Z")
    assert p.day_of(T0) == "2026-05-26"


def test_an_unknown_breakdown_is_refused(tmp_path: Path) -> None:
    from streams.reports.report import kpis_for_query

    with pytest.raises(ReportError, match="unit, grid, category, camera, speaker, day"):
        kpis_for_query(fresh_engine(tmp_path / "r.db"), CFG, *DAY, "street", now=LATER)
