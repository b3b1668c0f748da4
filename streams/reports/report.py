"""A KPI report of one period: the facts read once from the case record, counted in total and
per group of any breakdown.

    report = kpi_report(engine, period, "unit", cfg)        # what `citywatch report` and
    report["total"]["close_rate"], report["groups"][0]      # GET /api/reports/kpis return
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from streams.config import Config
from streams.contract.errors import StoreError
from streams.reports.case_facts import case_rows
from streams.reports.kpis import Facts, tally
from streams.reports.outage_facts import outages
from streams.reports.period import Period
from streams.reports.timing import WorkingSeconds, working_clock
from streams.reports.warning_facts import decision_rows, warning_rows
from streams.store.database import shown

DEFAULT_OFFLINE_CATEGORY = "camera_offline"


def camera_grids(cfg: Config | None) -> dict[str, str]:
    """Camera (and sensor) id -> its grid, from the configuration."""
    if cfg is None:
        return {}
    return {c.id: c.grid for c in cfg.cameras} | {s.id: s.grid for s in cfg.sensors}


def read_facts(engine: Engine, period: Period, cfg: Config | None, now: float) -> Facts:
    """Everything the report counts, read in one transaction (one consistent view of the record)."""
    start, end = period.start_iso, period.end_iso
    offline = cfg.health.offline_category if cfg is not None else DEFAULT_OFFLINE_CATEGORY
    with reading(engine) as conn:
        return Facts(
            period=period,
            cases=case_rows(conn, start, end, end),
            warnings=warning_rows(conn, start, end, end),
            decisions=decision_rows(conn, start, end),
            outages=outages(conn, offline, start, end, now),
            grids=camera_grids(cfg),
        )


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One transaction (one consistent view of the record); a database that fails is a
    ``StoreError`` saying what to do."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(
            f"cannot read the case record {shown(engine.url)} ({reason}); is it migrated "
            "(`citywatch db upgrade`) and is this the right --db?"
        ) from None


def group_sort_key(key: Any) -> tuple[int, str]:
    return (0, str(key)) if key is not None else (1, "")


def counted(facts: Facts, by: str | None, working: WorkingSeconds, clock: str) -> dict[str, Any]:
    """The report of ``facts`` under breakdown ``by``: ``total`` and ``groups`` (each with ``by``'s key)."""
    total, groups = tally(facts, by, working)
    out: dict[str, Any] = {**facts.period.describe(), "by": by, "working_time": clock}
    out["total"] = total.to_json()
    out["groups"] = [
        {by: key, **groups[key].to_json()} for key in sorted(groups, key=group_sort_key)
    ] if by else []  # fmt: skip
    return out


def kpi_report(
    engine: Engine,
    period: Period,
    by: str | None,
    cfg: Config | None,
    *,
    now: float,
    working: tuple[str, WorkingSeconds] | None = None,
) -> dict[str, Any]:
    """The JSON report of ``period`` broken down ``by`` unit, grid, category, camera, speaker or day."""
    clock, seconds = working or working_clock(cfg)
    return counted(read_facts(engine, period, cfg, now), by, seconds, clock)


def every_breakdown(
    facts: Facts, breakdowns: list[str | None], working: tuple[str, WorkingSeconds]
) -> Mapping[str | None, dict[str, Any]]:
    """The report of the same facts under each breakdown (None: the total only)."""
    clock, seconds = working
    return {by: counted(facts, by, seconds, clock) for by in breakdowns}


def kpis_for_query(
    engine: Engine, cfg: Config, start: str, end: str, by: str | None, *, now: float
) -> dict[str, Any]:
    """The report a web handler returns for ``?from=&to=&by=``; ``ReportError`` (a 400) when the
    period or breakdown is wrong. It blocks on the database: run it off the event loop."""
    from streams.reports.period import check_breakdown, parse_period

    breakdown = check_breakdown(by)
    period = parse_period(start, end, cfg.site.timezone)
    return kpi_report(engine, period, breakdown, cfg, now=now)
