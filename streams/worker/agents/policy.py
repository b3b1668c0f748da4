"""broadcast-requests, speaker-intents, loudspeaker-acks ─policy─▶ loudspeaker,
broadcast-decisions, internal.incident-inputs: the broadcast policy of streams/policy.py,
one state per speaker."""

from __future__ import annotations

import time
from typing import Any

import faust

from streams import policy as pol
from streams.internal_records import SPEAKER_INPUT, TickInput, read_internal
from streams.records import BroadcastRequest, LoudspeakerAck, decode
from streams.timeutil import from_iso, to_iso
from streams.worker.context import Send, WorkerContext, or_dead

Decided = tuple[str, pol.SpeakerState, list[Any]]


def template_text(ctx: WorkerContext, req: BroadcastRequest) -> str:
    if req.text:
        return req.text
    name = req.template or ""
    if name in ctx.cfg.categories:
        cam = next((c for c in ctx.cfg.cameras if c.speaker == req.speaker_id), None)
        return ctx.incidents.warning_text(cam.id if cam else "", name)
    return ""


def policy_sends(ctx: WorkerContext, effects: list[pol.PolicyEffect]) -> list[Send]:
    sends: list[Send] = []
    for eff in effects:
        if eff.kind == "command":
            ctx.stats.commands += 1
            sends.append((ctx.out.loudspeaker, eff.key, eff.value))
        elif eff.kind == "decision":
            sends.append((ctx.out.decisions, eff.key, eff.value))
        else:  # outcome / ack for an incident, keyed by its camera
            sends.append((ctx.out.incident_inputs, eff.key, eff.value))
    return sends


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
    request = pol.Request(
        request_id=data.request_id,
        speaker_id=speaker_id,
        text=data.text,
        source="auto",
        requested_by=data.requested_by,
        reason=data.reason,
        lang=data.lang,
        camera_id=data.camera_id,
        incident_id=data.incident_id,
        at=at,
    )
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
    async for event in stream.events():
        ctx.took(event)
        got = await or_dead(ctx, event, "policy: ", read, ctx, event)
        if got is None:
            continue
        speaker_id, state, effects = got
        await ctx.send_all(policy_sends(ctx, effects))
        ctx.tables.speakers[speaker_id] = state.to_json()
        if state.queue:
            ctx.indexes.queued_speakers.add(speaker_id)
        else:
            ctx.indexes.queued_speakers.discard(speaker_id)
