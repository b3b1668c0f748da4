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
    TickInput,
    UpdateInput,
)
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


def apply_input(ctx: WorkerContext, book: inc.Book, data: IncidentInput, key: str) -> list[inc.Effect] | None:
    at = from_iso(data.at)
    if isinstance(data, UpdateInput | OperatorInput | ConditionInput):
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
