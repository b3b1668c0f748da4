"""Routes of the command centre: pages, JSON API, live events, evidence, health, metrics.

    GET  /healthz                         no token
    GET  /login, POST /login, POST /logout
    GET  /                                board page (readers; a patrol is sent to its unit)
    GET  /patrol/{unit}                   patrol page (readers, that unit's patrol)
    GET  /static/{name}                   page assets (any token)
    GET  /evidence/{path}                 evidence pictures (readers; a patrol: its cases' pictures)
    GET  /metrics                         Prometheus text (readers)
    GET  /api/whoami                      the caller, and the CSRF token of a browser session
    GET  /api/options                     cameras, speakers, templates, grids, units, states
    GET  /api/incidents                   ?state=&category=&grid=&camera=&open=&limit= with counts
    GET  /api/incidents/{id}              one incident with its timeline, case and photos
    POST /api/incidents/{id}/actions      acknowledge | confirm | dispatch | close (operators)
    GET  /api/broadcasts                  recent policy decisions
    POST /api/broadcasts                  an operator broadcast (operators)
    GET  /api/broadcasts/{request_id}     its decision, or pending
    GET  /api/units/{unit}/cases          a unit's open cases (readers, that unit's patrol)
    POST /api/cases/{case_id}/updates     accepted | arrived | resolved | rejected (that unit, admin)
    GET  /api/events                      Server-Sent Events: alert, case, update, decision

Every error is JSON ``{"error": "..."}`` with a 4xx status (pages: the login
form on 401). A bearer token (``Authorization: Bearer …``) or the session cookie
authenticates; with the cookie, a state-changing request needs ``X-CSRF-Token``.

Request bodies are checked before they are read: the caller is authenticated
from its headers first (401/403 without reading a byte of the body), then the
body's declared size is held against its route's limit (413): a login form
``LOGIN_BODY``, JSON ``JSON_BODY``, a patrol update with a photo
``web.max_photo_mb`` (base64) plus JSON. A body sent without a length is cut off
at the same limit. Logins are rate-limited per client address (429), and live
streams are capped per token and in total (429).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.config import Config
from streams.errors import WebError
from streams.ids import make_id
from streams.records import IncidentState
from streams.timeutil import to_iso
from streams.topics import Topics
from streams.web.auth import (
    LoginLimiter,
    Principal,
    Session,
    Sessions,
    TokenRegistry,
    csrf_ok,
    same_origin,
)
from streams.web.board import DISPATCHABLE, FINAL_STATES, Board, Filters
from streams.web.events import Hub, sse_frame
from streams.web.evidence import EvidenceFiles
from streams.web.metrics import Histogram

logger = logging.getLogger(__name__)

COOKIE = "citywatch_session"
CSRF_HEADER = "X-CSRF-Token"
PUBLIC = frozenset({"/healthz", "/login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEARTBEAT_S = 15.0
GONE_CHECK_S = 1.0  # how often a live stream looks whether its client left (its slot is freed then)
STATES: tuple[str, ...] = IncidentState.__args__  # type: ignore[attr-defined]
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".html": "text/html", ".svg": "image/svg+xml"}
LOGIN_BODY = 4 * 1024  # the login form: a token and where to go next
JSON_BODY = 32 * 1024  # an action, a broadcast, a patrol update without a photo
EXTRA_BODY = 2 * 1024 * 1024  # routes of worker extensions (sensor ingest checks its own 1 MB)
PHOTO_STATUSES = frozenset({"arrived", "resolved"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


class Publisher(Protocol):
    """Where the web's requests go: a topic, a key and a JSON object."""

    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None: ...


@dataclass
class WebState:
    cfg: Config
    topics: Topics
    board: Board
    tokens: TokenRegistry
    sessions: Sessions
    evidence: EvidenceFiles
    publisher: Publisher
    hub: Hub = field(default_factory=Hub)
    metrics: Callable[[], str] = lambda: ""
    now: Callable[[], float] = time.time
    latency: dict[str, Histogram] = field(default_factory=dict)
    pending_broadcasts: dict[str, float] = field(default_factory=dict)
    ready: Callable[[], bool] = lambda: True
    # the worker's health reports by name (streams/resilience.py: "kafka"); "ok": false -> 503
    health: Callable[[], dict[str, dict[str, Any]]] = dict
    extra_routes: list[tuple[str, str, Any]] = field(default_factory=list)  # from worker extensions
    logins: LoginLimiter = field(init=False)  # from web.login_attempts_per_min

    def __post_init__(self) -> None:
        web_cfg = self.cfg.web
        self.hub.max_streams = web_cfg.max_streams
        self.hub.per_token = web_cfg.max_streams_per_token
        self.hub.assigned = self.board.assigned  # who sees an incident: its assignment now
        self.logins = LoginLimiter(web_cfg.login_attempts_per_min)

    def evidence_url(self, path: str) -> str | None:
        return self.evidence.url(path)


STATE_KEY = web.AppKey("citywatch_state", WebState)
PRINCIPAL_KEY = web.RequestKey("citywatch_principal", Principal)
SESSION_KEY = web.RequestKey("citywatch_session", Session)


# ---------------------------------------------------------------- request bodies


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActionBody(Body):
    action: Literal["acknowledge", "confirm", "dispatch", "close"]
    reason: str = Field("", max_length=500)


class BroadcastBody(Body):
    speaker_id: str | None = Field(None, max_length=64)
    camera_id: str | None = Field(None, max_length=64)
    template: str | None = Field(None, max_length=64)
    text: str | None = Field(None, max_length=500)
    reason: str = Field("", max_length=500)
    force: bool = False


class UpdateBody(Body):
    status: Literal["accepted", "arrived", "resolved", "rejected"]
    note: str = Field("", max_length=1000)
    photo: str | None = Field(None, description="base64 JPEG/PNG, or a data: URL")


def body_limit(request: web.Request) -> int:
    """The largest body the request's route takes, in bytes."""
    state = request.app[STATE_KEY]
    if request.path == "/login":
        return LOGIN_BODY
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else ""
    if canonical == "/api/cases/{case_id}/updates":
        return int(state.cfg.web.max_photo_mb * 1024 * 1024) * 4 // 3 + JSON_BODY
    if any(canonical == path for _, path, _ in state.extra_routes):
        return EXTRA_BODY
    return JSON_BODY


def too_large(limit: int) -> WebError:
    return WebError(f"request body is larger than this route takes ({_size(limit)})", 413)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


async def parse_body(request: web.Request, model: type[M]) -> M:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(request.client_max_size) from None
    if not raw:
        raise WebError("request body is empty: send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not JSON, or hostile JSON (too deep, huge numbers)
        raise WebError(f"request body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WebError(f"request body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise WebError(f"field {where!r}: {err['msg']}{more}") from None


# ---------------------------------------------------------------- middleware


def _wants_json(request: web.Request) -> bool:
    path = request.path
    return path.startswith(("/api/", "/evidence/", "/static/")) or path in ("/metrics", "/logout")


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WebError as exc:
        return json_error(exc.status, str(exc))
    except web.HTTPException as exc:
        if exc.status == 413:  # a body sent without a length ran past its route's limit
            response = json_error(413, str(too_large(body_limit(request))))
            response.force_close()  # the rest of the body is not read
            return response
        if exc.status >= 400:
            return json_error(exc.status, exc.reason or "error")
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        logger.exception("web: %s %s failed", request.method, request.path)
        return json_error(500, "internal error; the worker's log has the details")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if request.path in PUBLIC:
        return await handler(request)
    principal: Principal | None = None
    session: Session | None = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_error(
                401, "Authorization header must be 'Bearer TOKEN'", **{"WWW-Authenticate": "Bearer"}
            )
        principal = state.tokens.lookup(token.strip())
        if principal is None:
            return json_error(401, "unknown token", **{"WWW-Authenticate": "Bearer"})
    else:
        session = state.sessions.get(request.cookies.get(COOKIE), state.now())
        principal = session.principal if session else None
    if principal is None:
        if _wants_json(request) or request.method not in SAFE_METHODS:
            return json_error(
                401,
                "a token is needed: send 'Authorization: Bearer TOKEN' or log in",
                **{"WWW-Authenticate": "Bearer"},
            )
        return login_page(request.path_qs, "", status=401)
    if session is not None and request.method not in SAFE_METHODS:
        if not csrf_ok(session, request.headers.get(CSRF_HEADER)):
            return json_error(403, f"CSRF check failed: send the {CSRF_HEADER} header from /api/whoami")
        if not same_origin(request.headers.get("Origin"), request.host):
            return json_error(403, "CSRF check failed: the request comes from another site")
    request[PRINCIPAL_KEY] = principal
    if session is not None:
        request[SESSION_KEY] = session
    return await handler(request)


@web.middleware
async def body_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold a body against its route's limit before anyone reads it (after authentication)."""
    limit = body_limit(request)
    declared = request.content_length
    if declared is not None and declared > limit:
        response = json_error(413, str(too_large(limit)))
        response.force_close()  # the body is not read: the connection cannot be reused
        return response
    return await handler(request.clone(client_max_size=limit))


def who(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


def need(allowed: bool, what: str) -> None:
    if not allowed:
        raise WebError(f"forbidden: {what}", 403)


# ---------------------------------------------------------------- pages


def _asset(name: str) -> bytes:
    return resources.files("streams.web").joinpath("static", name).read_bytes()


def login_page(next_path: str, error: str, status: int = 200) -> web.Response:
    text = _asset("login.html").decode("utf-8")
    text = text.replace("{{next}}", html.escape(_safe_next(next_path), quote=True))
    text = text.replace("{{error}}", html.escape(error))
    return web.Response(
        text=text, status=status, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def _safe_next(path: str | None) -> str:
    """Only a path of this site is a place to go after logging in, else ``/``.

    Browsers drop tabs and line feeds from a URL and read a backslash as a slash, so
    ``/\\t/evil.example`` would be ``//evil.example``: any control character, space,
    backslash or non-ASCII character is refused outright, as is ``//host``.
    """
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/"
    if any(not ("!" <= c <= "~") or c == "\\" for c in path):
        return "/"
    if path == "/login" or path.startswith(("/login?", "/login#")):
        return "/"
    return path


def _home(principal: Principal) -> str:
    return f"/patrol/{principal.unit}" if principal.role == "patrol" else "/"


def _page(name: str) -> web.Response:
    return web.Response(
        body=_asset(name), content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"}
    )


async def healthz(request: web.Request) -> web.Response:
    """200 ``ok``, or 503 ``degraded`` while a report says not ok (e.g. Kafka does not answer)."""
    state = request.app[STATE_KEY]
    reports = state.health()
    degraded = sorted(name for name, report in reports.items() if report.get("ok") is False)
    return web.json_response(
        {
            "status": "degraded" if degraded else "ok",
            "degraded": degraded,
            "board": "ready" if state.ready() else "loading",
            "incidents": len(state.board.incidents),
            **reports,
        },
        status=503 if degraded else 200,
        headers={"Cache-Control": "no-store"},
    )


async def login_form(request: web.Request) -> web.Response:
    return login_page(request.query.get("next", "/"), "")


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if not same_origin(request.headers.get("Origin"), request.host):
        raise WebError("login from another site is refused", 403)
    address = request.remote or "unknown"
    if not state.logins.allow(address, state.now()):
        wait = state.logins.retry_after(address)
        logger.warning("web: too many logins from %s: refused for %d s", address, wait)
        response = login_page("/", f"Too many login attempts: try again in {wait} s.", status=429)
        response.headers["Retry-After"] = str(wait)
        response.force_close()  # the form is not read
        return response
    form = await request.post()
    token = str(form.get("token") or "").strip()
    next_path = str(form.get("next") or "/")
    principal = state.tokens.lookup(token)
    if principal is None:
        return login_page(next_path, "Unknown token." if token else "Enter your token.", status=401)
    if not principal.can_log_in:
        return login_page(
            next_path,
            f"A token of the {principal.describe()} role has no pages: it is sent by its gateway as "
            "'Authorization: Bearer TOKEN' (POST /api/sensor-readings), not used to log in.",
            status=403,
        )
    session = state.sessions.create(principal, state.now())
    target = _safe_next(next_path)
    if target == "/" and principal.role == "patrol":
        target = _home(principal)
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(
        COOKIE,
        session.session_id,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(state.sessions.ttl_s),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    session = request.get(SESSION_KEY)
    state.sessions.drop(session.session_id if session else None)
    response = web.json_response({"logged_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def board_page(request: web.Request) -> web.StreamResponse:
    principal = who(request)
    if principal.role == "patrol":
        raise web.HTTPFound(_home(principal))
    need(principal.can_read, "the board needs a viewer, operator or admin token")
    return _page("board.html")


async def patrol_page(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    unit_id = request.match_info["unit"]
    need(who(request).can_see_unit(unit_id), f"this token cannot see unit {unit_id}")
    if unit_id not in {u.id for u in state.cfg.units}:
        raise WebError(f"no unit {unit_id!r} in the configuration", 404)
    return _page("patrol.html")


async def static_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES or name == "login.html":
        raise WebError(f"no asset {name!r}", 404)
    try:
        body = _asset(name)
    except (FileNotFoundError, IsADirectoryError):
        raise WebError(f"no asset {name!r}", 404) from None
    return web.Response(body=body, content_type=STATIC_TYPES[suffix], headers={"Cache-Control": "no-cache"})


async def evidence_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    principal = who(request)
    rel = request.match_info["path"]
    if not principal.can_read:  # before the lookup: a 404 would tell which files exist
        allowed = {state.evidence.relative(p) for p in state.board.unit_evidence(principal.unit or "")}
        need(principal.role == "patrol" and rel in allowed, "a patrol sees only its own cases' pictures")
    target = state.evidence.resolve(rel)
    return web.FileResponse(target, headers={"Content-Type": state.evidence.content_type(target)})


async def metrics(request: web.Request) -> web.Response:
    need(who(request).can_read, "metrics need a viewer, operator or admin token")
    text = request.app[STATE_KEY].metrics()
    return web.Response(text=text, content_type="text/plain", charset="utf-8", headers={"X-Format": "0.0.4"})


# ---------------------------------------------------------------- API: reading


async def whoami(request: web.Request) -> web.Response:
    principal = who(request)
    session = request.get(SESSION_KEY)
    return web.json_response(
        {
            "name": principal.name,
            "role": principal.describe(),
            "unit": principal.unit,
            "can_operate": principal.can_operate,
            "can_read": principal.can_read,
            "home": _home(principal),
            "csrf": session.csrf if session else None,
        }
    )


async def options(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    cfg = state.cfg
    units = [
        {"id": u.id, "name": u.name, "level": u.level} for u in cfg.units if principal.can_see_unit(u.id)
    ]
    body: dict[str, Any] = {"site": cfg.site.name, "timezone": cfg.site.timezone, "units": units}
    if principal.can_read:
        body.update(
            states=list(STATES),
            categories=[
                {"key": k, "code": c.code, "name": c.name, "warn_min_frames": c.warn_min_frames}
                for k, c in cfg.categories.items()
            ],
            cameras=[
                {
                    "id": c.id,
                    "name": c.name,
                    "address": c.location.address,
                    "shop": c.location.shop,
                    "grid": c.grid,
                    "speaker": c.speaker,
                }
                for c in cfg.cameras
            ],
            speakers=[
                {
                    "id": s.id,
                    "name": s.name,
                    "cameras": [c.id for c in cfg.cameras if c.speaker == s.id],
                }
                for s in cfg.speakers
            ],
            grids=[{"id": g.id, "name": g.name, "unit": g.unit} for g in cfg.grids],
        )
    return web.json_response(body)


def _choice(value: str | None, known: set[str], what: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise WebError(f"unknown {what} {value!r}; one of: {listed}")
    return value


def _flag(value: str | None, what: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise WebError(f"{what} must be true or false, not {value!r}")


def _limit(value: str | None, default: int = 200, most: int = 1000) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise WebError(f"limit must be a whole number, not {value!r}") from None
    if not 1 <= n <= most:
        raise WebError(f"limit must be between 1 and {most}")
    return n


def filters_from(query: Any, cfg: Config) -> Filters:
    return Filters(
        state=_choice(query.get("state"), set(STATES), "state"),
        category=_choice(query.get("category"), set(cfg.categories), "category"),
        grid=_choice(query.get("grid"), {g.id for g in cfg.grids}, "grid"),
        camera=_choice(query.get("camera"), {c.id for c in cfg.cameras}, "camera"),
        open_only=_flag(query.get("open"), "open"),
    )


async def list_incidents(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    need(who(request).can_read, "the board needs a viewer, operator or admin token")
    filters = filters_from(request.query, state.cfg)
    limit = _limit(request.query.get("limit"))
    found = state.board.query(filters)
    return web.json_response(
        {
            "incidents": [state.board.view(a, state.evidence_url) for a in found[:limit]],
            "total": len(found),
            "counts": state.board.counts(filters),
            "all_counts": state.board.counts(),
        }
    )


async def get_incident(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    need(who(request).can_read, "incidents need a viewer, operator or admin token")
    alert = state.board.incident(request.match_info["incident_id"])
    if alert is None:
        raise WebError(f"no incident {request.match_info['incident_id']!r} on the board", 404)
    return web.json_response(state.board.view(alert, state.evidence_url))


async def list_broadcasts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    need(who(request).can_read, "broadcast decisions need a viewer, operator or admin token")
    limit = _limit(request.query.get("limit"), default=50, most=500)
    return web.json_response({"decisions": state.board.recent_decisions(limit)})


async def get_broadcast(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    need(who(request).can_read, "broadcast decisions need a viewer, operator or admin token")
    request_id = request.match_info["request_id"]
    decision = state.board.decisions.get(request_id)
    if decision is not None:
        return web.json_response({"status": decision.get("decision"), **decision})
    if request_id in state.pending_broadcasts:
        return web.json_response({"request_id": request_id, "status": "pending"})
    raise WebError(f"no broadcast request {request_id!r} known to this worker", 404)


async def unit_cases(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    unit_id = request.match_info["unit"]
    need(who(request).can_see_unit(unit_id), f"this token cannot see unit {unit_id}'s cases")
    if unit_id not in {u.id for u in state.cfg.units}:
        raise WebError(f"no unit {unit_id!r} in the configuration", 404)
    cases = state.board.unit_cases(unit_id)
    return web.json_response(
        {"unit_id": unit_id, "cases": [state.board.view(a, state.evidence_url) for a in cases]}
    )


# ---------------------------------------------------------------- API: acting


async def incident_action(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    need(principal.can_operate, "incident actions need an operator or admin token")
    incident_id = request.match_info["incident_id"]
    body = await parse_body(request, ActionBody)
    alert = state.board.incident(incident_id)
    if alert is None:
        raise WebError(f"no incident {incident_id!r} on the board", 404)
    current = str(alert.get("state"))
    if current in FINAL_STATES:
        raise WebError(f"incident {incident_id} is {current}: nothing to do", 409)
    if body.action == "close" and not body.reason:
        raise WebError("closing an incident needs a reason")
    if body.action == "confirm" and not (alert.get("review") and current in DISPATCHABLE):
        raise WebError(
            f"incident {incident_id} does not wait for review (it is {current}): nothing to confirm", 409
        )
    if body.action == "dispatch" and current not in DISPATCHABLE:
        raise WebError(
            f"incident {incident_id} is already {current}: it can be dispatched only when open or warned", 409
        )
    # the worker keeps an incident under its subject: the sensor of a sensor incident, else the camera
    subject = alert.get("sensor_id") or alert.get("camera_id")
    if not subject:
        raise WebError(
            f"incident {incident_id} names neither a camera nor a sensor: it cannot be acted on", 409
        )
    value = {
        "kind": "operator",
        "incident_id": incident_id,
        "action": body.action,
        "by": principal.name,
        "reason": body.reason,
        "at": to_iso(state.now()),
    }
    await state.publisher.send(state.topics.incident_inputs, str(subject), value)
    logger.info("web: %s %s incident %s", principal.name, body.action, incident_id)
    return web.json_response({"accepted": True, **value}, status=202)


async def send_broadcast(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    need(principal.can_operate, "broadcasts need an operator or admin token")
    body = await parse_body(request, BroadcastBody)
    cfg = state.cfg
    if bool(body.speaker_id) == bool(body.camera_id):
        raise WebError("name exactly one of speaker_id or camera_id")
    if bool(body.text) == bool(body.template):
        raise WebError("give exactly one of text or template")
    camera_id = body.camera_id
    if camera_id:
        cam = next((c for c in cfg.cameras if c.id == camera_id), None)
        if cam is None:
            raise WebError(f"unknown camera {camera_id!r}; one of: {', '.join(c.id for c in cfg.cameras)}")
        if not cam.speaker:
            raise WebError(f"camera {camera_id} has no loudspeaker")
        speaker_id = cam.speaker
    else:
        speaker_id = str(body.speaker_id)
        if speaker_id not in {s.id for s in cfg.speakers}:
            listed = ", ".join(s.id for s in cfg.speakers) or "none"
            raise WebError(f"unknown speaker {speaker_id!r}; one of: {listed}")
        camera_id = next((c.id for c in cfg.cameras if c.speaker == speaker_id), None)
    if body.template and body.template not in cfg.categories:
        raise WebError(f"unknown template {body.template!r}; one of: {', '.join(cfg.categories)}")
    now = state.now()
    stamp = to_iso(now)
    request_id = make_id("req", principal.name, speaker_id, stamp, body.text or body.template)
    value: dict[str, Any] = {
        "v": 1,
        "request_id": request_id,
        "speaker_id": speaker_id,
        "text": body.text,
        "template": body.template,
        "requested_by": principal.name,
        "reason": body.reason,
        "force": body.force,
        "camera_id": camera_id,
        "requested_at": stamp,
    }
    state.pending_broadcasts[request_id] = time.monotonic()
    while len(state.pending_broadcasts) > 1000:
        state.pending_broadcasts.pop(next(iter(state.pending_broadcasts)))
    try:
        await state.publisher.send(state.topics.broadcast_requests, speaker_id, value)
    except WebError:
        state.pending_broadcasts.pop(request_id, None)  # not sent: no decision will come
        raise
    logger.info("web: %s asks speaker %s to broadcast (%s)", principal.name, speaker_id, request_id)
    return web.json_response({"status": "pending", **value}, status=202)


def _photo_bytes(text: str, max_bytes: int) -> bytes:
    data = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    if len(data) > max_bytes * 4 // 3 + 4:
        raise WebError(f"photo is larger than {max_bytes // (1024 * 1024)} MB", 413)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise WebError("photo is not valid base64") from None


async def case_update(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    case_id = request.match_info["case_id"]
    unit_id = state.board.case_unit(case_id)
    if principal.role != "admin":  # before the lookup: a 404 would tell a patrol which cases exist
        need(principal.can_patrol(unit_id), f"case {case_id} is not with unit {principal.unit}")
    if unit_id is None:
        raise WebError(f"no case {case_id!r} on the board", 404)
    body = await parse_body(request, UpdateBody)
    if body.photo and body.status not in PHOTO_STATUSES:
        raise WebError(
            f"a photo goes only with an arrived or resolved update, not {body.status}: "
            "send this update without the photo"
        )
    alert = state.board.by_case(case_id)
    if alert is not None and alert.get("state") in FINAL_STATES:
        raise WebError(f"case {case_id} is closed", 409)
    now = state.now()
    stamp = to_iso(now)
    note = body.note
    value: dict[str, Any] = {
        "v": 1,
        "case_id": case_id,
        "unit_id": unit_id,
        "status": body.status,
        "note": note,
        "at": stamp,
        "by": principal.name,
    }
    if body.photo:
        quota = state.cfg.web.max_photos_per_case
        if state.evidence.photo_count(case_id) >= quota:
            raise WebError(
                f"case {case_id} already has {quota} photos (web.max_photos_per_case): "
                "send this update without the photo",
                409,
            )
        max_bytes = int(state.cfg.web.max_photo_mb * 1024 * 1024)
        data = _photo_bytes(body.photo, max_bytes)
        if len(data) > max_bytes:
            raise WebError(f"photo is larger than {state.cfg.web.max_photo_mb:g} MB", 413)
        value["photo"] = state.evidence.save_photo(case_id, data, stamp)
        value["note"] = f"{note} (photo attached)".strip()
    await state.publisher.send(state.topics.dispatch_updates, case_id, value)
    logger.info("web: %s reports case %s %s", principal.name, case_id, body.status)
    return web.json_response({"accepted": True, **value}, status=202)


# ---------------------------------------------------------------- live events


async def events(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    principal = who(request)
    need(principal.can_read or principal.role == "patrol", "live events need a token with a role")
    sub = state.hub.subscribe(principal)  # 429 past the caps, before the stream starts
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
        quiet = 0.0
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), GONE_CHECK_S)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client left: free its slot now, not at the next write
                quiet += GONE_CHECK_S
                if quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    await response.write(b": ping\n\n")
                continue
            quiet = 0.0
            if event is None:
                break
            if not state.hub.visible(principal, event):  # reassigned while it waited in the queue
                continue
            await response.write(sse_frame(event))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        state.hub.unsubscribe(sub)
    return response


# ---------------------------------------------------------------- the application


def create_app(state: WebState) -> web.Application:
    max_photo = int(state.cfg.web.max_photo_mb * 1024 * 1024)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, body_middleware],
        client_max_size=max(max_photo * 4 // 3 + JSON_BODY, EXTRA_BODY),  # each route takes less
    )
    app[STATE_KEY] = state
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/login", login_form)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_get("/", board_page)
    r.add_get("/patrol/{unit}", patrol_page)
    r.add_get("/static/{name}", static_asset)
    r.add_get("/evidence/{path:.+}", evidence_file)
    r.add_get("/metrics", metrics)
    r.add_get("/api/whoami", whoami)
    r.add_get("/api/options", options)
    r.add_get("/api/incidents", list_incidents)
    r.add_get("/api/incidents/{incident_id}", get_incident)
    r.add_post("/api/incidents/{incident_id}/actions", incident_action)
    r.add_get("/api/broadcasts", list_broadcasts)
    r.add_post("/api/broadcasts", send_broadcast)
    r.add_get("/api/broadcasts/{request_id}", get_broadcast)
    r.add_get("/api/units/{unit}/cases", unit_cases)
    r.add_post("/api/cases/{case_id}/updates", case_update)
    r.add_get("/api/events", events)
    for method, path, handler in state.extra_routes:
        r.add_route(method, path, handler)
    return app
