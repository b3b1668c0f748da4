"""What every route of the command centre shares: its state, and who is asking.

``WebState`` is built once per worker (streams/web/server.py) and kept on the
aiohttp application under ``STATE_KEY``; the authentication middleware puts the
caller under ``PRINCIPAL_KEY`` (and a browser session under ``SESSION_KEY``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import Engine

from streams.config import Config
from streams.contract.errors import WebError
from streams.contract.topics import Topics
from streams.store.database import LazyEngine, database_url
from streams.store.reader import HistoryReader
from streams.web.auth import LoginLimiter, Principal, Session, Sessions, TokenRegistry
from streams.web.board import Board
from streams.web.events import Hub
from streams.web.evidence import EvidenceFiles
from streams.web.metrics import Histogram
from streams.web.scope import event_in_scope

COOKIE = "citywatch_session"
CSRF_HEADER = "X-CSRF-Token"


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
    metrics: Callable[[], str] = lambda: ""  # the Prometheus text of /metrics (streams/web/metrics.py)
    now: Callable[[], float] = time.time
    latency: dict[str, Histogram] = field(default_factory=dict)
    pending_broadcasts: dict[str, float] = field(default_factory=dict)
    ready: Callable[[], bool] = lambda: True
    # the worker's health reports by name (streams/worker/resilience.py: "kafka"); "ok": false -> 503
    health: Callable[[], dict[str, dict[str, Any]]] = dict
    extra_routes: list[tuple[str, str, Any]] = field(default_factory=list)  # from worker extensions
    history: HistoryReader | None = None  # the case record, read only (None: no history here)
    feed_report: Callable[[], dict[str, Any]] = dict  # how the board's reader started (/healthz)
    # the case record's engine, opened on first use (reports); default: the configured database
    case_record: Callable[[], Engine] | None = None
    config_path: Path | None = None  # the worker's cameras.yaml (the zone editor reads and saves it)
    logins: LoginLimiter = field(init=False)  # from web.login_attempts_per_min

    def __post_init__(self) -> None:
        web_cfg = self.cfg.web
        self.hub.max_streams = web_cfg.max_streams
        self.hub.per_token = web_cfg.max_streams_per_token
        self.hub.assigned = self.board.assigned  # who sees an incident: its assignment now
        self.hub.in_scope = lambda principal, event: event_in_scope(principal, self.cfg, self.board, event)
        self.logins = LoginLimiter(web_cfg.login_attempts_per_min)
        if self.case_record is None:
            self.case_record = LazyEngine(database_url(None, self.cfg.store.url))

    def evidence_url(self, path: str) -> str | None:
        return self.evidence.url(path)


STATE_KEY = web.AppKey("citywatch_state", WebState)
PRINCIPAL_KEY = web.RequestKey("citywatch_principal", Principal)
SESSION_KEY = web.RequestKey("citywatch_session", Session)


def who(request: web.Request) -> Principal:
    """The caller, as the authentication middleware found it."""
    return request[PRINCIPAL_KEY]


def out_of_scope(principal: Principal, what: str) -> WebError:
    """The one 403 a scoped token gets for something outside its scope, or that does not exist:
    the answer does not tell which (so another street's ids stay unknown)."""
    scope = principal.scope.describe() if principal.scope else "this token"
    return WebError(f"forbidden: {what} is not in {scope}'s scope (or does not exist)", 403)


def known_unit(state: WebState, unit_id: str) -> None:
    """404 unless ``unit_id`` is under ``units:`` in the configuration."""
    if unit_id not in {u.id for u in state.cfg.units}:
        raise WebError(f"no unit {unit_id!r} in the configuration", 404)
