"""The demo's timeline lines and its idea of how a story ended (pure)."""

from __future__ import annotations

from typing import Any

from streams.dev.demo.timeline import Timeline


def alert(states: list[str], camera: str = "cam-a", zone: str | None = "kerb") -> dict[str, Any]:
    return {
        "incident_id": f"inc-{camera}",
        "camera_id": camera,
        "zone_id": zone,
        "state": states[-1],
        "category": {"key": "illegal_parking", "code": "200505", "name": "机动车乱停放"},
        "history": [
            {"at": "2026-05-26T02:00:00.000Z", "state": s, "by": "rules", "note": f"n{i}"}
            for i, s in enumerate(states)
        ],
    }


def test_each_history_entry_is_told_once() -> None:
    tl = Timeline(names={"cam-a": "兴华街口"})
    first = tl.lines("alerts", alert(["open"]))
    assert first == [
        "INCIDENT    cam-a (兴华街口) 机动车乱停放 [200505] OPEN: violation seen, incident opened — n0"
    ]
    again = tl.lines("alerts", alert(["open", "warned", "warned"]))
    assert len(again) == 2
    assert "WARNED: loudspeaker warning sent — n1" in again[0]
    assert again[1].endswith("warned: n2")  # same state: a note, not a transition


def test_closed_by() -> None:
    tl = Timeline()
    tl.lines("alerts", alert(["open", "warned", "cleared", "closed"], camera="cam-w"))
    tl.lines("alerts", alert(["open", "warned", "dispatched", "resolved", "verifying", "verified", "closed"]))
    tl.lines("alerts", alert(["open", "cleared", "closed"], camera="cam-o", zone=None))
    assert tl.closed_by("cam-w") == "warning"
    assert tl.closed_by("cam-a") == "verified"
    assert tl.closed_by("cam-o") is None  # camera-offline incidents are not the story
    assert tl.closed_by("cam-x") is None


def test_other_records() -> None:
    tl = Timeline()
    assert tl.lines("loudspeaker", {"speaker_id": "spk-1", "text": "请驶离", "source": "auto"}) == [
        "LOUDSPEAKER spk-1: «请驶离» (auto)"
    ]
    assert "sent" not in " ".join(tl.lines("broadcast-decisions", {"decision": "sent"}))
    assert tl.lines(
        "broadcast-decisions", {"decision": "suppressed", "speaker_id": "s", "reason": "quiet hours"}
    ) == ["POLICY      s suppressed: quiet hours"]
    assert tl.lines(
        "dispatch-updates", {"unit_id": "u", "status": "accepted", "case_id": "c", "note": ""}
    ) == ["PATROL      u accepted case c"]
