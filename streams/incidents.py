"""Incidents: the lifecycle of DESIGN.md as pure functions over one camera's book.

    open --warn--> warned --clear within grace--> cleared --> closed
      |               `--still there after grace--> dispatched --> accepted --> arrived --> resolved
      |                                                 ^                                       |
      |                                 reopened <--camera still sees it-- verifying <----------'
      |                                                  `--camera sees it clear--> verified --> closed
    dispatched/accepted past due_at --> overdue (escalated one level)
    open (review: seen in too few frames) --operator confirm--> warning requested; no
      automatic warning and no automatic dispatch until an operator confirms, dispatches or closes

A warning asked for is answered by the broadcast policy before grace can end
(``warn_pending``); deadlines due before an input fire before it is applied; each
book keeps its own event clock (``KeyClock``). History is bounded (first and
latest entries, ``history_omitted``) and every alert carries a ``revision``.

Exactly one open incident per (camera, zone, category); its id is derived from
those and the violation's start, so a redelivered or replayed violation never
opens a twin. Every function takes the camera's ``Book``, one input and its
event time, mutates the book and returns the effects to publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from streams.clock import KeyClock
from streams.config import Config
from streams.ids import make_id
from streams.timeutil import to_iso

MAX_EVIDENCE = 10
MAX_LABELS = 20
MAX_CLOSED_REMEMBERED = 200
MAX_VERIFY_WAITS = 3  # verification periods to wait for the camera's word after a resolve
# history kept in the table and on the alerts topic: the first entries and the latest ones
# (the case record keeps all of it); what was left out in between is counted
HISTORY_HEAD = 20
HISTORY_TAIL = 80
# how long (event time past the grace deadline) an incident waits for the broadcast policy's
# answer to its warning before it carries on without one
OUTCOME_WAIT_S = 60.0

OPEN_STATES = ("open", "warned")
CASE_STATES = ("dispatched", "accepted", "arrived", "overdue", "reopened")


@dataclass
class Incident:
    incident_id: str
    camera_id: str
    zone_id: str
    category: str
    state: str
    opened_at: float
    updated_at: float
    present: bool = True
    last_seen_at: float = 0.0
    grace_until: float | None = None
    warnings: int = 0
    case_id: str | None = None
    unit_id: str | None = None
    level: str | None = None
    due_at: float | None = None
    round: int = 0
    rework: int = 0
    verify_until: float | None = None
    resolved_at: float | None = None
    verify_waits: int = 0
    overdue_noted: bool = False
    held: bool = False
    evidence: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    history_omitted: int = 0
    revision: int = 0  # counts the changes published as alerts: a larger revision is newer
    # a warning was asked for and the policy has not answered yet: the grace deadline and a
    # clear wait for the answer, so the outcome never depends on which arrives first
    warn_pending: bool = False
    cleared_at: float | None = None  # a clear seen while the warning was pending
    rejected_round: int | None = None  # rejected with no higher level in this round: needs an operator
    # sensor and health incidents (streams/feeds.py): camera_id is "" for a sensor's
    # incident; source is camera (a zone violation), sensor, or health (camera offline)
    sensor_id: str | None = None
    source: str = "camera"
    # how sure the camera was when the violation started (None: the producer did not count), and
    # whether it was too unsure for an automatic warning: an operator then confirms (review)
    frames_seen: int | None = None
    frames: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    review: bool = False

    @property
    def key(self) -> str:
        return f"{self.zone_id}|{self.category}"

    @property
    def subject(self) -> str:
        """The id whose book holds this incident: the sensor's, else the camera's."""
        return self.sensor_id or self.camera_id


@dataclass
class Book(KeyClock):
    """Open incidents of one camera (or sensor), the ids it closed recently, and its clock."""

    open: dict[str, Incident] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    held: bool = False  # the camera is offline or degraded: new incidents start held

    def by_case(self, case_id: str) -> Incident | None:
        for inc in self.open.values():
            if inc.case_id == case_id:
                return inc
        return None

    def by_id(self, incident_id: str) -> Incident | None:
        for inc in self.open.values():
            if inc.incident_id == incident_id:
                return inc
        return None

    def next_deadline(self) -> float | None:
        """The earliest deadline a tick could fire; held incidents have none until released."""
        times = [t for inc in self.open.values() if not inc.held for t in _deadlines(inc) if t is not None]
        return min(times) if times else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "open": {k: asdict(v) for k, v in self.open.items()},
            "closed": list(self.closed),
        }
        if self.held:
            data["held"] = True
        if self.clock is not None:
            data["clock"] = self.clock
            data["clock_wall"] = self.clock_wall
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Book:
        if not data:
            return cls()
        clock = data.get("clock")
        return cls(
            open={k: Incident(**v) for k, v in data.get("open", {}).items()},
            closed=list(data.get("closed", [])),
            held=bool(data.get("held", False)),
            clock=float(clock) if clock is not None else None,
            clock_wall=float(data.get("clock_wall", 0.0)),
        )


def _deadlines(inc: Incident) -> tuple[float | None, ...]:
    grace = inc.grace_until
    if grace is not None and inc.warn_pending:
        grace += OUTCOME_WAIT_S  # the policy's answer normally comes first and moves it
    return (grace, inc.verify_until, None if inc.overdue_noted else inc.due_at)


@dataclass(frozen=True)
class Effect:
    """Something to publish: kind is alert | warn | dispatch | case."""

    kind: str
    key: str
    value: dict[str, Any]


class Context:
    """What the incident logic needs to know of the configuration."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.cameras = {c.id: c for c in cfg.cameras}
        self.units = {u.id: u for u in cfg.units}
        self.grids = {g.id: g for g in cfg.grids}
        self.sensors = {s.id: s for s in cfg.sensors}

    def category_ref(self, key: str) -> dict[str, str]:
        cat = self.cfg.categories.get(key)
        return {"key": key, "code": cat.code if cat else "", "name": cat.name if cat else key}

    def location(self, camera_id: str) -> dict[str, Any]:
        """Where a camera (or a sensor: any subject id) is."""
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        if cam is None:
            return {"address": "", "grid_id": None, "lat": None, "lon": None}
        loc = cam.location
        return {
            "address": loc.address,
            "shop": loc.shop,
            "grid_id": cam.grid,
            "lat": loc.lat,
            "lon": loc.lon,
        }

    def grid_unit(self, camera_id: str) -> str | None:
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        grid = self.grids.get(cam.grid) if cam else None
        return grid.unit if grid else None

    def speaker_of(self, subject: str) -> str | None:
        """The loudspeaker of a camera or a sensor, if it has one."""
        found = self.cameras.get(subject) or self.sensors.get(subject)
        return found.speaker if found else None

    def warning_text(self, camera_id: str, category: str) -> str:
        cat = self.cfg.categories.get(category)
        cam = self.cameras.get(camera_id) or self.sensors.get(camera_id)
        template = (cat.template if cat else "") or "请注意：此处禁止{name}，请立即整改。"
        values = {
            "address": cam.location.address if cam else "",
            "shop": cam.location.shop if cam else "",
            "camera": cam.name if cam and cam.name else camera_id,
            "name": cat.name if cat else category,
        }
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template


# ---------------------------------------------------------------- helpers


def _note(
    inc: Incident, at: float, state: str, by: str, note: str, effects: list[Effect], ctx: Context
) -> None:
    """Record one history entry (a state change or a decision) and publish the incident."""
    inc.state = state
    inc.updated_at = max(inc.updated_at, at)
    inc.history.append({"at": to_iso(at), "state": state, "by": by, "note": note})
    _bound_history(inc, HISTORY_HEAD, HISTORY_TAIL)
    _publish(inc, ctx, effects)


def _publish(inc: Incident, ctx: Context, effects: list[Effect]) -> None:
    inc.revision += 1
    effects.append(Effect("alert", inc.incident_id, alert_record(inc, ctx)))


def _bound_history(inc: Incident, head: int, tail: int) -> None:
    """Keep the first ``head`` and the latest ``tail`` entries; count the ones left out."""
    extra = len(inc.history) - head - tail
    if extra > 0:
        inc.history = inc.history[:head] + inc.history[head + extra :]
        inc.history_omitted += extra


def shrink(book: Book) -> bool:
    """Make a book smaller when its record is over the table's size budget (one step a call).

    Each step keeps less history and evidence of every open incident; returns False once
    nothing is left to shrink.
    """
    changed = False
    for inc in book.open.values():
        size = len(inc.history)
        if size > 4:
            _bound_history(inc, max(2, size // 4), max(2, size // 4))
            changed = True
        if len(inc.evidence) > 1:
            inc.evidence = inc.evidence[-1:]
            changed = True
        if len(inc.labels) > 5:
            inc.labels = inc.labels[:5]
            changed = True
    if not changed and len(book.closed) > 10:
        book.closed = book.closed[-10:]
        changed = True
    return changed


def alert_record(inc: Incident, ctx: Context) -> dict[str, Any]:
    """The whole incident as an alerts-topic record (contract v1, with extras)."""
    return {
        "v": 1,
        "incident_id": inc.incident_id,
        "category": ctx.category_ref(inc.category),
        "camera_id": inc.camera_id or None,
        "zone_id": inc.zone_id or None,
        "sensor_id": inc.sensor_id,
        "location": ctx.location(inc.subject),
        "state": inc.state,
        "opened_at": to_iso(inc.opened_at),
        "updated_at": to_iso(inc.updated_at),
        "evidence": list(inc.evidence),
        "history": list(inc.history),
        "history_omitted": inc.history_omitted,
        "revision": inc.revision,
        "labels": list(inc.labels),
        "case_id": inc.case_id,
        "unit_id": inc.unit_id,
        "level": inc.level,
        "due_at": to_iso(inc.due_at) if inc.due_at is not None else None,
        "rework": inc.rework,
        "warnings": inc.warnings,
        "held": inc.held,
        "review": inc.review,
        "frames_seen": inc.frames_seen,
        "frames": inc.frames,
        "scores": dict(inc.scores),
    }


def _close(book: Book, inc: Incident, effects: list[Effect]) -> None:
    book.open.pop(inc.key, None)
    book.closed = [*book.closed, inc.incident_id][-MAX_CLOSED_REMEMBERED:]
    # every case round of the incident is over: the case index may forget them
    for n in range(1, inc.round + 1):
        case_id = make_id("case", inc.incident_id, n)
        effects.append(Effect("case", case_id, {"kind": "closed", "incident_id": inc.incident_id}))


def _merge_evidence(inc: Incident, evidence: list[str] | tuple[str, ...]) -> bool:
    new = [e for e in evidence if e and e not in inc.evidence]
    if not new:
        return False
    inc.evidence = [*inc.evidence, *new][-MAX_EVIDENCE:]
    return True


def _dispatch(inc: Incident, at: float, ctx: Context, effects: list[Effect], note: str) -> None:
    """Open a new case round for the grid's unit."""
    cat = ctx.cfg.categories.get(inc.category)
    unit_id = ctx.grid_unit(inc.subject)
    inc.grace_until = None
    if unit_id is None:
        _note(
            inc,
            at,
            inc.state,
            "policy",
            "no patrol unit for this camera's grid: cannot dispatch",
            effects,
            ctx,
        )
        return
    inc.round += 1
    inc.case_id = make_id("case", inc.incident_id, inc.round)
    inc.unit_id = unit_id
    unit = ctx.units.get(unit_id)
    inc.level = unit.level if unit else "street"
    inc.due_at = at + (cat.sla_s if cat else 3600.0)
    inc.overdue_noted = False
    _note(inc, at, "dispatched", "policy", f"{note}; case {inc.case_id} to {unit_id}", effects, ctx)
    _emit_case(inc, at, ctx, effects, "dispatched")


def _emit_case(inc: Incident, at: float, ctx: Context, effects: list[Effect], state: str) -> None:
    if inc.case_id is None or inc.unit_id is None or inc.due_at is None:
        raise ValueError(f"incident {inc.incident_id} has no case to publish")
    loc = ctx.location(inc.subject)
    effects.append(
        Effect(
            "dispatch",
            inc.unit_id,
            {
                "v": 1,
                "case_id": inc.case_id,
                "incident_id": inc.incident_id,
                "unit_id": inc.unit_id,
                "grid_id": loc.get("grid_id"),
                "category": ctx.category_ref(inc.category),
                "location": loc,
                "evidence": list(inc.evidence),
                "created_at": to_iso(at),
                "due_at": to_iso(inc.due_at),
                "state": state,
                "level": inc.level or "street",
                "camera_id": inc.camera_id or None,
                "zone_id": inc.zone_id or None,
                "sensor_id": inc.sensor_id,
                "rework": inc.rework,
            },
        )
    )
    # "camera_id" is the key of the incident's book (the sensor's id for a sensor incident)
    effects.append(Effect("case", inc.case_id, {"camera_id": inc.subject, "incident_id": inc.incident_id}))


def _escalate(inc: Incident, at: float, ctx: Context, effects: list[Effect], why: str) -> bool:
    unit = ctx.units.get(inc.unit_id or "")
    target = ctx.units.get(unit.escalates_to) if unit and unit.escalates_to else None
    if target is None:
        return False
    cat = ctx.cfg.categories.get(inc.category)
    previous = inc.unit_id
    inc.unit_id = target.id
    inc.level = target.level
    inc.due_at = at + (cat.sla_s if cat else 3600.0)
    inc.overdue_noted = False
    _note(
        inc,
        at,
        inc.state,
        "policy",
        f"{why}: escalated from {previous} to {target.id} ({target.level})",
        effects,
        ctx,
    )
    _emit_case(inc, at, ctx, effects, inc.state)
    return True


# ---------------------------------------------------------------- inputs


def on_violation(
    book: Book,
    ctx: Context,
    *,
    camera_id: str,
    zone_id: str,
    category: str,
    state: str,
    since: float,
    at: float,
    labels: list[str] | tuple[str, ...] = (),
    evidence: list[str] | tuple[str, ...] = (),
    sensor_id: str | None = None,
    source: str = "camera",
    note: str | None = None,
    frames_seen: int | None = None,
    frames: int | None = None,
    scores: Mapping[str, float] | None = None,
) -> list[Effect]:
    # deadlines due before this input fire first: the result does not depend on whether a
    # tick or this input reached the worker first
    effects: list[Effect] = on_tick(book, ctx, at)
    key = f"{zone_id}|{category}"
    inc = book.open.get(key)
    if state in ("started", "ongoing"):
        if inc is None:
            incident_id = make_id("inc", sensor_id or camera_id, zone_id, category, to_iso(since))
            if incident_id in book.closed:
                return []  # a redelivery of a violation whose incident is already closed
            inc = Incident(incident_id, camera_id, zone_id, category, "open", at, at, last_seen_at=at)
            inc.sensor_id, inc.source = sensor_id, source
            inc.held = book.held and source == "camera"
            inc.labels = sorted(labels)[:MAX_LABELS]
            inc.frames_seen, inc.frames = frames_seen, frames
            inc.scores = {k: float(v) for k, v in sorted((scores or {}).items())[:MAX_LABELS]}
            _merge_evidence(inc, evidence)
            cat = ctx.cfg.categories.get(category)
            inc.grace_until = at + (cat.grace_s if cat else 300.0)
            book.open[key] = inc
            what = ", ".join(labels) or category
            opened = note or f"{what} in zone {zone_id} since {to_iso(since)}"
            _note(inc, at, "open", "rules", opened, effects, ctx)
            _request_warning(inc, at, ctx, effects)
        else:
            inc.present = True
            inc.cleared_at = None
            inc.last_seen_at = max(inc.last_seen_at, at)
            inc.labels = sorted(set(inc.labels) | set(labels))[:MAX_LABELS]
            if _merge_evidence(inc, evidence):
                inc.updated_at = max(inc.updated_at, at)
                _publish(inc, ctx, effects)
    elif state == "cleared":
        if inc is None:
            return []
        inc.present = False
        seen_clear = note or "camera sees the zone clear"
        if inc.held:  # recorded (and kept) now, applied when the camera is released
            _note(
                inc, at, inc.state, "rules", f"{seen_clear}; held: not cleared until released", effects, ctx
            )
            return effects
        if inc.state in OPEN_STATES and inc.warn_pending:
            inc.cleared_at = at  # applied once the policy has answered the warning
            return effects
        if inc.state in OPEN_STATES:
            _clear_open(book, inc, at, ctx, effects, seen_clear)
        elif inc.state in (*CASE_STATES, "verifying"):
            _note(inc, at, inc.state, "rules", seen_clear, effects, ctx)
    effects.extend(on_tick(book, ctx, at))
    return effects


def _clear_open(book: Book, inc: Incident, at: float, ctx: Context, effects: list[Effect], seen: str) -> None:
    worked = inc.state == "warned"
    _note(inc, at, "cleared", "rules", seen, effects, ctx)
    note = "the warning worked" if worked else "cleared before any action"
    _note(inc, at, "closed", "rules", note, effects, ctx)
    _close(book, inc, effects)


def _request_warning(inc: Incident, at: float, ctx: Context, effects: list[Effect]) -> None:
    cat = ctx.cfg.categories.get(inc.category)
    speaker = ctx.speaker_of(inc.subject)
    reason = None
    if cat is None or not cat.warn:
        reason = "category has no automatic warning"
    elif speaker is None:
        reason = f"{'sensor' if inc.sensor_id else 'camera'} has no loudspeaker"
    elif inc.held:
        reason = "camera offline: automatic warnings held"
    if reason is not None or speaker is None or cat is None:
        _note(inc, at, inc.state, "policy", f"no warning: {reason}", effects, ctx)
        return
    if inc.frames_seen is not None and inc.frames_seen < cat.warn_min_frames:
        # a wrong warning shames a shop in public: too few sightings and an operator decides
        inc.review = True
        seen = f"seen in {inc.frames_seen} of {inc.frames} frames"
        note = f"no warning: needs review: {seen} (a warning needs {cat.warn_min_frames})"
        _note(inc, at, inc.state, "policy", note, effects, ctx)
        return
    command_id = make_id("cmd", inc.incident_id, "warn", inc.warnings + 1)
    _warn(inc, at, ctx, effects, speaker=speaker, request_id=command_id, by="citywatch")


def _warn(
    inc: Incident, at: float, ctx: Context, effects: list[Effect], *, speaker: str, request_id: str, by: str
) -> None:
    """Ask the broadcast policy for the incident's warning (its answer comes back as an outcome)."""
    cat = ctx.cfg.categories[inc.category]
    inc.warn_pending = True
    effects.append(
        Effect(
            "warn",
            speaker,
            {
                "kind": "auto",
                "request_id": request_id,
                "speaker_id": speaker,
                "camera_id": inc.camera_id or None,
                "incident_id": inc.incident_id,
                "text": ctx.warning_text(inc.subject, inc.category),
                "lang": cat.lang,
                "requested_by": by,
                "reason": f"{cat.name} ({cat.code}) at {ctx.location(inc.subject)['address']}",
                "force": False,
                "at": to_iso(at),
            },
        )
    )


def on_tick(book: Book, ctx: Context, now: float) -> list[Effect]:
    """Fire every deadline due at event time ``now`` (grace, verification, SLA)."""
    effects: list[Effect] = []
    for inc in list(book.open.values()):
        if inc.held:
            continue
        # transitions are stamped with the deadline itself, not with the tick that
        # noticed it, so the same input always gives the same history
        if inc.state in OPEN_STATES and inc.grace_until is not None and now >= inc.grace_until:
            when = inc.grace_until
            cat = ctx.cfg.categories.get(inc.category)
            if inc.warn_pending:
                if now < when + OUTCOME_WAIT_S:
                    continue  # the policy's answer decides where grace ends
                inc.warn_pending = False
                when += OUTCOME_WAIT_S
                _note(inc, when, inc.state, "policy", "no answer from the broadcast policy", effects, ctx)
                if _apply_deferred_clear(book, inc, ctx, effects):
                    continue
            late_clear = inc.cleared_at  # a clear seen after grace ran out, while the warning was pending
            if not inc.present and (late_clear is None or late_clear < when):
                continue
            if inc.review:
                inc.grace_until = None
                note = "grace over; needs review: an operator dispatches or closes it"
                _note(inc, when, inc.state, "policy", note, effects, ctx)
            elif cat is not None and not cat.dispatch:
                inc.grace_until = None
                _note(
                    inc,
                    when,
                    inc.state,
                    "policy",
                    "grace over; this category is not dispatched",
                    effects,
                    ctx,
                )
            else:
                _dispatch(inc, when, ctx, effects, "still there after the grace period")
            if late_clear is not None:
                inc.cleared_at = None
                if inc.state in OPEN_STATES:
                    _clear_open(book, inc, late_clear, ctx, effects, "camera sees the zone clear")
                else:
                    _note(inc, late_clear, inc.state, "rules", "camera sees the zone clear", effects, ctx)
        elif inc.state == "verifying" and inc.verify_until is not None and now >= inc.verify_until:
            when = inc.verify_until
            inc.verify_until = None
            silent = inc.resolved_at is not None and inc.last_seen_at <= inc.resolved_at
            if inc.present and silent and inc.verify_waits < MAX_VERIFY_WAITS:
                # nothing seen since the resolve, but no clear reported yet either (the clear
                # may still be on its way): wait rather than call it rework on no evidence
                cat = ctx.cfg.categories.get(inc.category)
                inc.verify_waits += 1
                inc.verify_until = when + (cat.verify_s if cat else 60.0)
                note = f"no report from the {_observer(inc)} yet; checking until {to_iso(inc.verify_until)}"
                _note(inc, when, "verifying", "rules", note, effects, ctx)
            elif inc.present:
                inc.rework += 1
                seen = f"{_observer(inc)} still sees the violation after resolve"
                _note(inc, when, "reopened", "rules", seen, effects, ctx)
                _dispatch(inc, when, ctx, effects, f"rework {inc.rework}")
            else:
                seen = "sensor reads clear" if inc.sensor_id else "camera sees the zone clear"
                _note(inc, when, "verified", "rules", seen, effects, ctx)
                _note(inc, when, "closed", "rules", f"verified by {_observer(inc)}", effects, ctx)
                _close(book, inc, effects)
        elif (
            inc.state in ("dispatched", "accepted", "overdue", "reopened")
            and inc.due_at is not None
            and now >= inc.due_at
            and not inc.overdue_noted
        ):
            when = inc.due_at
            inc.overdue_noted = True
            _note(inc, when, "overdue", "policy", f"case {inc.case_id} past its due time", effects, ctx)
            if not _escalate(inc, when, ctx, effects, "overdue"):
                _note(inc, when, "overdue", "policy", "no higher level to escalate to", effects, ctx)
    return effects


# the case states from which each patrol status is a transition
UPDATE_FROM = {
    "accepted": ("dispatched", "overdue", "reopened"),
    "arrived": ("dispatched", "accepted", "overdue", "reopened"),
    "resolved": CASE_STATES,
    "rejected": ("dispatched", "accepted", "overdue", "reopened"),
}


def _ignored_note(status: str, assigned: str | None) -> str:
    return f"update '{status}' ignored: case is assigned to {assigned}"


def update_refusal(book: Book, *, case_id: str, unit_id: str, status: str) -> str | None:
    """Why a patrol update would change nothing (and is refused), or None when it counts.

    Refused updates add no history, so a unit repeating itself cannot grow the record.
    """
    inc = book.by_case(case_id)
    if inc is None:
        return None  # unknown here: the caller dead-letters it
    if unit_id != inc.unit_id:
        last = inc.history[-1] if inc.history else {}
        if last.get("by") == unit_id and last.get("note") == _ignored_note(status, inc.unit_id):
            return f"case {case_id} is assigned to {inc.unit_id}, not {unit_id} (already noted)"
        return None
    if inc.state not in UPDATE_FROM.get(status, ()):
        return f"case {case_id} is {inc.state}: '{status}' changes nothing"
    if status == "rejected" and inc.rejected_round == inc.round:
        return f"case {case_id} was already rejected and has no higher level: it waits for an operator"
    return None


def on_update(
    book: Book, ctx: Context, *, case_id: str, unit_id: str, status: str, note: str, at: float
) -> list[Effect] | None:
    """A patrol unit's update; None when the case is unknown to this camera."""
    inc = book.by_case(case_id)
    if inc is None:
        return None
    effects: list[Effect] = on_tick(book, ctx, at)
    if update_refusal(book, case_id=case_id, unit_id=unit_id, status=status) is not None:
        return effects  # a duplicate, out of order or a repeat: redelivery is harmless
    if unit_id != inc.unit_id:
        _note(inc, at, inc.state, unit_id, _ignored_note(status, inc.unit_id), effects, ctx)
        return effects
    text = note or status
    if status == "accepted" and inc.state in ("dispatched", "overdue", "reopened"):
        _note(inc, at, "accepted", unit_id, text, effects, ctx)
    elif status == "arrived" and inc.state in ("dispatched", "accepted", "overdue", "reopened"):
        _note(inc, at, "arrived", unit_id, text, effects, ctx)
    elif status == "resolved" and inc.state in CASE_STATES:
        cat = ctx.cfg.categories.get(inc.category)
        _note(inc, at, "resolved", unit_id, text, effects, ctx)
        inc.resolved_at = at
        inc.verify_waits = 0
        inc.verify_until = at + (cat.verify_s if cat else 60.0)
        inc.due_at = None
        what = "sensor checks its readings" if inc.sensor_id else "camera checks the zone"
        _note(inc, at, "verifying", "rules", f"{what} until {to_iso(inc.verify_until)}", effects, ctx)
    elif status == "rejected" and inc.state in ("dispatched", "accepted", "overdue", "reopened"):
        _note(inc, at, inc.state, unit_id, f"rejected: {text}", effects, ctx)
        if not _escalate(inc, at, ctx, effects, "rejected"):
            inc.rejected_round = inc.round
            _note(
                inc, at, inc.state, "policy", "rejected and no higher level: needs an operator", effects, ctx
            )
    effects.extend(on_tick(book, ctx, at))
    return effects


def on_outcome(
    book: Book,
    ctx: Context,
    *,
    incident_id: str,
    decision: str,
    reason: str,
    text: str,
    at: float,
) -> list[Effect]:
    """The broadcast policy's decision on this incident's warning."""
    inc = book.by_id(incident_id)
    if inc is None:
        return []
    effects: list[Effect] = []
    inc.warn_pending = False
    if decision == "sent":
        inc.warnings += 1
        if inc.state == "open":
            cat = ctx.cfg.categories.get(inc.category)
            inc.grace_until = at + (cat.grace_s if cat else 300.0)
            _note(inc, at, "warned", "policy", f"loudspeaker: {text}", effects, ctx)
        else:
            _note(inc, at, inc.state, "policy", f"loudspeaker: {text}", effects, ctx)
    else:
        _note(inc, at, inc.state, "policy", f"warning {decision}: {reason}", effects, ctx)
    if _apply_deferred_clear(book, inc, ctx, effects):
        return effects
    # the answer may come after this key's clock passed the grace deadline
    effects.extend(on_tick(book, ctx, max(at, book.clock or at)))
    return effects


def _apply_deferred_clear(book: Book, inc: Incident, ctx: Context, effects: list[Effect]) -> bool:
    """Apply a clear seen while the warning was pending; True when it closed the incident."""
    cleared_at = inc.cleared_at
    if cleared_at is None or inc.present or inc.state not in OPEN_STATES:
        return False
    inc.cleared_at = None
    if inc.grace_until is not None and cleared_at >= inc.grace_until:
        return False  # cleared only after grace ran out: the deadline decides first
    _clear_open(book, inc, cleared_at, ctx, effects, "camera sees the zone clear")
    return True


def on_ack(
    book: Book, ctx: Context, *, incident_id: str, status: str, reason: str, at: float
) -> list[Effect]:
    inc = book.by_id(incident_id)
    if inc is None:
        return []
    effects: list[Effect] = []
    _note(
        inc,
        at,
        inc.state,
        "speaker",
        f"loudspeaker {status}" + (f": {reason}" if reason else ""),
        effects,
        ctx,
    )
    return effects


def on_operator(
    book: Book, ctx: Context, *, incident_id: str, action: str, by: str, reason: str, at: float
) -> list[Effect] | None:
    """An operator's action: acknowledge, confirm (a review), dispatch (now) or close (with a reason)."""
    inc = book.by_id(incident_id)
    if inc is None:
        return None
    effects: list[Effect] = []
    if action == "acknowledge":
        _note(inc, at, inc.state, by, f"acknowledged{': ' + reason if reason else ''}", effects, ctx)
    elif action == "confirm":
        _confirm(inc, at, ctx, effects, by=by, reason=reason)
    elif action == "dispatch":
        if inc.state in OPEN_STATES:
            inc.review = False  # the operator decided: nothing waits for review any more
            _dispatch(inc, at, ctx, effects, f"dispatched by operator {by}{': ' + reason if reason else ''}")
    elif action == "close":
        _note(inc, at, "closed", by, f"closed by operator: {reason}", effects, ctx)
        _close(book, inc, effects)
    return effects


def _confirm(inc: Incident, at: float, ctx: Context, effects: list[Effect], *, by: str, reason: str) -> None:
    """An operator confirms a review incident: the warning it did not send goes to the policy.

    Only an open incident under review is confirmed (a repeat changes nothing). The request
    id is derived from the incident, so a redelivered confirmation asks for one warning.
    """
    if not inc.review or inc.state not in OPEN_STATES:
        return
    inc.review = False
    cat = ctx.cfg.categories.get(inc.category)
    speaker = ctx.speaker_of(inc.subject)
    why = f"confirmed by operator {by}{': ' + reason if reason else ''}"
    refusal = None
    if cat is None or not cat.warn:
        refusal = "category has no automatic warning"
    elif speaker is None:
        refusal = f"{_observer(inc)} has no loudspeaker"
    elif inc.held:
        refusal = "camera offline: automatic warnings held"
    if refusal is not None or cat is None or speaker is None:
        _note(inc, at, inc.state, by, f"{why}; no warning: {refusal}", effects, ctx)
        return
    if inc.grace_until is None:  # grace ran out during the review: it starts again from now
        inc.grace_until = at + cat.grace_s
    _note(inc, at, inc.state, by, f"{why}; warning requested", effects, ctx)
    request_id = make_id("cmd", inc.incident_id, "confirm")
    _warn(inc, at, ctx, effects, speaker=speaker, request_id=request_id, by=by)


def set_held(book: Book, ctx: Context, *, held: bool, reason: str, at: float) -> list[Effect]:
    """Camera offline (held) or back online: no auto-clear, no verification, no auto warning.

    Only the camera's own violation incidents are held (not its camera-offline
    incident). A clear seen while held is applied on release.
    """
    effects: list[Effect] = []
    book.held = held
    for inc in list(book.open.values()):
        if inc.held == held or inc.source != "camera":
            continue
        inc.held = held
        note = f"held: {reason}" if held else f"released: {reason}"
        _note(inc, at, inc.state, "health", note, effects, ctx)
        if not held and not inc.present and inc.state in OPEN_STATES:
            _note(inc, at, "cleared", "rules", "camera saw the zone clear while held", effects, ctx)
            _note(inc, at, "closed", "rules", "cleared after release", effects, ctx)
            _close(book, inc, effects)
    if not held:
        effects.extend(on_tick(book, ctx, at))
    return effects


def _observer(inc: Incident) -> str:
    return "sensor" if inc.sensor_id else "camera"


def on_condition(
    book: Book,
    ctx: Context,
    *,
    subject: str,
    source: str,
    category: str,
    state: str,
    since: float,
    at: float,
    note: str,
) -> list[Effect]:
    """A sensor rule or camera health started / cleared: the same lifecycle as a violation.

    ``source`` is "sensor" (``subject`` is a sensor id; the incident has no camera)
    or "health" (``subject`` is the camera; e.g. camera offline). One open incident
    per (subject, category); "cleared" closes it before dispatch, verifies it after.
    """
    sensor_id = subject if source == "sensor" else None
    return on_violation(
        book,
        ctx,
        camera_id="" if sensor_id else subject,
        zone_id="",
        category=category,
        state=state,
        since=since,
        at=at,
        sensor_id=sensor_id,
        source=source,
        note=note,
    )
