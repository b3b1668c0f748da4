"""The command centre on the web: incident board, operators' broadcasts and
actions, patrol views, JSON API, live events, health and metrics.

    auth.py        tokens, roles, sessions, CSRF (pure)
    board.py       the district's board from alerts / dispatch / updates / decisions (pure)
    events.py      live events to connected pages (SSE), filtered by role
    evidence.py    evidence links and safe reads under evidence.dir, patrol photos
    metrics.py     the worker's metrics for Prometheus (a prometheus_client collector)
    feed.py        the board's reader: every partition, no consumer group, from the store's offsets
    state.py       what every route shares: WebState, the caller
    api.py         the route table (method, path, handler, who may call it) and the app
    middleware.py  errors to JSON, authentication and CSRF, body limits
    bodies.py      request bodies and query parameters, checked
    pages.py       login, pages, assets, evidence pictures
    info.py        /healthz, /metrics, whoami, options
    incidents.py   incidents and patrols' cases
    history.py     the incident history from the case record (search, an incident whole)
    seed.py        the board's start from the case record and the store's offsets
    broadcasts.py  operators' broadcasts and their decisions
    map.py         the map page's features (cameras, sensors, speakers, grids, open incidents)
    live.py        /api/events (Server-Sent Events)
    ingest.py      POST /api/sensor-readings (sensor gateways), a worker extension's route
    server.py      the service the worker runs, and ``install(worker)``
    static/        the pages: plain HTML, CSS and JavaScript, no build step; static/vendor/:
                   Apache ECharts (Apache-2.0) for the reports page and Leaflet (BSD-2-Clause)
                   for the map page, served as they come
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.worker import Worker


def install(worker: Worker) -> None:
    """Serve the command centre from the worker (see ``streams.web.server``); the worker
    calls it last, after the feeds added their routes."""
    from streams.web.server import install as install_server

    install_server(worker)
