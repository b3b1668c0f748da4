"""The reports page's data: ``GET /api/reports/kpis?from=&to=&by=`` returns the KPI report of
the case record (streams/reports/; the same JSON as `citywatch report --format json`). The query
runs in a worker thread, off the event loop; a wrong period or breakdown is a 400, a case record
that cannot be reached a 503."""

from __future__ import annotations

import asyncio

from aiohttp import web

from streams.contract.errors import ReportError, StoreError, WebError
from streams.reports.report import kpis_for_query
from streams.web.state import STATE_KEY


async def kpi_report(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    query = request.query

    def build() -> dict[str, object]:
        if state.case_record is None:
            raise StoreError("no case record is configured: set store.url or CITYWATCH_DB")
        engine = state.case_record()
        return kpis_for_query(
            engine, state.cfg, query.get("from", ""), query.get("to", ""), query.get("by"), now=state.now()
        )

    try:
        report = await asyncio.to_thread(build)
    except ReportError as exc:
        raise WebError(str(exc), 400) from None
    except StoreError as exc:
        raise WebError(f"the case record cannot be read: {exc}", 503) from None
    return web.json_response(report, headers={"Cache-Control": "no-store"})
