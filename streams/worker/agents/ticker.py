"""The worker's deadline ticker: incident deadlines on their key's event time, queued
speakers on theirs; after an assignment it re-reads the tables into the indexes and
waits for the backlog before time moves on its own.
"""

from __future__ import annotations

import time

from streams.contract.internal_records import TickInput
from streams.contract.timeutil import to_iso
from streams.logic import incidents as inc
from streams.logic import policy as pol
from streams.worker.agents.incidents import index_book
from streams.worker.context import WorkerContext
from streams.worker.settings import INDEX_EVERY_S, LATENESS_S, REINDEX_AFTER_ASSIGN_S, SETTLE_S
from streams.worker.ticks import active_partitions, partition_of, send_ticks


def on_assigned(ctx: WorkerContext) -> None:
    # the tables fill while their changelogs are read back: re-read them every tick for a
    # while, so deadlines that passed while no worker ran fire right after the start
    ctx.progress.reindex_until = time.monotonic() + REINDEX_AFTER_ASSIGN_S
    ctx.progress.settled = False
    ctx.progress.resumed = None


def rebuild_indexes(ctx: WorkerContext) -> None:
    """Re-read the tables into the indexes (after a restart or a rebalance, and now and then)."""
    indexes = ctx.indexes
    for key, data in list(ctx.tables.incidents.items()):
        index_book(ctx, key, inc.Book.from_json(data))
    for speaker_id, data in list(ctx.tables.speakers.items()):
        if data and data.get("queue"):
            indexes.queued_speakers.add(speaker_id)
    closed = dict(indexes.closed_cases)
    for case_id, entry in list(ctx.tables.cases.items()):
        if entry and entry.get("pending") and not entry.get("camera_id"):
            indexes.parked_cases.setdefault(case_id, float(entry.get("since") or 0.0))
        elif entry and entry.get("closed_at"):
            closed.setdefault(case_id, float(entry["closed_at"]))
    # oldest first: the pruning stops at the first case still kept
    indexes.closed_cases.clear()
    indexes.closed_cases.update(sorted(closed.items(), key=lambda item: item[1]))


def settle(ctx: WorkerContext, mono: float, wall: float) -> bool:
    """Whether the backlog after the last assignment has been read.

    After an assignment, time moves only with the inputs until the tables are recovered
    and the backlog is read (no input for SETTLE_S): a deadline must not overtake an
    update that was sent before it.
    """
    p = ctx.progress
    if not p.settled:
        if getattr(ctx.app, "in_recovery", False):
            p.resumed = None
        elif p.resumed is None:
            p.resumed = (mono, wall)
        elif mono - p.resumed[0] >= 2 * SETTLE_S:
            # the backlog is read once the inputs fall quiet, or once an input written
            # after the resume arrives (on a busy stream they never fall quiet)
            p.settled = mono - p.last_input >= SETTLE_S or p.last_input_at >= p.resumed[1]
    return p.settled


async def tick_speakers(ctx: WorkerContext, wall: float) -> None:
    actives = active_partitions(ctx.app, ctx.topics.speaker_intents)
    for speaker_id in list(ctx.indexes.queued_speakers):
        if partition_of(speaker_id, ctx.partitions) not in actives:
            continue
        state = pol.SpeakerState.from_json(ctx.tables.speakers.get(speaker_id))
        at = state.now(wall)
        if at is not None:
            tick = TickInput(kind="tick", at=to_iso(at)).model_dump()
            await ctx.send_json(ctx.out.speaker_intents, speaker_id, tick)


async def tick(ctx: WorkerContext) -> None:
    """Timer: tick the incident books whose deadline passed, then the queued speakers."""
    wall, mono = time.time(), time.monotonic()
    if mono < ctx.progress.reindex_until or mono - ctx.progress.index_built >= INDEX_EVERY_S:
        ctx.progress.index_built = mono
        rebuild_indexes(ctx)
    caught_up = settle(ctx, mono, wall)
    deadlines = dict(ctx.indexes.deadlines)

    def deadline_of(key: str) -> tuple[float | None, float]:
        due, clock_at, clock_wall = deadlines[key]
        # this key's event time: its clock, advanced by the wall clock once it is silent
        silent = max(0.0, wall - clock_wall - LATENESS_S) if caught_up else 0.0
        return due, clock_at + silent

    out = ctx.out.incident_inputs
    await send_ticks(ctx.app, ctx.partitions, out, deadlines, deadline_of, ctx.indexes.ticked, ctx.send_json)
    await tick_speakers(ctx, wall)
