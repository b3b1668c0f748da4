"""The reports' SQL on SQLite, PostgreSQL and MariaDB: the same day of the district gives the same
KPIs and the same case export on each (a server that does not answer here is skipped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from streams.reports.export import case_export
from streams.reports.period import parse_period
from streams.reports.report import kpi_report

from ..reports_support import DAY, T0, District, fresh_engine, reports_config
from ..unit.streams.test_reports import closed_loop, dispatched
from .test_store import db_url, engine  # noqa: F401 - the fixtures: a database of each kind

pytestmark = pytest.mark.integration

CFG = reports_config()


def a_day() -> District:
    """A closed loop, a reopened case, an escalated case, warnings and a camera outage."""
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)
    iid = dispatched(d, T0 + 100)
    d.update(iid, "resolved", T0 + 110)
    d.seen(T0 + 111, "ongoing", camera="cam-b")
    d.tick(T0 + 114)  # reopened
    d.tick(T0 + 160)  # the new round is overdue: escalated
    closed_loop(d, iid, T0 + 170)
    worked = d.seen(T0 + 300)
    d.warned(worked, T0 + 300.5, played=T0 + 301)
    d.seen(T0 + 303, "cleared")
    d.suppressed(T0 + 400, "quiet hours 22:00-07:00")
    d.offline(T0 + 500, T0 + 505)
    d.online(T0 + 500, T0 + 500 + 5400)
    return d


def reports(eng: Engine) -> list[Any]:
    period = parse_period(DAY[0], "2026-05-28", "Asia/Shanghai")
    out: list[Any] = [kpi_report(eng, period, by, CFG, now=T0 + 86_400 * 7) for by in (None, "unit", "day")]
    return [*out, case_export(eng, period, CFG)]


def test_every_database_gives_the_same_report(engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    day = a_day()
    day.store(engine)
    reference = fresh_engine(tmp_path / "reference.db")
    day.store(reference)
    got, expected = reports(engine), reports(reference)
    total = expected[0]["total"]
    assert (total["cases_dispatched"], total["cases_closed"], total["cases_reopened"]) == (3, 2, 1)
    # the reworked round, and the camera's own case (down past its grace, then its SLA)
    assert total["overdue"] == {"cases": 2, "escalations": {"district": 2}}
    assert (total["incidents_warned"], total["warnings_effective"]) == (3, 1)
    assert total["camera_offline_hours"] == 1.5
    assert got == expected
