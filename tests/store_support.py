"""A recorded scenario for the case record, built with the contract's models, and the stored
rows read back in one comparable form."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from sqlalchemy import Engine, select

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics
from streams.logic import lifecycle
from streams.store import schema

T0 = 1_780_000_000.0
CATEGORY = {"key": "out_of_store_business", "code": "200504", "name": "店外经营"}
LOCATION = {"address": "1 Main St", "grid_id": "g-1"}
# one incident's closed loop, in order
STATES = [s for s in lifecycle.STATES if s not in ("cleared", "reopened", "overdue")]


def alert(n: int, upto: int, *, history_cap: int | None = None) -> r.Alert:
    """Incident ``n`` after ``upto`` changes; with ``history_cap`` its history keeps the first and
    latest entries only, counting the rest in ``history_omitted`` (as the worker does)."""
    history = [
        {"at": to_iso(T0 + n + i), "state": STATES[i], "by": "policy", "note": f"step {i} of inc-{n}"}
        for i in range(upto)
    ]
    omitted = 0
    if history_cap is not None and len(history) > history_cap:
        omitted = len(history) - history_cap
        history = history[:1] + history[1 + omitted :]
    return r.Alert(
        incident_id=f"inc-{n}",
        category=CATEGORY,
        camera_id="cam-a",
        zone_id="z-1",
        location=LOCATION,
        state=STATES[upto - 1],
        opened_at=to_iso(T0 + n),
        updated_at=to_iso(T0 + n + upto - 1),
        evidence=[f"evidence/cam-a/inc-{n}-{i}.jpg" for i in range(min(upto, 2))],
        history=history,
        revision=upto,
        history_omitted=omitted,
    )


def dispatch(n: int, unit: str = "u-street", at: float = 2) -> r.DispatchCase:
    return r.DispatchCase(
        case_id=f"case-{n}",
        incident_id=f"inc-{n}",
        unit_id=unit,
        grid_id="g-1",
        category=CATEGORY,
        location=LOCATION,
        created_at=to_iso(T0 + n + at),
        due_at=to_iso(T0 + n + at + 600),
        state="dispatched",
        level="street",
    )


def update(n: int, status: str, at: float, photo: str | None = None) -> r.DispatchUpdate:
    extra = {"photo": photo} if photo else {}
    return r.DispatchUpdate(
        case_id=f"case-{n}", unit_id="u-street", status=status, at=to_iso(T0 + n + at), **extra
    )


def _by_policy(n: int) -> dict[str, str]:
    return {"speaker_id": "spk-a", "incident_id": f"inc-{n}", "source": "auto", "requested_by": "policy"}


def command(n: int) -> r.LoudspeakerCommand:
    at, until = to_iso(T0 + n + 1), to_iso(T0 + n + 61)
    text = "请将物品放回店内"
    fields = {
        "command_id": f"cmd-{n}",
        "camera_id": "cam-a",
        "text": text,
        "requested_at": at,
        "not_after": until,
    }
    return r.LoudspeakerCommand(**_by_policy(n), **fields)


def ack(n: int) -> r.LoudspeakerAck:
    t = to_iso(T0 + n + 1.5)
    fields = {"command_id": f"cmd-{n}", "speaker_id": "spk-a", "incident_id": f"inc-{n}", "status": "played"}
    return r.LoudspeakerAck(**fields, started_at=t, finished_at=t)


def decision(n: int) -> r.BroadcastDecision:
    fields = {
        "request_id": f"req-{n}",
        "decision": "sent",
        "reason": f"warning for inc-{n}",
        "command_id": f"cmd-{n}",
    }
    return r.BroadcastDecision(**_by_policy(n), **fields, at=to_iso(T0 + n + 1))


def camera_command(n: int) -> r.CameraCommand:
    """An operator's "zone clean now" for incident ``n``'s zone (every other one: all zones)."""
    fields = {"command_id": f"camcmd-{n}", "camera_id": "cam-a", "zone_id": "z-1" if n % 2 == 0 else None}
    fields |= {"action": "recapture_background", "requested_by": "zhang", "reason": f"inc-{n} swept"}
    return r.CameraCommand(**fields, requested_at=to_iso(T0 + n + 6))


def scenario(incidents: int) -> list[tuple[str, str, r.Record]]:
    """(topic suffix, key, record) of ``incidents`` incidents' closed loops, with an escalation
    re-sending case 0 to another unit and every alert re-sent once (a redelivery)."""
    out: list[tuple[str, str, r.Record]] = []
    for n in range(incidents):
        out.append(("loudspeaker", "spk-a", command(n)))
        out.append(("loudspeaker-acks", "spk-a", ack(n)))
        out.append(("broadcast-decisions", "spk-a", decision(n)))
        out.append(("dispatch", "u-street", dispatch(n)))
        for upto in range(1, len(STATES) + 1):
            out.append(("alerts", f"inc-{n}", alert(n, upto, history_cap=6)))
        out.append(("alerts", f"inc-{n}", alert(n, 3, history_cap=6)))  # an old record, late
        out.append(("dispatch-updates", f"case-{n}", update(n, "accepted", 3)))
        out.append(
            ("dispatch-updates", f"case-{n}", update(n, "resolved", 5, photo=f"evidence/patrol/case-{n}.jpg"))
        )
        out.append(("camera-commands", "cam-a", camera_command(n)))
    out.append(("dispatch", "u-district", dispatch(0, unit="u-district", at=4)))
    return out


def expected_counts(incidents: int) -> dict[str, int]:
    return {
        "incidents": incidents,
        "incident_events": incidents * len(STATES),
        "evidence": incidents * 2,
        "cases": incidents,
        "case_dispatches": incidents + 1,  # case 0 escalated
        "case_updates": incidents * 2,
        "loudspeaker_commands": incidents,
        "loudspeaker_acks": incidents,
        "broadcast_decisions": incidents,
        "camera_commands": incidents,
        "incident_daily": 0,
        "pruned_incidents": 0,
    }


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, JSON as Python values."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in schema.metadata.tables.items():
            rows = conn.execute(select(table)).all()
            out[name] = sorted(tuple(_plain(v) for v in row) for row in rows)
    return out


def _plain(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, dict | list) else value


def counts(engine: Engine) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot(engine).items()}


class Consumed(NamedTuple):
    """What the store reads of a consumed record."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


def poll(topics: Topics, records: list[tuple[str, bytes | None]]) -> dict[str, list[Consumed]]:
    """``records`` (topic suffix, payload) as one poll of the store's consumer, offsets from 0."""
    return {"poll": [Consumed(topics.name(suffix), 0, n, raw) for n, (suffix, raw) in enumerate(records)]}
