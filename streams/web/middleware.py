"""What runs around every route, in this order: errors to JSON, who is asking, how large the body is.

Every error is JSON ``{"error": "..."}`` with a 4xx status (pages: the login
form on 401). A bearer token (``Authorization: Bearer …``) or the session cookie
authenticates; with the cookie, a state-changing request needs ``X-CSRF-Token``.
The caller is authenticated from its headers before a byte of the body is read
(401/403); then the body's declared size is held against its route's limit (413).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web
from aiohttp.typedefs import Middleware

from streams.contract.errors import WebError
from streams.web.auth import Principal, Session, csrf_ok, same_origin
from streams.web.bodies import body_limit, too_large
from streams.web.pages import login_page
from streams.web.state import COOKIE, CSRF_HEADER, PRINCIPAL_KEY, SESSION_KEY, STATE_KEY

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def _wants_json(request: web.Request) -> bool:
    path = request.path
    return path.startswith(("/api/", "/evidence/", "/static/")) or path in ("/metrics", "/logout")


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


def _unauthorized(message: str) -> web.Response:
    return json_error(401, message, **{"WWW-Authenticate": "Bearer"})


def _bearer(request: web.Request) -> Principal | web.Response:
    """The principal of an ``Authorization`` header, or the 401 that refuses it."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("Authorization header must be 'Bearer TOKEN'")
    principal = request.app[STATE_KEY].tokens.lookup(token.strip())
    return principal if principal is not None else _unauthorized("unknown token")


def _csrf_refusal(request: web.Request, session: Session) -> web.Response | None:
    """A browser session's state-changing request must carry its CSRF token and come from this site."""
    if request.method in SAFE_METHODS:
        return None
    if not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        return json_error(403, f"CSRF check failed: send the {CSRF_HEADER} header from /api/whoami")
    if not same_origin(request.headers.get("Origin"), request.host):
        return json_error(403, "CSRF check failed: the request comes from another site")
    return None


def auth_middleware(public: Collection[str]) -> Middleware:
    """Authenticate every request but those to the ``public`` paths (which need no token)."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public:
            return await handler(request)
        state = request.app[STATE_KEY]
        session: Session | None = None
        if request.headers.get("Authorization", ""):
            found = _bearer(request)
            if isinstance(found, web.Response):
                return found
            principal: Principal | None = found
        else:
            session = state.sessions.get(request.cookies.get(COOKIE), state.now())
            principal = session.principal if session else None
        if principal is None:
            if _wants_json(request) or request.method not in SAFE_METHODS:
                return _unauthorized("a token is needed: send 'Authorization: Bearer TOKEN' or log in")
            return login_page(request.path_qs, "", status=401)
        if session is not None:
            refusal = _csrf_refusal(request, session)
            if refusal is not None:
                return refusal
            request[SESSION_KEY] = session
        request[PRINCIPAL_KEY] = principal
        return await handler(request)

    return authenticate


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
