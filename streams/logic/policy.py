"""Broadcast policy: who may make a loudspeaker talk, and when (pure logic).

Automatic warnings and operator requests go through the same decision:

1. a request id seen before is ignored (redelivery);
2. quiet hours: automatic warnings are suppressed; an operator needs ``force``
   and a reason;
3. rate limits (minimum interval, hourly cap): automatic warnings are
   suppressed; an operator overrides them (and it is recorded);
4. one command at a time per speaker: while one is playing, requests queue;
5. otherwise a loudspeaker command is sent.

Every decision, sent, queued or suppressed with its reason, becomes a
``decision`` effect (the broadcast-decisions log topic), and for a warning of
an incident an ``outcome`` effect recorded in that incident's history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from streams.config import Speaker
from streams.config.timerange import in_range
from streams.contract.ids import make_id
from streams.contract.records import BroadcastDecision, LoudspeakerCommand
from streams.contract.timeutil import to_iso
from streams.logic.clock import KeyClock
from streams.logic.rules import minute_of_day

COMMAND_TTL_S = 120.0  # a command not played within this is stale (not_after)
MAX_QUEUE = 10
MAX_SEEN = 500
MAX_RECENT = 50
HOUR = 3600.0


@dataclass
class Request:
    request_id: str
    speaker_id: str
    text: str
    source: str  # auto | operator
    requested_by: str
    reason: str = ""
    force: bool = False
    lang: str = "zh"
    camera_id: str | None = None
    incident_id: str | None = None
    at: float = 0.0
    template: str | None = None


@dataclass
class SpeakerState(KeyClock):
    sent: list[float] = field(default_factory=list)
    inflight: dict[str, Any] | None = None
    queue: list[dict[str, Any]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    recent: dict[str, str] = field(default_factory=dict)  # command_id -> camera_id

    def advance(self, event_time: float, wall: float) -> float:
        """Move the speaker's clock to ``event_time`` if newer; return the decision time.

        Every decision is made at the newest time of the speaker's inputs, so intervals
        never go negative whichever source (request, warning, ack, tick) came last.
        """
        return self.observe(event_time, wall)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SpeakerState:
        return cls(**data) if data else cls()


@dataclass(frozen=True)
class PolicyEffect:
    """kind: command (loudspeaker topic) | decision (log topic) | outcome | ack (to the incident)."""

    kind: str
    key: str
    value: dict[str, Any]


def _decision(req: Request, decision: str, reason: str, command_id: str | None, now: float) -> PolicyEffect:
    record = {
        "v": 1,
        "request_id": req.request_id,
        "speaker_id": req.speaker_id,
        "decision": decision,
        "reason": reason,
        "command_id": command_id,
        "source": req.source,
        "requested_by": req.requested_by,
        "incident_id": req.incident_id,
        "camera_id": req.camera_id,
        "text": req.text,
        "at": to_iso(now),
    }
    return PolicyEffect("decision", req.speaker_id, BroadcastDecision.written(record))


def _outcome(req: Request, decision: str, reason: str, now: float) -> list[PolicyEffect]:
    if req.incident_id is None or req.camera_id is None:
        return []
    return [
        PolicyEffect(
            "outcome",
            req.camera_id,
            {
                "kind": "outcome",
                "incident_id": req.incident_id,
                "decision": decision,
                "reason": reason,
                "text": req.text,
                "at": to_iso(now),
            },
        )
    ]


def _free_if_expired(state: SpeakerState, now: float) -> None:
    if state.inflight is not None and now >= float(state.inflight["not_after"]):
        state.inflight = None


def decide(
    state: SpeakerState, speaker: Speaker | None, timezone: str, req: Request, now: float
) -> list[PolicyEffect]:
    """Decide on one request at event time ``now``."""
    if req.request_id in state.seen:
        return []
    state.seen = [*state.seen, req.request_id][-MAX_SEEN:]
    return _decide(state, speaker, timezone, req, now)


def _decide(
    state: SpeakerState, speaker: Speaker | None, timezone: str, req: Request, now: float
) -> list[PolicyEffect]:
    def suppress(reason: str) -> list[PolicyEffect]:
        return [_decision(req, "suppressed", reason, None, now), *_outcome(req, "suppressed", reason, now)]

    if speaker is None:
        return suppress(f"unknown speaker {req.speaker_id!r}: add it under speakers: in cameras.yaml")
    if not req.text.strip():
        return suppress("no text to speak: give text or a known template")
    notes: list[str] = []
    operator = req.source == "operator"
    if speaker.quiet_hours and in_range(speaker.quiet_hours, minute_of_day(now, timezone)):
        if not operator:
            return suppress(f"quiet hours {speaker.quiet_hours}")
        if not (req.force and req.reason.strip()):
            return suppress(f"quiet hours {speaker.quiet_hours}: an operator needs force and a reason")
        notes.append(f"forced in quiet hours: {req.reason}")
    state.sent = [t for t in state.sent if now - t < HOUR]
    limit = None
    if state.sent and now - state.sent[-1] < speaker.min_interval_s:
        limit = (
            f"rate limit: last broadcast {now - state.sent[-1]:.0f}s ago, "
            f"minimum interval {speaker.min_interval_s:g}s"
        )
    elif len(state.sent) >= speaker.max_per_hour:
        limit = f"rate limit: {speaker.max_per_hour} broadcasts in the last hour"
    if limit is not None:
        if not operator:
            return suppress(limit)
        notes.append(f"operator overrode {limit}")
    _free_if_expired(state, now)
    if state.inflight is not None:
        if len(state.queue) >= MAX_QUEUE:
            return suppress(f"speaker busy and {MAX_QUEUE} requests already queued")
        state.queue.append(asdict(req))
        reason = f"speaker busy with {state.inflight['command_id']}: queued"
        return [_decision(req, "queued", reason, None, now), *_outcome(req, "queued", reason, now)]
    return _send(state, speaker, req, now, "; ".join(notes))


def _send(state: SpeakerState, speaker: Speaker, req: Request, now: float, note: str) -> list[PolicyEffect]:
    command_id = req.request_id if req.source == "auto" else make_id("cmd", req.request_id)
    not_after = now + COMMAND_TTL_S
    command = {
        "v": 1,
        "command_id": command_id,
        "speaker_id": speaker.id,
        "camera_id": req.camera_id,
        "incident_id": req.incident_id,
        "text": req.text,
        "lang": req.lang or speaker.lang,
        "priority": 3 if req.source == "operator" else 5,
        "source": req.source,
        "requested_by": req.requested_by,
        "requested_at": to_iso(req.at or now),
        "not_after": to_iso(not_after),
        "volume": speaker.volume,
    }
    if req.template:
        command["template"] = req.template
    command = LoudspeakerCommand.written(command)
    state.inflight = {
        "command_id": command_id,
        "camera_id": req.camera_id,
        "incident_id": req.incident_id,
        "not_after": not_after,
    }
    state.sent.append(now)
    if req.camera_id:
        state.recent[command_id] = req.camera_id
        while len(state.recent) > MAX_RECENT:
            state.recent.pop(next(iter(state.recent)))
    reason = note or "within policy"
    return [
        PolicyEffect("command", speaker.id, command),
        _decision(req, "sent", reason, command_id, now),
        *_outcome(req, "sent", reason, now),
    ]


def on_ack(
    state: SpeakerState,
    speaker: Speaker | None,
    timezone: str,
    *,
    command_id: str,
    incident_id: str | None,
    status: str,
    reason: str,
    now: float,
) -> list[PolicyEffect]:
    """The gateway acknowledged a command: free the speaker, forward to the incident, release the queue."""
    effects: list[PolicyEffect] = []
    camera_id = state.recent.get(command_id)
    if state.inflight is not None and state.inflight["command_id"] == command_id:
        state.inflight = None
    if incident_id and camera_id:
        effects.append(
            PolicyEffect(
                "ack",
                camera_id,
                {
                    "kind": "ack",
                    "incident_id": incident_id,
                    "status": status,
                    "reason": reason,
                    "at": to_iso(now),
                },
            )
        )
    effects.extend(release(state, speaker, timezone, now))
    return effects


def release(state: SpeakerState, speaker: Speaker | None, timezone: str, now: float) -> list[PolicyEffect]:
    """Send the next queued request once the speaker is free."""
    _free_if_expired(state, now)
    effects: list[PolicyEffect] = []
    while state.inflight is None and state.queue:
        req = Request(**state.queue.pop(0))
        effects.extend(_decide(state, speaker, timezone, req, now))
    return effects
