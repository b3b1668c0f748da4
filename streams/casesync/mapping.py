"""What the city's case system (数字城管, GB/T 30428) is sent, and what its statuses mean here (pure).

A case is pushed whole at each stage it reaches, as one JSON object whose field names come
from ``case_system.fields`` (defaults: streams/config/case_system.py ``DEFAULT_FIELDS``):

    revision 1  派遣  the dispatch record (citywatch.dispatch)
    revision 2  处置  the incident was resolved (citywatch.alerts: resolved / verifying)
    revision 3  核查  the camera verified it
    revision 4  结案  the incident closed

Its idempotency key is ``<case_id>:<revision>``: a stage is accepted once, however often it
is pushed (a replay, a restart, the same stage seen on several alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.config.case_system import CaseSystem
from streams.contract.errors import RecordError
from streams.contract.records import Alert, DispatchCase, decode

STAGES: dict[str, int] = {"dispatched": 1, "resolved": 2, "verifying": 2, "verified": 3, "closed": 4}
STAGE_TIMES: dict[str, str] = {"resolved": "resolved_at", "verified": "verified_at", "closed": "closed_at"}

# the city's statuses -> a patrol update's status here
CITY_STATUSES: dict[str, str] = {
    "受理": "accepted",
    "派遣": "accepted",
    "处置中": "arrived",
    "已处置": "resolved",
    "已核查": "resolved",
    "结案": "resolved",
    "退回": "rejected",
}
OWN_STATUSES = ("accepted", "arrived", "resolved", "rejected")


@dataclass(frozen=True)
class CaseView:
    """One case as the case system sees it, from a dispatch record or an alert."""

    case_id: str
    revision: int
    category_code: str
    category_name: str
    address: str
    grid_id: str | None
    lat: float | None
    lon: float | None
    unit_id: str
    evidence: list[str]
    times: dict[str, str] = field(default_factory=dict)  # filed_at, dispatched_at, resolved_at, ...
    deadline: str | None = None

    @property
    def key(self) -> str:
        return f"{self.case_id}:{self.revision}"


def from_dispatch(raw: bytes | str | dict[str, Any]) -> CaseView:
    """The case of a dispatch record (revision 1); RecordError names a bad field."""
    case = decode(DispatchCase, raw)
    loc = case.location
    return CaseView(
        case_id=case.case_id,
        revision=1,
        category_code=case.category.code,
        category_name=case.category.name,
        address=loc.address,
        grid_id=case.grid_id or loc.grid_id,
        lat=loc.lat,
        lon=loc.lon,
        unit_id=case.unit_id,
        evidence=list(case.evidence),
        times={"filed_at": case.created_at, "dispatched_at": case.created_at},
        deadline=case.due_at,
    )


def from_alert(raw: bytes | str | dict[str, Any]) -> CaseView | None:
    """The case of an alert that moved it past dispatch (revision 2-4); None for an alert without
    a case or before it is resolved. RecordError names a bad field."""
    alert = decode(Alert, raw)
    extra = alert.model_extra or {}
    case_id, unit_id = extra.get("case_id"), extra.get("unit_id")
    revision = STAGES.get(alert.state, 0)
    if not case_id or not isinstance(case_id, str) or revision < 2:
        return None
    if not isinstance(unit_id, str) or not unit_id:
        why = f"incident {alert.incident_id} has case {case_id} but no unit_id"
        raise RecordError("Alert", "unit_id", why)
    times: dict[str, str] = {}
    for entry in alert.history:
        if entry.state == "dispatched":
            times.setdefault("filed_at", entry.at)
            times.setdefault("dispatched_at", entry.at)
        elif entry.state in STAGE_TIMES:
            times[STAGE_TIMES[entry.state]] = entry.at  # the latest: a reopened case was resolved again
    if alert.state == "closed":
        times.setdefault("closed_at", alert.updated_at)
    loc = alert.location
    return CaseView(
        case_id=case_id,
        revision=revision,
        category_code=alert.category.code,
        category_name=alert.category.name,
        address=loc.address,
        grid_id=loc.grid_id,
        lat=loc.lat,
        lon=loc.lon,
        unit_id=unit_id,
        evidence=list(alert.evidence),
        times=times,
    )


def category_names(code: str, name: str, cfg: CaseSystem) -> tuple[str, str]:
    """(大类, 小类) of a GB/T 30428 code: the configured names, else the 4-digit 大类 code and
    the whole code (or citywatch's own name where the code is not a GB/T one)."""
    known = cfg.categories.get(code)
    if known is not None:
        return known.major, known.minor
    if len(code) == 6 and code.isdigit():
        return code[:4], code
    return name or code, name or code


def description(view: CaseView) -> str:
    where = view.address or (f"网格{view.grid_id}" if view.grid_id else "位置未知")
    return f"{view.category_name or view.category_code}：{where}（{'、'.join(_evidence_note(view))}）"


def _evidence_note(view: CaseView) -> list[str]:
    notes = ["摄像机自动发现"]
    if view.evidence:
        notes.append(f"附证据{len(view.evidence)}张")
    return notes


def payload(view: CaseView, cfg: CaseSystem) -> dict[str, Any]:
    """The JSON object the case system is sent for ``view``, under its configured field names."""
    major, minor = category_names(view.category_code, view.category_name, cfg)
    values: dict[str, Any] = {
        "case_number": cfg.case_prefix + view.case_id,
        "source": cfg.source,
        "major": major,
        "minor": minor,
        "category_code": view.category_code,
        "address": view.address,
        "grid": view.grid_id,
        "lat": view.lat,
        "lon": view.lon,
        "description": description(view),
        "filed_at": view.times.get("filed_at"),
        "dispatched_at": view.times.get("dispatched_at"),
        "resolved_at": view.times.get("resolved_at"),
        "verified_at": view.times.get("verified_at"),
        "closed_at": view.times.get("closed_at"),
        "deadline": view.deadline,
        "unit": view.unit_id,
        "evidence": view.evidence,
    }
    names = cfg.field_names()
    out = {names[k]: v for k, v in values.items() if v is not None}
    out["revision"] = view.revision
    return out


def city_status(text: str) -> str:
    """A patrol update's status for the city's status (受理, 已处置, ... or one of ours);
    ValueError naming the statuses it takes."""
    status = text.strip()
    if status in OWN_STATUSES:
        return status
    if status in CITY_STATUSES:
        return CITY_STATUSES[status]
    known = "、".join(CITY_STATUSES)
    own = ", ".join(OWN_STATUSES)
    raise ValueError(f"status {text!r} is not a case system status: use one of {known} (or {own})")
