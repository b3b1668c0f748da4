"""broadcast-requests, speaker-intents, loudspeaker-acks ─policy─▶ loudspeaker,
broadcast-decisions, internal.incident-inputs: the broadcast policy of streams/logic/policy.py,
one state per speaker."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import faust

from streams.contract.internal_records import SPEAKER_INPUT, TickInput, read_internal
from streams.contract.records import BroadcastRequest, LoudspeakerAck, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.logic import policy as pol
from streams.worker.context import Send, WorkerContext, read_each

Decided = tuple[str, pol.SpeakerState, list[Any]]
# the fields of an incident's warning intent that make its request
REQUEST_FIELDS = {"request_id", "text", "requested_by", "reason", "lang", "camera_id", "incident_id"}


def template_text(ctx: WorkerContext, req: BroadcastRequest) -> str:
    if req.text:
        return req.text
    name = req.template or ""
    if name in ctx.cfg.categories:
        cam = next((c for c in ctx.cfg.cameras if c.speaker == req.speaker_id), None)
        return ctx.incidents.warning_text(cam.id if cam else "", name)
    return ""


def policy_sends(ctx: WorkerContext, effects: list[pol.PolicyEffect]) -> list[Send]:
    out = ctx.out
    routes = {
        "command": (out.loudspeaker, "commands"),
        "decision": (out.decisions, None),
        "*": (out.incident_inputs, None),  # outcome / ack for an incident, keyed by its camera
    }
    return ctx.route(effects, routes)


def on_request(ctx: WorkerContext, msg: Any, value: bytes | None, wall: float) -> Decided:
    req = decode(BroadcastRequest, value)
    state = pol.SpeakerState.from_json(ctx.tables.speakers.get(req.speaker_id))
    sent_at = float(msg.timestamp or wall)  # Faust gives seconds
    skew = ctx.too_early(sent_at)
    if skew is not None:
        raise ValueError(f"broadcast request: {skew}")
    now = state.advance(sent_at, wall)
    request = pol.Request(
        request_id=req.request_id,
        speaker_id=req.speaker_id,
        text=template_text(ctx, req),
        source="operator",
        requested_by=req.requested_by,
        reason=req.reason,
        force=req.force,
        lang=str(getattr(req, "lang", None) or "zh"),
        camera_id=getattr(req, "camera_id", None),
        incident_id=getattr(req, "incident_id", None),
        at=now,
        template=req.template,
    )
    speaker = ctx.speakers.get(req.speaker_id)
    return req.speaker_id, state, pol.decide(state, speaker, ctx.cfg.site.timezone, request, now)


def on_ack(ctx: WorkerContext, value: bytes | None, wall: float) -> Decided:
    ack = decode(LoudspeakerAck, value)
    state = pol.SpeakerState.from_json(ctx.tables.speakers.get(ack.speaker_id))
    finished = from_iso(ack.finished_at or ack.started_at or to_iso(wall))
    skew = ctx.too_early(finished)
    if skew is not None:
        raise ValueError(f"loudspeaker ack: {skew}")
    now = state.advance(finished, wall)
    effects = pol.on_ack(
        state,
        ctx.speakers.get(ack.speaker_id),
        ctx.cfg.site.timezone,
        command_id=ack.command_id,
        incident_id=ack.incident_id,
        status=ack.status,
        reason=ack.reason,
        now=now,
    )
    return ack.speaker_id, state, effects


def on_intent(ctx: WorkerContext, value: bytes | None, speaker_id: str, wall: float) -> Decided:
    data = read_internal(SPEAKER_INPUT, value, "speaker intent")
    state = pol.SpeakerState.from_json(ctx.tables.speakers.get(speaker_id))
    speaker, tz = ctx.speakers.get(speaker_id), ctx.cfg.site.timezone
    at = from_iso(data.at)
    if isinstance(data, TickInput):
        return speaker_id, state, pol.release(state, speaker, tz, state.advance(at, wall))
    skew = ctx.too_early(at)
    if skew is not None:
        raise ValueError(f"warning request: {skew}")
    now = state.advance(at, wall)
    named = data.model_dump(include=REQUEST_FIELDS)
    request = pol.Request(speaker_id=speaker_id, source="auto", at=at, **named)
    return speaker_id, state, pol.decide(state, speaker, tz, request, now)


async def read(ctx: WorkerContext, event: Any) -> Decided:
    """Decode one policy input and decide on it at the speaker's clock."""
    msg, wall = event.message, time.time()
    if msg.topic == ctx.topics.broadcast_requests:
        return on_request(ctx, msg, event.value, wall)
    if msg.topic == ctx.topics.loudspeaker_acks:
        return on_ack(ctx, event.value, wall)
    return on_intent(ctx, event.value, (event.key or b"").decode("utf-8", "replace"), wall)


async def run(ctx: WorkerContext, stream: faust.StreamT[bytes]) -> None:
    async for _event, (speaker_id, state, effects) in read_each(ctx, stream, "policy: ", partial(read, ctx)):
        await ctx.send_all(policy_sends(ctx, effects))
        ctx.tables.speakers[speaker_id] = state.to_json()
        if state.queue:
            ctx.indexes.queued_speakers.add(speaker_id)
        else:
            ctx.indexes.queued_speakers.discard(speaker_id)
