"""The routes of the command centre, and who may call each: one table, ``ROUTES``.

    GET  /healthz                         no token
    GET  /login, POST /login              no token
    POST /logout                          any token
    GET  /                                board page (readers; a patrol is sent to its unit)
    GET  /patrol/{unit}                   patrol page (readers, that unit's patrol)
    GET  /reports                         reports page: KPIs and charts of the case record (readers)
    GET  /cameras                         camera wall: every camera's live picture, zones, status (readers)
    GET  /cameras/{camera_id}             one camera: picture, zones, incidents, broadcast (readers)
    GET  /cameras/{camera_id}/live.jpg    its latest live picture (readers; 404 none yet; no-store)
    GET  /wall                            wall screen (1920x1080 or 4K): counts, live list, map and
                                          camera wall together, no scrolling (readers)
    GET  /map                             map page: cameras, sensors, speakers, grid outlines and
                                          open incidents by lat/lon, live (readers)
    GET  /static/{name}                   page assets (any token)
    GET  /static/vendor/{name}            vendored libraries (Apache ECharts, Leaflet; any token)
    GET  /evidence/{path}                 evidence pictures (readers; a patrol: its cases' pictures)
    GET  /metrics                         Prometheus text (unscoped readers)
    GET  /api/whoami                      the caller, and the CSRF token of a browser session
    GET  /api/options                     cameras, speakers, templates, grids, units, states
    GET  /api/incidents                   ?state=&category=&grid=&camera=&open=&limit= with counts;
                                          ?from=&to=&q=&page=&per_page=&unit=: the case record's history
    GET  /api/incidents/{id}              one incident with its whole history, cases and photos
    POST /api/incidents/{id}/actions      acknowledge | confirm | dispatch | close (operators)
    GET  /api/broadcasts                  recent policy decisions
    POST /api/broadcasts                  an operator broadcast (operators)
    GET  /api/broadcasts/{request_id}     its decision, or pending
    GET  /api/units/{unit}/cases          a unit's open cases (readers, that unit's patrol)
    POST /api/cases/{case_id}/updates     accepted | arrived | resolved | rejected (that unit, admin)
    POST /api/integrations/case-system/callback   the city's case system reports a case's status
                                          (integration tokens only; streams/web/case_callback.py)
    GET  /api/cameras                     every camera: status, fps, picture link, zones, objects,
                                          open incidents (readers)
    GET  /api/cameras/{camera_id}         the same for one camera (readers)
    POST /api/cameras/{camera_id}/zones/{zone_id}/background
                                          this zone is clean now: re-capture its static-object
                                          background (operators)
    POST /api/cameras/{camera_id}/background   the same for every such zone of the camera
    GET  /cameras/{camera_id}/zones       zone editor page (operators; streams/web/zone_editor.py)
    GET  /cameras/{camera_id}/zones/picture.jpg   the camera's latest frame (operators)
    GET  /api/cameras/{camera_id}/zones   its zones, the categories, the latest detections (operators)
    POST /api/cameras/{camera_id}/zones   check edited zones as `citywatch check` does; save them
                                          when web.config_writable (operators)
    GET  /api/events                      Server-Sent Events: alert, case, update, decision
    GET  /api/reports/kpis                ?from=&to=&by=&charts=&format= the KPI report of the case
                                          record (readers); format=xlsx: the workbook
    GET  /api/reports/kpis.xlsx           ?from=&to=&by= the same report as an XLSX workbook (readers)
    GET  /api/map                         the map's features: tiles, cameras, sensors, speakers,
                                          grids, open incidents, and what has no lat/lon (readers)

A street- or department-scoped token (viewer:street:ID, operator:street:ID, dept:ID) passes
the same role checks; each handler then keeps to its scope (streams/web/scope.py): lists
are filtered, and one thing outside its scope is the same 403 as one that does not exist.

A worker extension adds its own routes (``WebState.extra_routes``, e.g. sensor
ingest in streams/web/ingest.py), which check their caller themselves.

    middleware.py  errors, authentication and CSRF, body limits    bodies.py  what requests bring
    pages.py       login, pages, assets, evidence                  info.py    health, metrics, whoami, options
    incidents.py   incidents and cases                             broadcasts.py, live.py (events)
    camera_commands.py  operators' commands to a camera's detector
    cameras.py     the camera wall: cameras with their live pictures (detectors/live.py)
    history.py     the case record's incident history
    reports.py     KPI reports of the case record
    map.py         the map's features (pure ``map_view``) and /api/map

Logins are rate-limited per client address (429), and live streams are capped
per token and in total (429).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from streams.contract.errors import WebError
from streams.web.auth import Principal
from streams.web.bodies import EXTRA_BODY, with_photo_limit
from streams.web.broadcasts import get_broadcast, list_broadcasts, send_broadcast
from streams.web.camera_commands import recapture
from streams.web.cameras import get_camera, list_cameras, live_picture
from streams.web.case_callback import SEEN_KEY, SeenCallbacks, case_system_callback
from streams.web.history import get_incident
from streams.web.incidents import (
    case_update,
    incident_action,
    list_incidents,
    reports_on_case,
    unit_cases,
)
from streams.web.info import healthz, metrics, options, whoami
from streams.web.live import events
from streams.web.map import map_data
from streams.web.middleware import Handler, auth_middleware, body_middleware, errors_middleware
from streams.web.pages import (
    board_page,
    camera_page,
    cameras_page,
    evidence_file,
    login_form,
    login_submit,
    logout,
    map_page,
    patrol_page,
    reports_page,
    sees_evidence,
    static_asset,
    vendor_asset,
    wall_page,
)
from streams.web.reports import kpi_report, kpi_workbook
from streams.web.scope import camera_in_scope
from streams.web.state import STATE_KEY, WebState, who
from streams.web.zone_editor import get_zones, post_zones, zone_editor_page, zone_picture

Check = Callable[[Principal, web.Request], bool]


@dataclass(frozen=True)
class Allow:
    """Who may call a route, and what a refusal (403) says.

    ``refusal`` is formatted with the route's path parameters and ``caller_unit``.
    """

    check: Check
    refusal: str


def _anyone(principal: Principal, request: web.Request) -> bool:
    return True


def _readers(principal: Principal, request: web.Request) -> bool:
    return principal.can_read


def _district_readers(principal: Principal, request: web.Request) -> bool:
    return principal.can_read and principal.scope is None


def _operators(principal: Principal, request: web.Request) -> bool:
    return principal.can_operate


def _district_operators(principal: Principal, request: web.Request) -> bool:
    return principal.can_operate and principal.scope is None


def _camera_readers(principal: Principal, request: web.Request) -> bool:
    """A reader whose scope covers the camera of the path; for a scoped token an unknown camera
    is refused the same way, so it cannot tell which ids exist elsewhere."""
    if not principal.can_read:
        return False
    if principal.scope is None:
        return True
    cfg = request.app[STATE_KEY].cfg
    wanted = request.match_info["camera_id"]
    return any(c.id == wanted and camera_in_scope(principal, cfg, c) for c in cfg.cameras)


def _case_system(principal: Principal, request: web.Request) -> bool:
    return principal.can_call_back


def _readers_and_patrols(principal: Principal, request: web.Request) -> bool:
    return principal.can_read or principal.role == "patrol"


def _unit_viewers(principal: Principal, request: web.Request) -> bool:
    return principal.can_see_unit(request.match_info["unit"])


NO_TOKEN = None  # a public route: the authentication middleware lets it pass
ANY_TOKEN = Allow(_anyone, "")
BOARD_PAGE = Allow(_readers_and_patrols, "the board needs a viewer, operator or admin token")  # patrol: 302
BOARD_READERS = Allow(_readers, "the board needs a viewer, operator or admin token")
INCIDENT_READERS = Allow(_readers, "incidents need a viewer, operator or admin token")
DECISION_READERS = Allow(_readers, "broadcast decisions need a viewer, operator or admin token")
METRICS_READERS = Allow(
    _district_readers,
    "metrics count the whole district: they need an unscoped viewer, operator or admin token",
)
INCIDENT_OPERATORS = Allow(_operators, "incident actions need an operator or admin token")
BROADCAST_OPERATORS = Allow(_operators, "broadcasts need an operator or admin token")
CAMERA_OPERATORS = Allow(_operators, "commands to a camera need an operator or admin token")
UNIT_PAGE_VIEWERS = Allow(
    _unit_viewers, "this token cannot see unit {unit} (not its unit, or outside its scope)"
)
UNIT_CASE_VIEWERS = Allow(
    _unit_viewers, "this token cannot see unit {unit}'s cases (not its unit, or outside its scope)"
)
CASE_REPORTERS = Allow(reports_on_case, "case {case_id} is not with unit {caller_unit}")
EVIDENCE_VIEWERS = Allow(
    sees_evidence,
    "a patrol sees only its own cases' pictures, a street or department token those of the "
    "board's incidents in its scope",
)
LIVE_VIEWERS = Allow(_readers_and_patrols, "live events need a token with a role")
REPORT_READERS = Allow(_readers, "reports need a viewer, operator or admin token")
ZONE_EDITORS = Allow(
    _district_operators,
    "the zone editor writes the district's cameras.yaml: it needs an operator or admin token without "
    "a street or department scope",
)
CAMERA_READERS = Allow(_readers, "the camera wall needs a viewer, operator or admin token")
CAMERA_VIEWERS = Allow(
    _camera_readers, "camera {camera_id} is not in this token's scope (or is not configured)"
)
MAP_READERS = Allow(_readers, "the map needs a viewer, operator or admin token")
WALL_READERS = Allow(_readers, "the wall screen needs a viewer, operator or admin token")
CASE_SYSTEM = Allow(_case_system, "the case system's callback needs an integration token")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    allow: Allow | None


# fmt: off
ROUTES: tuple[Route, ...] = (
    Route("GET",  "/healthz",                             healthz,         NO_TOKEN),
    Route("GET",  "/login",                               login_form,      NO_TOKEN),
    Route("POST", "/login",                               login_submit,    NO_TOKEN),
    Route("POST", "/logout",                              logout,          ANY_TOKEN),
    Route("GET",  "/",                                    board_page,      BOARD_PAGE),
    Route("GET",  "/patrol/{unit}",                       patrol_page,     UNIT_PAGE_VIEWERS),
    Route("GET",  "/reports",                             reports_page,    REPORT_READERS),
    Route("GET",  "/cameras",                             cameras_page,    CAMERA_READERS),
    Route("GET",  "/cameras/{camera_id}",                 camera_page,     CAMERA_VIEWERS),
    Route("GET",  "/cameras/{camera_id}/live.jpg",        live_picture,    CAMERA_VIEWERS),
    Route("GET",  "/map",                                 map_page,        MAP_READERS),
    Route("GET",  "/wall",                                wall_page,       WALL_READERS),
    Route("GET",  "/static/{name}",                       static_asset,    ANY_TOKEN),
    Route("GET",  "/static/vendor/{name}",                vendor_asset,    ANY_TOKEN),
    Route("GET",  "/evidence/{path:.+}",                  evidence_file,   EVIDENCE_VIEWERS),
    Route("GET",  "/metrics",                             metrics,         METRICS_READERS),
    Route("GET",  "/api/whoami",                          whoami,          ANY_TOKEN),
    Route("GET",  "/api/options",                         options,         ANY_TOKEN),
    Route("GET",  "/api/incidents",                       list_incidents,  BOARD_READERS),
    Route("GET",  "/api/incidents/{incident_id}",         get_incident,    INCIDENT_READERS),
    Route("POST", "/api/incidents/{incident_id}/actions", incident_action, INCIDENT_OPERATORS),
    Route("GET",  "/api/broadcasts",                      list_broadcasts, DECISION_READERS),
    Route("POST", "/api/broadcasts",                      send_broadcast,  BROADCAST_OPERATORS),
    Route("GET",  "/api/broadcasts/{request_id}",         get_broadcast,   DECISION_READERS),
    Route("GET",  "/api/units/{unit}/cases",              unit_cases,      UNIT_CASE_VIEWERS),
    Route("POST", "/api/cases/{case_id}/updates",         case_update,     CASE_REPORTERS),
    Route("POST", "/api/integrations/case-system/callback", case_system_callback, CASE_SYSTEM),
    Route("GET",  "/api/cameras",                         list_cameras,    CAMERA_READERS),
    Route("GET",  "/api/cameras/{camera_id}",             get_camera,      CAMERA_VIEWERS),
    Route("POST", "/api/cameras/{camera_id}/zones/{zone_id}/background", recapture, CAMERA_OPERATORS),
    Route("POST", "/api/cameras/{camera_id}/background",  recapture,       CAMERA_OPERATORS),
    Route("GET",  "/cameras/{camera_id}/zones",           zone_editor_page, ZONE_EDITORS),
    Route("GET",  "/cameras/{camera_id}/zones/picture.jpg", zone_picture,  ZONE_EDITORS),
    Route("GET",  "/api/cameras/{camera_id}/zones",       get_zones,       ZONE_EDITORS),
    Route("POST", "/api/cameras/{camera_id}/zones",       post_zones,      ZONE_EDITORS),
    Route("GET",  "/api/events",                          events,          LIVE_VIEWERS),
    Route("GET",  "/api/reports/kpis",                    kpi_report,      REPORT_READERS),
    Route("GET",  "/api/reports/kpis.xlsx",               kpi_workbook,    REPORT_READERS),
    Route("GET",  "/api/map",                             map_data,        MAP_READERS),
)
# fmt: on


def guarded(route: Route) -> Handler:
    """The route's handler, called only for a caller its ``allow`` admits (403 otherwise)."""
    allow = route.allow
    if allow is None:
        return route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = who(request)
        if not allow.check(principal, request):
            refusal = allow.refusal.format(**request.match_info, caller_unit=principal.unit)
            raise WebError(f"forbidden: {refusal}", 403)
        return await route.handler(request)

    return handler


def create_app(state: WebState) -> web.Application:
    public = frozenset(route.path for route in ROUTES if route.allow is None)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware(public), body_middleware],
        client_max_size=max(with_photo_limit(state.cfg), EXTRA_BODY),  # each route takes less
    )
    app[STATE_KEY] = state
    app[SEEN_KEY] = SeenCallbacks()
    for route in ROUTES:
        if route.method == "GET":  # and HEAD, as aiohttp's add_get does
            app.router.add_get(route.path, guarded(route))
        else:
            app.router.add_route(route.method, route.path, guarded(route))
    for method, path, handler in state.extra_routes:
        app.router.add_route(method, path, handler)
    return app
