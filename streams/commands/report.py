"""KPI report of the case record for a period [--from, --to): cases dispatched and closed, close
rate (结案率), on-time rate (按期结案率), rework rate (返工率), overdue cases and escalations,
warning effectiveness (喊话有效率), times to accept / arrive / resolve / close (median, p90, wall
and working time), broadcast decisions by reason, camera-offline hours; in total and by unit,
grid, category, camera or day. Dates are local to site.timezone; docs/reports.md defines each
KPI. Formats: table (terminal), json, csv (UTF-8 with BOM), xlsx (a sheet per breakdown)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from streams.commands import add_config_argument
from streams.commands.store import add_db_argument, db_url

if TYPE_CHECKING:
    from streams.config import Config
    from streams.reports.period import Period

FORMATS = ("table", "json", "csv", "xlsx")


def add_period_arguments(parser: argparse.ArgumentParser, formats: tuple[str, ...], default: str) -> None:
    parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day (included)")
    parser.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day (excluded)")
    parser.add_argument("--format", choices=formats, default=default, help=f"output form (default {default})")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (default: stdout)")
    add_config_argument(parser)
    add_db_argument(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.reports.period import BREAKDOWNS

    parser.add_argument("--by", choices=BREAKDOWNS, default=None, help="break the KPIs down (default: total)")
    add_period_arguments(parser, FORMATS, "table")


def site_config(args: argparse.Namespace) -> Config | None:
    """The configuration when there is one (names, timezone, grids); None where there is none."""
    import os

    from streams.config import load_config
    from streams.config.load import resolve_path

    if args.config or os.environ.get("CITYWATCH_CONFIG") or resolve_path(None).is_file():
        return load_config(args.config)
    return None


def open_period(args: argparse.Namespace) -> tuple[Config | None, Period, str]:
    """The configuration, the period and the database URL of a report or export command."""
    from streams.reports.period import parse_period

    cfg = site_config(args)
    period = parse_period(args.start, args.end, cfg.site.timezone if cfg else "Asia/Shanghai")
    return cfg, period, db_url(args)


def needs_out(args: argparse.Namespace) -> None:
    from streams.contract.errors import UsageError

    if args.format == "xlsx" and args.out is None:
        raise UsageError("--format xlsx writes a workbook: give --out FILE.xlsx")


def run(args: argparse.Namespace) -> int:
    import json

    from streams.contract.timeutil import now
    from streams.reports import render
    from streams.reports.report import every_breakdown, read_facts
    from streams.reports.timing import working_clock
    from streams.store.database import open_engine

    needs_out(args)
    cfg, period, url = open_period(args)
    engine = open_engine(url)
    try:
        facts = read_facts(engine, period, cfg, now())
    finally:
        engine.dispose()
    clock = working_clock(cfg)
    if args.format == "xlsx":
        from streams.reports.period import BREAKDOWNS
        from streams.reports.xlsx import report_workbook

        wanted: list[str | None] = [None, args.by] if args.by else [None, *BREAKDOWNS]
        render.write(report_workbook(every_breakdown(facts, wanted, clock), cfg), args.out)
        return 0
    report = every_breakdown(facts, [args.by], clock)[args.by]
    if args.format == "json":
        render.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n", args.out)
    elif args.format == "csv":
        render.write(render.to_csv(report, cfg), args.out)
    else:
        render.write(render.to_table(report, cfg), args.out)
    return 0
