"""The city's case system (数字城管) reports a case's status back to the command centre.

    POST /api/integrations/case-system/callback     (an ``integration`` token only: 403 for any other)
      {"case_id": "...", "status": "已处置", "note": "...", "at": "2026-05-26T02:14:03Z"}
      (or 案件编号 / 状态 / 备注 / 时间; 案件编号 may carry case_system.case_prefix)
      202 {"accepted": true, ...}   the status became a dispatch-update of the case (as its patrol's)
      200 {"duplicate": true}       the same case, status and time came before: nothing is sent again
      400 {"error": "..."}          what is wrong with the body (an unknown status lists the known ones)
      404                           no such case on the board;  409: the case is closed

The city's statuses map to a patrol's (streams/casesync/mapping.py ``CITY_STATUSES``): 已处置
becomes ``resolved``, and the worker then verifies with the camera and closes the case as it
does after a patrol's resolved. ``parse_callback`` is the pure part.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from streams.casesync.mapping import city_status
from streams.contract.errors import WebError
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.lifecycle import FINAL_STATES
from streams.web.state import STATE_KEY, who

logger = logging.getLogger(__name__)

PATH = "/api/integrations/case-system/callback"
MAX_NOTE = 1000
MAX_SEEN = 10_000
ALIASES = {"case_id": "案件编号", "status": "状态", "note": "备注", "at": "时间"}


@dataclass(frozen=True)
class Callback:
    case_id: str
    status: str  # one of a patrol update's
    city_status: str  # as the city wrote it
    note: str
    at: str | None  # ISO time, None: not given

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.case_id, self.city_status, self.at or "")


def _field(data: dict[str, Any], name: str) -> Any:
    if name in data and ALIASES[name] in data and data[name] != data[ALIASES[name]]:
        raise ValueError(f"{name} and {ALIASES[name]} differ: send one of them")
    return data.get(name, data.get(ALIASES[name]))


def parse_callback(raw: bytes, case_prefix: str = "") -> Callback:
    """The callback of a request body; ValueError saying what to fix."""
    if not raw:
        raise ValueError(
            "request body is empty: send a JSON object with case_id (案件编号) and status (状态)"
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"request body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("request body must be a JSON object: case_id (案件编号), status (状态), note, at")
    case_id, status = _field(data, "case_id"), _field(data, "status")
    note, at = _field(data, "note"), _field(data, "at")
    if not isinstance(case_id, str) or not case_id.strip():
        raise ValueError("case_id (案件编号) is missing: send the case's number")
    case_id = case_id.strip()
    if case_prefix and case_id.startswith(case_prefix):
        case_id = case_id[len(case_prefix) :]
    if not isinstance(status, str):
        raise ValueError("status (状态) is missing: send the case's status, e.g. 已处置")
    mapped = city_status(status)
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValueError(f"note (备注) must be text of at most {MAX_NOTE} characters")
    if at is not None:
        if not isinstance(at, str):
            raise ValueError("at (时间) must be an ISO 8601 time, e.g. 2026-05-26T10:14:03+08:00")
        try:
            at = to_iso(from_iso(at))
        except ValueError:
            why = f"at (时间) {at!r} is not an ISO 8601 time, e.g. 2026-05-26T10:14:03+08:00"
            raise ValueError(why) from None
    return Callback(case_id, mapped, status.strip(), note, at)


class SeenCallbacks:
    """The latest ``limit`` callbacks' keys: a repeat is answered without a second update."""

    def __init__(self, limit: int = MAX_SEEN) -> None:
        self.limit = limit
        self._keys: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        return key in self._keys

    def add(self, key: tuple[str, str, str]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.limit:
            self._keys.popitem(last=False)


SEEN_KEY = web.AppKey("case_system_callbacks", SeenCallbacks)


async def case_system_callback(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    principal = who(request)
    prefix = state.cfg.case_system.case_prefix if state.cfg.case_system else ""
    try:
        callback = parse_callback(await request.read(), prefix)
    except ValueError as exc:
        raise WebError(str(exc)) from None
    seen = request.app[SEEN_KEY]
    if callback.key in seen:
        return web.json_response({"duplicate": True, "case_id": callback.case_id}, status=200)
    unit_id = state.board.case_unit(callback.case_id)
    if unit_id is None:
        raise WebError(f"no case {callback.case_id!r} on the board", 404)
    alert = state.board.by_case(callback.case_id)
    if alert is not None and alert.get("state") in FINAL_STATES:
        raise WebError(f"case {callback.case_id} is closed", 409)
    note = f"数字城管 {callback.city_status}" + (f": {callback.note}" if callback.note else "")
    value: dict[str, Any] = {
        "v": 1,
        "case_id": callback.case_id,
        "unit_id": unit_id,
        "status": callback.status,
        "note": note,
        "at": to_iso(state.now()),  # the worker's clock orders a case's updates, not the city's
        "by": principal.name,
        "source": "case_system",
    }
    if callback.at is not None:
        value["reported_at"] = callback.at
    await state.publisher.send(state.topics.dispatch_updates, callback.case_id, value)
    seen.add(callback.key)
    logger.info("web: the case system reports case %s %s (%s)", callback.case_id, callback.city_status,
                callback.status)  # fmt: skip
    return web.json_response({"accepted": True, **value}, status=202)
