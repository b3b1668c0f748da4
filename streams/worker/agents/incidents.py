"""detections, violations, internal.incident-inputs ─incidents─▶ violations (audit), alerts,
dispatch, speaker-intents, case-index: the rules step (agents/rules.py) and the incident
logic of streams/logic/incidents.py in one agent, one rule state and one book per camera
(or sensor).

A detection that completes a violation changes its incident in the same step, so a
warning is one hop through the broker from its detection (then the policy's). The
violation records are still published, for audit and replay, ahead of the incident's
outputs and carrying this worker group's ``APPLIED_BY`` header; the agent reads the
violations topic too, for violations that come from elsewhere (a replay, another
producer), and skips the records its group applied already. Detections, violations and
incident inputs of one camera are read in one stream, so the camera's book is only ever
changed by one step at a time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from streams.contract.internal_records import INCIDENT_INPUT, read_internal
from streams.contract.records import Detection, Violation, decode
from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc
from streams.logic.budget import TABLE_VALUE_BUDGET, encoded_size
from streams.worker.agents import rules
from streams.worker.agents.incident_inputs import apply_input
from streams.worker.context import Send, WorkerContext, or_dead

logger = logging.getLogger(__name__)

Read = tuple[str, inc.Book, Any, list[inc.Effect] | None]


def apply_violation(ctx: WorkerContext, book: inc.Book, v: Violation) -> list[inc.Effect]:
    """The incident logic's answer to one violation record, ``book`` changed in place."""
    at = from_iso(v.at)
    book.observe(at, time.time())
    return inc.on_violation(
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


def on_violation(ctx: WorkerContext, value: bytes | None) -> Read:
    v = decode(Violation, value)
    skew = ctx.too_early(from_iso(v.at))
    if skew is not None:
        raise ValueError(f"violation at {v.at}: {skew}")
    stored = ctx.tables.incidents.get(v.camera_id)
    book = inc.Book.from_json(stored)
    return v.camera_id, book, stored, apply_violation(ctx, book, v)


async def read(ctx: WorkerContext, event: Any) -> Read:
    """A violation from the topic or an incident input, applied to its key's book."""
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


async def on_detection(ctx: WorkerContext, det: Detection, captured: float) -> None:
    """The rules step, and the incident logic on the violations it completes, in one step."""
    stepped = rules.apply_rules(ctx, det, captured)
    if stepped is None:
        return
    violations, changed = stepped
    camera_id = det.camera_id
    if not violations:
        rules.save_rules(ctx, camera_id, changed)
        return
    # the records as published (dumped before the incident logic holds their lists)
    sends: list[Send] = [(ctx.out.violations, camera_id, v.model_dump(mode="json")) for v in violations]
    stored = ctx.tables.incidents.get(camera_id)
    book = inc.Book.from_json(stored)
    for v in violations:
        sends += incident_sends(ctx, apply_violation(ctx, book, v))
    # the violations first (the order of the topic is the order of the steps), the
    # incident's outputs right behind them, all acknowledged together; then the states
    await ctx.send_all(sends, applied_on=(ctx.out.violations,))
    rules.save_rules(ctx, camera_id, changed)
    write_book(ctx, camera_id, book, stored)
    index_book(ctx, camera_id, book)


async def run(ctx: WorkerContext, stream: faust.StreamT[bytes]) -> None:
    topics = ctx.topics
    async for event in stream.events():
        ctx.took(event)
        topic = event.message.topic
        if topic == topics.detections:
            detection = await or_dead(ctx, event, "", rules.read, ctx, event)
            if detection is not None:
                await on_detection(ctx, *detection)
            continue
        if topic == topics.violations and ctx.was_applied_here(event):
            continue  # this worker group's rules step applied it when it published it
        got = await or_dead(ctx, event, "incidents: ", read, ctx, event)
        if got is None:
            continue
        camera_id, book, stored, effects = got
        if effects is None:
            await ctx.dead(event, f"incidents: no open incident matches this input on camera {camera_id!r}")
            continue
        # outputs first, then the book (saved whenever it changed, also silently: a clear
        # noted, a sighting time; a later decision depends on it)
        await ctx.send_all(incident_sends(ctx, effects))
        write_book(ctx, camera_id, book, stored)
        index_book(ctx, camera_id, book)
