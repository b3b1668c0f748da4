"""The incident logic's answer to one internal.incident-inputs record, by its type."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel

from streams.contract.internal_records import (
    AckInput,
    ConditionInput,
    HealthInput,
    IncidentInput,
    OperatorInput,
    OutcomeInput,
    RestoreInput,
    TickInput,
    UpdateInput,
)
from streams.contract.records import Alert, decode
from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc
from streams.worker.context import WorkerContext

logger = logging.getLogger(__name__)


def fields(data: BaseModel, *names: str) -> dict[str, Any]:
    """The named fields of an input, as keyword arguments of the incident logic."""
    return {name: getattr(data, name) for name in names}


def on_update(
    ctx: WorkerContext, book: inc.Book, data: UpdateInput, key: str, at: float
) -> list[inc.Effect] | None:
    case = fields(data, "case_id", "unit_id", "status")
    refused = inc.update_refusal(book, **case)
    if refused is not None:
        ctx.stats.refused += 1
        logger.info("%s: patrol update refused: %s", key, refused)
    return inc.on_update(book, ctx.incidents, **case, note=data.note, at=at)


def on_restore(ctx: WorkerContext, book: inc.Book, data: RestoreInput, key: str) -> list[inc.Effect]:
    """An open incident from the case record; one already known here is left as it is."""
    alert = decode(Alert, data.incident)
    subject = str((alert.model_extra or {}).get("sensor_id") or alert.camera_id or "")
    if subject != key:
        raise ValueError(
            f"restore {data.restore_id} is keyed {key!r}, but incident {alert.incident_id} is {subject!r}'s"
        )
    refused = inc.restore_refusal(book, alert)
    if refused is not None:
        logger.info("%s: restore %s changes nothing: %s", key, data.restore_id, refused)
        return []
    logger.warning("%s: incident %s restored from the case record (%s)", key, alert.incident_id, alert.state)
    return inc.on_restore(book, ctx.incidents, incident=data.incident, case=data.case)


def apply_input(ctx: WorkerContext, book: inc.Book, data: IncidentInput, key: str) -> list[inc.Effect] | None:
    at = from_iso(data.at)
    if isinstance(data, UpdateInput | OperatorInput | ConditionInput | RestoreInput):
        # inputs dated by their sender's event time move this key's clock; ticks come
        # from this clock, acks and policy outcomes carry other processes' times
        skew = ctx.too_early(at)
        if skew is not None:
            raise ValueError(f"{data.kind} at {data.at}: {skew}")
        book.observe(at, time.time())
    c = ctx.incidents
    match data:
        case TickInput():
            return inc.on_tick(book, c, at)
        case UpdateInput():
            return on_update(ctx, book, data, key, at)
        case OutcomeInput():
            return inc.on_outcome(book, c, at=at, **fields(data, "incident_id", "decision", "reason", "text"))
        case AckInput():
            return inc.on_ack(book, c, at=at, **fields(data, "incident_id", "status", "reason"))
        case OperatorInput():
            return inc.on_operator(book, c, at=at, **fields(data, "incident_id", "action", "by", "reason"))
        case HealthInput():
            return inc.set_held(book, c, at=at, **fields(data, "held", "reason"))
        case ConditionInput():  # a sensor rule or camera health (agents/sensors.py, camera_health.py)
            named = fields(data, "subject", "source", "category", "state", "note")
            return inc.on_condition(book, c, since=from_iso(data.since), at=at, **named)
        case RestoreInput():  # the case record re-seeds an empty table (streams/worker/restore.py)
            return on_restore(ctx, book, data, key)
