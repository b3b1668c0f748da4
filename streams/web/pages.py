"""The pages and files of the command centre: login, board, patrol view, reports, camera wall, map,
evidence pictures.

Who may open each one is declared in the route table (streams/web/api.py);
a handler here checks only what the table cannot (the unit exists, the file exists).
"""

from __future__ import annotations

import html
import logging
from importlib import resources

from aiohttp import web

from streams.contract.errors import WebError
from streams.web.auth import Principal, same_origin
from streams.web.scope import incident_in_scope
from streams.web.state import COOKIE, SESSION_KEY, STATE_KEY, WebState, known_unit, who

logger = logging.getLogger(__name__)

STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".html": "text/html", ".svg": "image/svg+xml"}


def _asset(name: str) -> bytes:
    return resources.files("streams.web").joinpath("static", name).read_bytes()


def login_page(next_path: str, error: str, status: int = 200) -> web.Response:
    text = _asset("login.html").decode("utf-8")
    text = text.replace("{{next}}", html.escape(safe_next(next_path), quote=True))
    text = text.replace("{{error}}", html.escape(error))
    return web.Response(
        text=text, status=status, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def safe_next(path: str | None) -> str:
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


def home(principal: Principal) -> str:
    """Where a caller's pages start: the board, or its unit's patrol page."""
    return f"/patrol/{principal.unit}" if principal.role == "patrol" else "/"


def page(name: str) -> web.Response:
    return web.Response(
        body=_asset(name), content_type="text/html", charset="utf-8", headers={"Cache-Control": "no-store"}
    )


async def login_form(request: web.Request) -> web.Response:
    return login_page(request.query.get("next", "/"), "")


def _too_many_logins(state: WebState, address: str) -> web.Response:
    wait = state.logins.retry_after(address)
    logger.warning("web: too many logins from %s: refused for %d s", address, wait)
    response = login_page("/", f"Too many login attempts: try again in {wait} s.", status=429)
    response.headers["Retry-After"] = str(wait)
    response.force_close()  # the form is not read
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if not same_origin(request.headers.get("Origin"), request.host):
        raise WebError("login from another site is refused", 403)
    address = request.remote or "unknown"
    if not state.logins.allow(address, state.now()):
        return _too_many_logins(state, address)
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
    target = safe_next(next_path)
    if target == "/" and principal.role == "patrol":
        target = home(principal)
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
        raise web.HTTPFound(home(principal))
    return page("board.html")


async def patrol_page(request: web.Request) -> web.Response:
    known_unit(request.app[STATE_KEY], request.match_info["unit"])
    return page("patrol.html")


async def reports_page(request: web.Request) -> web.Response:
    return page("reports.html")


async def cameras_page(request: web.Request) -> web.Response:
    return page("cameras.html")


async def camera_page(request: web.Request) -> web.Response:
    from streams.web.cameras import known_camera

    known_camera(request.app[STATE_KEY].cfg, request.match_info["camera_id"])
    return page("camera.html")


async def wall_page(request: web.Request) -> web.Response:
    return page("wall.html")


async def map_page(request: web.Request) -> web.Response:
    return page("map.html")


async def vendor_asset(request: web.Request) -> web.Response:
    """A vendored library (static/vendor/: Apache ECharts, Leaflet, with their licences); it does
    not change between releases, so browsers may keep it a day."""
    return _served("vendor/" + request.match_info["name"], "public, max-age=86400")


async def static_asset(request: web.Request) -> web.Response:
    return _served(request.match_info["name"], "no-cache")


def _served(path: str, cache: str) -> web.Response:
    name = path.rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES or name == "login.html":
        raise WebError(f"no asset {name!r}", 404)
    try:
        body = _asset(path)
    except (FileNotFoundError, IsADirectoryError):
        raise WebError(f"no asset {name!r}", 404) from None
    return web.Response(body=body, content_type=STATIC_TYPES[suffix], headers={"Cache-Control": cache})


def sees_evidence(principal: Principal, request: web.Request) -> bool:
    """Readers see every picture; a street's reader those of its cameras (camera evidence lies
    under ``<camera>/``, also for incidents only in the case record) and of the board's
    incidents in its scope, a department's reader the latter, a patrol only its own cases'
    (checked before the file is looked up)."""
    if principal.can_read and principal.scope is None:
        return True
    state = request.app[STATE_KEY]
    wanted = request.match_info["path"]
    if principal.can_read:
        scope = principal.scope
        streets_cameras = {
            c.id for c in state.cfg.cameras if scope and scope.kind == "street" and c.grid in scope.grids
        }
        if wanted.split("/", 1)[0] in streets_cameras:
            return True
        board = state.board
        paths = board.evidence_of(
            a for a in board.incidents.values() if incident_in_scope(principal, state.cfg, a)
        )
    elif principal.role == "patrol":
        paths = state.board.unit_evidence(principal.unit or "")
    else:
        return False
    return wanted in {state.evidence.relative(p) for p in paths}


async def evidence_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    target = state.evidence.resolve(request.match_info["path"])
    return web.FileResponse(target, headers={"Content-Type": state.evidence.content_type(target)})
