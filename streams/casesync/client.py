"""Pushing one case to the city's case system over HTTP (the I/O edge of ``citywatch casesync``).

    2xx                       accepted
    409 (a duplicate key)     accepted before: the same as accepted
    429, 5xx, no answer       try again after the backoff (capped_s doubling), until ``stop``
    any other 4xx             refused for good: the record is dead-lettered with the reason

``outcome`` is the pure part: an HTTP status (None: no answer) into what to do.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from streams.backoff import Backoff
from streams.casesync.mapping import CaseView, payload
from streams.config.case_system import CaseSystem
from streams.contract.errors import CitywatchError

logger = logging.getLogger(__name__)

Outcome = Literal["accepted", "duplicate", "retry", "refused"]
MAX_REASON = 300  # characters of a refusal's body kept in the dead letter


class CaseSyncError(CitywatchError):
    """The case system cannot be used as configured (e.g. its credentials are not in the environment)."""


def outcome(status: int | None) -> Outcome:
    if status is None or status == 429 or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "accepted"
    if status == 409:
        return "duplicate"
    return "refused"  # other 4xx (and 1xx/3xx, which a JSON API does not answer)


def auth_headers(cfg: CaseSystem, environ: Mapping[str, str]) -> dict[str, str]:
    """The Authorization header of the configured credentials; CaseSyncError names a missing variable."""

    def need(name: str) -> str:
        value = environ.get(name, "")
        if not value:
            raise CaseSyncError(
                f"case_system: environment variable {name} is not set: export it before starting"
            )
        return value

    if cfg.token_env:
        return {"Authorization": f"Bearer {need(cfg.token_env)}"}
    if cfg.basic:
        pair = f"{need(cfg.basic.user_env)}:{need(cfg.basic.password_env)}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


@dataclass(frozen=True)
class Result:
    outcome: Literal["accepted", "duplicate", "refused", "stopped"]
    attempts: int
    reason: str = ""


class CaseClient:
    """Pushes cases, trying again with backoff until the case system answers for good or ``stop``."""

    def __init__(
        self,
        cfg: CaseSystem,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers.update(auth_headers(cfg, os.environ if environ is None else environ))
        self._http = httpx.Client(timeout=cfg.timeout_s, headers=headers, transport=transport)
        self.failures = 0  # attempts answered with retry, in all

    def close(self) -> None:
        self._http.close()

    def push(self, view: CaseView, stop: threading.Event) -> Result:
        body = json.dumps(payload(view, self.cfg), ensure_ascii=False).encode("utf-8")
        backoff = Backoff(self.cfg.backoff_initial_s, 2.0, self.cfg.backoff_cap_s)
        attempts = 0
        while not stop.is_set():
            attempts += 1
            status, text = self._send(view.key, body)
            result = outcome(status)
            if result in ("accepted", "duplicate"):
                return Result(result, attempts)
            if result == "refused":
                reason = f"the case system refused case {view.key} ({status}): {text}"
                return Result("refused", attempts, reason)
            self.failures += 1
            delay = backoff.next()
            if attempts > self.cfg.retries:  # one pass spent: keep trying, at the longest wait
                delay = self.cfg.backoff_cap_s
            logger.warning("casesync: case %s not accepted (%s); again in %.1f s", view.key, text, delay)
            if stop.wait(delay):
                break
        return Result("stopped", attempts)

    def _send(self, key: str, body: bytes) -> tuple[int | None, str]:
        try:
            res = self._http.post(self.cfg.url, content=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return res.status_code, _reason(res)


def _reason(res: httpx.Response) -> str:
    text = res.text.strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "msg", "reason"):
            if isinstance(data.get(key), str):
                text = data[key]
                break
    return f"HTTP {res.status_code} {text[:MAX_REASON]}".strip()
