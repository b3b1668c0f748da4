"""What the command centre tells about itself and its caller: health, metrics, the caller, the options.

GET /healthz        200 ok, or 503 degraded while a health report says not ok (no token)
GET /metrics        Prometheus text (streams/web/metrics.py)
GET /api/whoami     the caller, and the CSRF token of a browser session
GET /api/options    what the pages offer: units the caller sees; for readers also states,
                    categories, cameras, speakers and grids
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from streams.clients.camera_commands import background_zones
from streams.config import Config
from streams.logic.lifecycle import describe as describe_lifecycle
from streams.web.auth import Principal
from streams.web.bodies import STATES
from streams.web.metrics import CONTENT_TYPE
from streams.web.pages import home
from streams.web.scope import cameras_in_scope, speaker_in_scope
from streams.web.state import SESSION_KEY, STATE_KEY, who


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
            "feed": state.feed_report(),
            **reports,
        },
        status=503 if degraded else 200,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.Response:
    text = request.app[STATE_KEY].metrics()
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})


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
            "scope": {"kind": principal.scope.kind, "id": principal.scope.id} if principal.scope else None,
            "home": home(principal),
            "csrf": session.csrf if session else None,
        }
    )


async def options(request: web.Request) -> web.Response:
    """What the pages offer the caller: its units; a reader also the board's choices (a scoped
    reader: those in its scope)."""
    cfg = request.app[STATE_KEY].cfg
    principal = who(request)
    body: dict[str, Any] = {
        "site": cfg.site.name,
        "timezone": cfg.site.timezone,
        "units": units(cfg, principal),
        "lifecycle": describe_lifecycle(),  # every role's pages read the states from here
    }
    if principal.can_read:
        shown = {c.id for c in cameras_in_scope(principal, cfg)}
        body.update(
            states=list(STATES),
            categories=[c for c in categories(cfg) if principal.sees_category(c["key"])],
            cameras=[c for c in cameras(cfg) if c["id"] in shown],
            speakers=[s for s in speakers(cfg) if speaker_in_scope(principal, cfg, s["id"])],
            grids=[
                {"id": g.id, "name": g.name, "unit": g.unit} for g in cfg.grids if principal.sees_grid(g.id)
            ],
        )
    return web.json_response(body)


def units(cfg: Config, principal: Principal) -> list[dict[str, Any]]:
    return [{"id": u.id, "name": u.name, "level": u.level} for u in cfg.units if principal.can_see_unit(u.id)]


def categories(cfg: Config) -> list[dict[str, Any]]:
    return [
        {"key": k, "code": c.code, "name": c.name, "warn_min_frames": c.warn_min_frames}
        for k, c in cfg.categories.items()
    ]


def cameras(cfg: Config) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "address": c.location.address,
            "shop": c.location.shop,
            "grid": c.grid,
            "speaker": c.speaker,
            # zones an operator may re-capture the static-object background of
            "background_zones": background_zones(cfg, c),
        }
        for c in cfg.cameras
    ]


def speakers(cfg: Config) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "name": s.name, "cameras": [c.id for c in cfg.cameras if c.speaker == s.id]}
        for s in cfg.speakers
    ]
