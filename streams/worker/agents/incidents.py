"""violations, internal.incident-inputs ─incidents─▶ alerts, dispatch, speaker-intents,
case-index: the incident logic of streams/logic/incidents.py, one book per camera (or sensor)."""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import faust

from streams.contract.internal_records import INCIDENT_INPUT, read_internal
from streams.contract.records import Violation, decode
from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc
from streams.logic.budget import TABLE_VALUE_BUDGET, encoded_size
from streams.worker.agents.incident_inputs import apply_input
from streams.worker.context import Send, WorkerContext, read_each

logger = logging.getLogger(__name__)

Read = tuple[str, inc.Book, Any, list[inc.Effect] | None]


def on_violation(ctx: WorkerContext, value: bytes | None) -> Read:
    v = decode(Violation, value)
    at = from_iso(v.at)
    skew = ctx.too_early(at)
    if skew is not None:
        raise ValueError(f"violation at {v.at}: {skew}")
    stored = ctx.tables.incidents.get(v.camera_id)
    book = inc.Book.from_json(stored)
    book.observe(at, time.time())
    effects = inc.on_violation(
        book,
        ctx.incidents,
        camera_id=v.camera_id,
        zone_id=v.zone_id,
        category=v.category,
        state=v.state,
        since=from_iso(v.since),
        at=at,
        labels=v.labels,
        evidence=v.evidence,
        frames_seen=v.frames_seen,
        frames=v.frames,
        scores=v.scores,
    )
    return v.camera_id, book, stored, effects


async def read(ctx: WorkerContext, event: Any) -> Read:
    if event.message.topic == ctx.topics.violations:
        return on_violation(ctx, event.value)
    camera_id = (event.key or b"").decode("utf-8", "replace")
    data = read_internal(INCIDENT_INPUT, event.value, "incident input")
    stored = ctx.tables.incidents.get(camera_id)
    book = inc.Book.from_json(stored)
    return camera_id, book, stored, apply_input(ctx, book, data, camera_id)


def incident_sends(ctx: WorkerContext, effects: list[inc.Effect]) -> list[Send]:
    out = ctx.out
    routes = {
        "alert": (out.alerts, "alerts"),
        "warn": (out.speaker_intents, None),
        "dispatch": (out.dispatch, "cases"),
        "case": (out.case_index, None),
    }
    return ctx.route(effects, routes)


def write_book(ctx: WorkerContext, key: str, book: inc.Book, stored: Any) -> None:
    """Save a book if it changed, within the table's size budget; never raise."""
    saved = book.to_json()
    if saved == stored:
        return
    while encoded_size(saved) > TABLE_VALUE_BUDGET and inc.shrink(book):
        saved = book.to_json()
    if encoded_size(saved) > TABLE_VALUE_BUDGET:
        ctx.stats.over_budget += 1
        logger.error(
            "%s: incident state is %d bytes, over the %d-byte budget even when shrunk: not saved",
            key,
            encoded_size(saved),
            TABLE_VALUE_BUDGET,
        )
        return
    ctx.tables.incidents[key] = saved


def index_book(ctx: WorkerContext, key: str, book: inc.Book) -> None:
    """Note the book's next deadline for the ticker."""
    due = book.next_deadline()
    if due is None or book.clock is None:
        ctx.indexes.deadlines.pop(key, None)
        ctx.indexes.ticked.forget(key)
    else:
        ctx.indexes.deadlines[key] = (due, book.clock, book.clock_wall)


async def run(ctx: WorkerContext, stream: faust.StreamT[bytes]) -> None:
    async for event, (camera_id, book, stored, effects) in read_each(
        ctx, stream, "incidents: ", partial(read, ctx)
    ):
        if effects is None:
            await ctx.dead(event, f"incidents: no open incident matches this input on camera {camera_id!r}")
            continue
        # outputs first, then the book (saved whenever it changed, also silently: a clear
        # noted, a sighting time; a later decision depends on it)
        await ctx.send_all(incident_sends(ctx, effects))
        write_book(ctx, camera_id, book, stored)
        index_book(ctx, camera_id, book)
