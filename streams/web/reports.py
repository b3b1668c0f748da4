"""The reports page's data: ``GET /api/reports/kpis?from=&to=&by=`` returns the KPI report of
the case record (streams/reports/; the same JSON as `citywatch report --format json`), with
``charts=1`` also what the page draws (streams/reports/charts.py). ``GET /api/reports/kpis.xlsx``
(or ``format=xlsx``) returns the same report as an XLSX workbook (汇总 and the breakdown's sheet).
The query runs in a worker thread, off the event loop; a wrong period, breakdown or format is a
400, a case record that cannot be reached a 503. A street- or department-scoped caller gets the
KPIs of its scope only: the cases, warnings, decisions and camera outages of its grids or
categories."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from streams.contract.errors import ReportError, StoreError, WebError
from streams.reports.charts import chart_data
from streams.reports.period import check_breakdown, parse_period
from streams.reports.report import every_breakdown, read_facts
from streams.reports.timing import working_clock
from streams.reports.xlsx import report_workbook
from streams.web.auth import Principal
from streams.web.scope import facts_in_scope
from streams.web.state import STATE_KEY, WebState, who

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("json", "xlsx")


def _reports(
    state: WebState, query: Any, charts: bool, principal: Principal
) -> tuple[dict[str | None, Any], dict[str, Any] | None]:
    """The total report and the breakdown's (keyed None and ``by``), and the charts when asked;
    a scoped caller's of its scope only. It blocks on the database."""
    if state.case_record is None:
        raise StoreError("no case record is configured: set store.url or CITYWATCH_DB")
    by = check_breakdown(query.get("by"))
    period = parse_period(query.get("from", ""), query.get("to", ""), state.cfg.site.timezone)
    facts = facts_in_scope(
        principal, state.cfg, read_facts(state.case_record(), period, state.cfg, state.now())
    )
    reports = every_breakdown(facts, list(dict.fromkeys([None, by])), working_clock(state.cfg))
    return dict(reports), chart_data(facts) if charts else None


async def _off_loop(build: Callable[[], Any]) -> Any:
    try:
        return await asyncio.to_thread(build)
    except ReportError as exc:
        raise WebError(str(exc), 400) from None
    except StoreError as exc:
        raise WebError(f"the case record cannot be read: {exc}", 503) from None


def _format(query: Any, default: str) -> str:
    fmt = query.get("format") or default
    if fmt not in FORMATS:
        raise WebError(f"format {fmt!r} is not known: use one of {', '.join(FORMATS)}", 400)
    return str(fmt)


async def kpi_report(request: web.Request) -> web.Response:
    if _format(request.query, "json") == "xlsx":
        return await kpi_workbook(request)
    state, query = request.app[STATE_KEY], request.query
    charts = query.get("charts") in ("1", "true")
    principal = who(request)
    reports, drawn = await _off_loop(lambda: _reports(state, query, charts, principal))
    report = reports[check_breakdown(query.get("by"))]
    if drawn is not None:
        report = {**report, "charts": drawn}
    return web.json_response(report, headers={"Cache-Control": "no-store"})


async def kpi_workbook(request: web.Request) -> web.Response:
    state, query = request.app[STATE_KEY], request.query
    _format(query, "xlsx")
    principal = who(request)

    def build() -> tuple[bytes, str]:
        reports, _ = _reports(state, query, False, principal)
        total = reports[None]
        name = f"kpis-{total['from'][:10]}-{total['to'][:10]}{'-' + query['by'] if query.get('by') else ''}"
        return report_workbook(reports, state.cfg), name

    body, name = await _off_loop(build)
    headers = {"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}.xlsx"'}
    return web.Response(body=body, content_type=XLSX, headers=headers)
