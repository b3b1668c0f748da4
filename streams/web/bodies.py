"""What a request brings, checked: JSON bodies (pydantic models), their size limits, query parameters.

A body's declared size is held against its route's limit before it is read
(``body_limit``, see streams/web/middleware.py): a login form ``LOGIN_BODY``,
JSON ``JSON_BODY``, a patrol update with a photo ``web.max_photo_mb`` (base64)
plus JSON, a worker extension's route ``EXTRA_BODY``. Every refusal is a
``WebError`` that names the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.config import Config
from streams.contract.errors import WebError
from streams.contract.params import flag_value
from streams.contract.records import IncidentState
from streams.web.board import Filters
from streams.web.state import STATE_KEY

STATES: tuple[str, ...] = IncidentState.__args__  # type: ignore[attr-defined]
LOGIN_BODY = 4 * 1024  # the login form: a token and where to go next
JSON_BODY = 32 * 1024  # an action, a broadcast, a patrol update without a photo
EXTRA_BODY = 2 * 1024 * 1024  # routes of worker extensions (sensor ingest checks its own 1 MB)
UPDATES_PATH = "/api/cases/{case_id}/updates"  # the one route that takes a photo

M = TypeVar("M", bound=BaseModel)


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


class RecaptureBody(Body):
    reason: str = Field("", max_length=500)


class UpdateBody(Body):
    status: Literal["accepted", "arrived", "resolved", "rejected"]
    note: str = Field("", max_length=1000)
    photo: str | None = Field(None, description="base64 JPEG/PNG, or a data: URL")


# ---------------------------------------------------------------- sizes


def with_photo_limit(cfg: Config) -> int:
    """The largest patrol update: a photo of ``web.max_photo_mb`` in base64, and its JSON."""
    return int(cfg.web.max_photo_mb * 1024 * 1024) * 4 // 3 + JSON_BODY


def body_limit(request: web.Request) -> int:
    """The largest body the request's route takes, in bytes."""
    state = request.app[STATE_KEY]
    if request.path == "/login":
        return LOGIN_BODY
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else ""
    if canonical == UPDATES_PATH:
        return with_photo_limit(state.cfg)
    if any(canonical == path for _, path, _ in state.extra_routes):
        return EXTRA_BODY
    return JSON_BODY


def too_large(limit: int) -> WebError:
    return WebError(f"request body is larger than this route takes ({_size(limit)})", 413)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


# ---------------------------------------------------------------- bodies


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


def photo_bytes(text: str, max_bytes: int) -> bytes:
    """The picture of an update's ``photo`` (base64, or a data: URL)."""
    data = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    if len(data) > max_bytes * 4 // 3 + 4:
        raise WebError(f"photo is larger than {max_bytes // (1024 * 1024)} MB", 413)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise WebError("photo is not valid base64") from None


# ---------------------------------------------------------------- query parameters


def _choice(value: str | None, known: set[str], what: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise WebError(f"unknown {what} {value!r}; one of: {listed}")
    return value


def _flag(value: str | None, what: str) -> bool:
    parsed = flag_value(value)
    if parsed is None:
        raise WebError(f"{what} must be true or false, not {value!r}")
    return parsed


def query_limit(value: str | None, default: int = 200, most: int = 1000) -> int:
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
