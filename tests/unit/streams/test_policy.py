"""Broadcast policy tables: quiet hours, rate limits, overrides, one command at a time."""

from __future__ import annotations

from typing import Any

from streams.config.models import Speaker
from streams.contract.timeutil import from_iso
from streams.logic import policy as pol

TZ = "Asia/Shanghai"
DAY = from_iso("2026-05-26T02:00:00.000Z")  # 10:00 local
NIGHT = from_iso("2026-05-26T15:00:00.000Z")  # 23:00 local
SPK = Speaker(id="spk-1", quiet_hours="22:00-07:00", min_interval_s=60, max_per_hour=3)


def req(n: int, source: str = "auto", **kw: Any) -> pol.Request:
    params: dict[str, Any] = {
        "request_id": f"r{n}",
        "speaker_id": "spk-1",
        "text": "请将店外经营物品放回店内",
        "source": source,
        "requested_by": "citywatch" if source == "auto" else "op-li",
        "camera_id": "cam-1",
        "incident_id": f"inc-{n}" if source == "auto" else None,
    }
    params.update(kw)
    return pol.Request(**params)


def decisions(effects: list[pol.PolicyEffect]) -> list[tuple[str, str]]:
    return [(e.value["decision"], e.value["reason"]) for e in effects if e.kind == "decision"]


def ack(state: pol.SpeakerState, command_id: str, at: float) -> list[pol.PolicyEffect]:
    return pol.on_ack(
        state, SPK, TZ, command_id=command_id, incident_id="inc-1", status="played", reason="", now=at
    )


def test_auto_warning_within_policy_is_sent_with_command() -> None:
    state = pol.SpeakerState()
    effects = pol.decide(state, SPK, TZ, req(1), DAY)
    assert [e.kind for e in effects] == ["command", "decision", "outcome"]
    cmd = effects[0].value
    assert cmd["source"] == "auto" and cmd["speaker_id"] == "spk-1" and cmd["incident_id"] == "inc-1"
    assert from_iso(cmd["not_after"]) - DAY == pol.COMMAND_TTL_S
    assert effects[2].key == "cam-1" and effects[2].value["decision"] == "sent"


def test_quiet_hours_suppress_auto() -> None:
    effects = pol.decide(pol.SpeakerState(), SPK, TZ, req(1), NIGHT)
    assert decisions(effects) == [("suppressed", "quiet hours 22:00-07:00")]
    assert [e.kind for e in effects] == ["decision", "outcome"]


def test_operator_in_quiet_hours_needs_force_and_reason() -> None:
    assert (
        decisions(pol.decide(pol.SpeakerState(), SPK, TZ, req(1, "operator", force=True), NIGHT))[0][0]
        == "suppressed"
    )
    assert decisions(pol.decide(pol.SpeakerState(), SPK, TZ, req(1, "operator", reason="fire lane"), NIGHT))[
        0
    ][0] == ("suppressed")
    ok = pol.decide(
        pol.SpeakerState(), SPK, TZ, req(1, "operator", force=True, reason="fire lane blocked"), NIGHT
    )
    assert decisions(ok) == [("sent", "forced in quiet hours: fire lane blocked")]


def test_minimum_interval_suppresses_auto_but_operator_overrides() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1), DAY)
    ack(state, "r1", DAY + 5)
    assert decisions(pol.decide(state, SPK, TZ, req(2), DAY + 30))[0] == (
        "suppressed",
        "rate limit: last broadcast 30s ago, minimum interval 60s",
    )
    op = pol.decide(state, SPK, TZ, req(3, "operator"), DAY + 31)
    assert decisions(op)[0][0] == "sent" and "operator overrode rate limit" in decisions(op)[0][1]


def test_hourly_cap() -> None:
    state = pol.SpeakerState()
    for i in range(3):
        pol.decide(state, SPK, TZ, req(i), DAY + i * 100)
        ack(state, f"r{i}", DAY + i * 100 + 5)
    assert decisions(pol.decide(state, SPK, TZ, req(9), DAY + 400))[0] == (
        "suppressed",
        "rate limit: 3 broadcasts in the last hour",
    )
    # an hour after the first one, there is room again
    assert decisions(pol.decide(state, SPK, TZ, req(10), DAY + 3601))[0][0] == "sent"


def test_one_command_at_a_time_queues_and_releases_on_ack() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1, "operator"), DAY)
    queued = pol.decide(state, SPK, TZ, req(2, "operator"), DAY + 1)
    assert decisions(queued)[0][0] == "queued"
    released = ack(state, "cmd-unused", DAY + 2)  # an ack for another command frees nothing
    assert decisions(released) == []
    first_cmd = state.inflight["command_id"] if state.inflight else ""
    released = ack(state, first_cmd, DAY + 3)
    assert decisions(released)[0][0] == "sent"
    assert next(e.kind for e in released) in ("ack", "command")


def test_expired_command_frees_the_speaker() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1, "operator"), DAY)
    effects = pol.decide(state, SPK, TZ, req(2, "operator"), DAY + pol.COMMAND_TTL_S + 1)
    assert decisions(effects)[0][0] == "sent"


def test_redelivered_request_is_ignored() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1), DAY)
    assert pol.decide(state, SPK, TZ, req(1), DAY) == []


def test_unknown_speaker_and_empty_text() -> None:
    assert "unknown speaker" in decisions(pol.decide(pol.SpeakerState(), None, TZ, req(1), DAY))[0][1]
    assert "no text" in decisions(pol.decide(pol.SpeakerState(), SPK, TZ, req(1, text="  "), DAY))[0][1]


def test_ack_is_forwarded_to_the_incident_camera() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1), DAY)
    effects = ack(state, "r1", DAY + 5)
    [fwd] = [e for e in effects if e.kind == "ack"]
    assert fwd.key == "cam-1" and fwd.value["status"] == "played"


def test_state_round_trips() -> None:
    state = pol.SpeakerState()
    pol.decide(state, SPK, TZ, req(1), DAY)
    assert pol.SpeakerState.from_json(state.to_json()) == state
