"""Camera health as pure functions: blip tolerance, offline / online, degraded, silence.

    status offline ──(longer than blip_s)──▶ offline: camera-offline incident opens, incidents held
    status degraded or fps < ratio × detect_fps ──(degraded_for_s)──▶ incidents held
    no camera-status for status_timeout_s ──▶ offline since the last status
    status online at full fps ──▶ online: camera-offline incident clears, incidents released

Held incidents of the camera get no auto-clear, no verification and no
automatic warning (``incidents.set_held``). A camera that never sent a status
is not judged, so a deployment without health reporting sees no offline noise.

Every function takes the camera's state, one input and its time (seconds),
mutates the state and returns the events and whether the state must be saved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from streams.config.models import Health
from streams.contract.timeutil import to_iso
from streams.logic.history_notes import camera_back, camera_offline

EventKind = Literal["offline", "online", "hold", "release"]


@dataclass(frozen=True)
class HealthEvent:
    kind: EventKind
    since: float
    at: float
    reason: str


@dataclass
class HealthStep:
    events: list[HealthEvent] = field(default_factory=list)
    save: bool = False


@dataclass
class CameraHealth:
    """One camera's health (stored as JSON in a table keyed by camera_id)."""

    status: str = "unknown"  # last reported: online / degraded / offline
    last_at: float = 0.0  # time of the newest camera-status record
    down_since: float | None = None  # offline (reported, or silent) since
    down_reason: str = ""
    slow_since: float | None = None  # degraded since
    slow_reason: str = ""
    offline: bool = False  # offline for longer than the blip tolerance
    offline_since: float = 0.0
    held: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CameraHealth:
        return cls(**data) if data else cls()


def _judge(state: CameraHealth, now: float, cfg: Health, step: HealthStep) -> None:
    if state.down_since is not None and not state.offline and now - state.down_since >= cfg.blip_s:
        state.offline, state.offline_since = True, state.down_since
        reason = camera_offline(state.down_since, state.down_reason)
        step.events.append(HealthEvent("offline", state.down_since, now, reason))
        if not state.held:
            state.held = True
            step.events.append(HealthEvent("hold", state.down_since, now, reason))
        step.save = True
    if state.slow_since is not None and not state.held and now - state.slow_since >= cfg.degraded_for_s:
        state.held = True
        reason = f"camera degraded since {to_iso(state.slow_since)}: {state.slow_reason}"
        step.events.append(HealthEvent("hold", state.slow_since, now, reason))
        step.save = True


def on_status(
    state: CameraHealth,
    cfg: Health,
    *,
    status: str,
    fps: float,
    reason: str,
    at: float,
    detect_fps: float,
) -> HealthStep:
    """One camera-status record at time ``at``."""
    step = HealthStep()
    if at < state.last_at:
        return step  # older than what we know: a redelivery or a late record
    first = state.status == "unknown"
    state.last_at, state.status = at, status
    step.save = first
    slow = status == "degraded" or fps < cfg.degraded_fps_ratio * detect_fps
    if status == "offline":
        if state.down_since is None:
            state.down_since, state.down_reason = at, reason or "reported offline"
            step.save = True
        state.slow_since = None
    else:
        if state.down_since is not None:
            state.down_since = None
            step.save = True
        if state.offline:
            state.offline = False
            step.events.append(HealthEvent("online", state.offline_since, at, camera_back(status)))
        if slow:
            if state.slow_since is None:
                why = reason or f"{fps:g} fps, below {cfg.degraded_fps_ratio:g} x detect_fps {detect_fps:g}"
                state.slow_since, state.slow_reason = at, why
                step.save = True
        else:
            state.slow_since = None
            if state.held:
                state.held = False
                step.events.append(HealthEvent("release", at, at, f"camera {status} at {fps:g} fps"))
                step.save = True
    _judge(state, at, cfg, step)
    return step


def next_deadline(state: CameraHealth, cfg: Health) -> float | None:
    """When a tick would change something (None when nothing is pending)."""
    if state.status == "unknown":
        return None
    times = []
    if state.down_since is None:
        times.append(state.last_at + cfg.status_timeout_s)
    elif not state.offline:
        times.append(state.down_since + cfg.blip_s)
    if state.slow_since is not None and not state.held:
        times.append(state.slow_since + cfg.degraded_for_s)
    return min(times) if times else None


def on_tick(state: CameraHealth, cfg: Health, *, now: float) -> HealthStep:
    """Time passes with no status: confirm an outage past the blip tolerance, or notice silence."""
    step = HealthStep()
    if state.status == "unknown":
        return step
    if state.down_since is None and now - state.last_at >= cfg.status_timeout_s:
        state.down_since = state.last_at
        state.down_reason = f"no camera-status for {now - state.last_at:.0f}s"
        state.slow_since = None
        step.save = True
    _judge(state, now, cfg, step)
    return step
