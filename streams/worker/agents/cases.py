"""dispatch-updates, case-index ─cases─▶ internal.incident-inputs (keyed by camera).

Routes patrol updates (keyed by case) to their incident (keyed by camera). The case
index arrives on its own topic, so an update can overtake it: such an update is
parked and forwarded once the index arrives, or dead-lettered after PARK_S seconds.
A closed case is forgotten after CLOSED_CASE_KEPT_S.
"""

from __future__ import annotations

import base64
import time
from functools import partial
from typing import Any

import faust

from streams.contract.internal_records import (
    CASE_INDEX_INPUT,
    CaseClosed,
    CaseExpire,
    CasePrune,
    read_internal,
)
from streams.contract.records import DispatchUpdate, decode
from streams.contract.timeutil import from_iso
from streams.worker.context import WorkerContext, read_each
from streams.worker.settings import CLOSED_CASE_KEPT_S, MAX_PARKED, MAX_PARKED_BYTES, PARK_S
from streams.worker.ticks import active_partitions, partition_of


async def dead_parked(ctx: WorkerContext, parked: list[dict[str, Any]], error: str) -> None:
    for p in parked:
        raw = base64.b64decode(p["raw"])
        await ctx.dead_raw(p["topic"], p["partition"], p["offset"], error, raw)


async def on_case_index(ctx: WorkerContext, case_id: str, value: bytes | None) -> None:
    data = read_internal(CASE_INDEX_INPUT, value, "case index")
    cases, indexes = ctx.tables.cases, ctx.indexes
    entry = cases.get(case_id) or {}
    if isinstance(data, CaseExpire):
        if entry.get("pending") and not entry.get("camera_id"):
            error = f"unknown case_id {case_id!r}: no dispatched case has this id"
            await dead_parked(ctx, entry["pending"], error)
            del cases[case_id]
        indexes.parked_cases.pop(case_id, None)
    elif isinstance(data, CaseClosed):
        if entry.get("camera_id"):
            cases[case_id] = {**entry, "closed_at": time.time()}
            indexes.closed_cases[case_id] = time.time()
    elif isinstance(data, CasePrune):
        if entry.get("closed_at"):
            del cases[case_id]
        indexes.closed_cases.pop(case_id, None)
    else:
        pending = entry.get("pending", [])
        await ctx.send_all(
            [
                (ctx.out.incident_inputs, str(data.camera_id), {"kind": "update", **p["update"]})
                for p in pending
            ]
        )
        cases[case_id] = {"camera_id": data.camera_id, "incident_id": data.incident_id}
        indexes.parked_cases.pop(case_id, None)


async def read(ctx: WorkerContext, event: Any) -> DispatchUpdate | None:
    if event.message.topic == ctx.topics.case_index:
        await on_case_index(ctx, (event.key or b"").decode("utf-8", "replace"), event.value)
        return None
    upd = decode(DispatchUpdate, event.value)
    skew = ctx.too_early(from_iso(upd.at))
    if skew is not None:
        raise ValueError(f"dispatch update at {upd.at}: {skew}")
    return upd


async def park(
    ctx: WorkerContext, event: Any, upd: DispatchUpdate, fields: dict[str, Any], entry: Any
) -> None:
    """Keep an update for a case not known yet (bounded), or dead-letter it."""
    pending = entry.get("pending", [])
    if len(event.value or b"") > MAX_PARKED_BYTES:
        await ctx.dead(
            event, f"dispatch-updates: case {upd.case_id!r} is unknown and the update is too large to wait"
        )
        return
    if len(pending) >= MAX_PARKED:
        await ctx.dead(
            event, f"dispatch-updates: case {upd.case_id!r} is unknown and has {MAX_PARKED} updates waiting"
        )
        return
    msg = event.message
    parked = {
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "raw": base64.b64encode(event.value or b"").decode("ascii"),
        "update": fields,
    }
    since = entry.get("since") or time.time()
    ctx.tables.cases[upd.case_id] = {"pending": [*pending, parked], "since": since}
    ctx.indexes.parked_cases.setdefault(upd.case_id, since)


async def run(ctx: WorkerContext, stream: faust.StreamT[bytes]) -> None:
    async for event, upd in read_each(ctx, stream, "dispatch-updates: ", partial(read, ctx)):
        fields = {
            "case_id": upd.case_id,
            "unit_id": upd.unit_id,
            "status": upd.status,
            "note": upd.note,
            "at": upd.at,
        }
        entry = ctx.tables.cases.get(upd.case_id) or {}
        if entry.get("camera_id"):
            await ctx.send_all([(ctx.out.incident_inputs, entry["camera_id"], {"kind": "update", **fields})])
        else:
            await park(ctx, event, upd, fields, entry)


async def expire(ctx: WorkerContext) -> None:
    """Timer: expire parked cases after PARK_S, prune closed ones after CLOSED_CASE_KEPT_S."""
    wall = time.time()
    actives = active_partitions(ctx.app, ctx.topics.case_index)
    indexes, send = ctx.indexes, ctx.send_json
    for case_id, since in list(indexes.parked_cases.items()):
        if wall - since >= PARK_S and partition_of(case_id, ctx.partitions) in actives:
            indexes.parked_cases.pop(case_id, None)
            await send(ctx.out.case_index, case_id, CaseExpire(kind="expire").model_dump())
    for case_id, closed_at in list(indexes.closed_cases.items()):
        if wall - closed_at < CLOSED_CASE_KEPT_S:
            break  # in the order they closed: the rest are younger
        indexes.closed_cases.pop(case_id, None)
        if partition_of(case_id, ctx.partitions) in actives:
            await send(ctx.out.case_index, case_id, CasePrune(kind="prune").model_dump())
