"""The demo's live timeline: one readable line per meaningful record (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATE_WORDS = {
    "open": "violation seen, incident opened",
    "warned": "loudspeaker warning sent",
    "cleared": "camera sees the zone clear",
    "dispatched": "case dispatched to patrol",
    "accepted": "patrol accepted the case",
    "arrived": "patrol arrived",
    "resolved": "patrol reports resolved",
    "verifying": "camera verifying",
    "verified": "camera verified the zone is clear",
    "reopened": "camera still sees it: reopened",
    "overdue": "case overdue",
    "closed": "incident closed",
}


@dataclass
class Timeline:
    """Turns records of the watched topics into lines; remembers what it has told."""

    names: dict[str, str] = field(default_factory=dict)  # camera id -> camera name
    history_seen: dict[str, int] = field(default_factory=dict)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)

    def where(self, camera_id: str | None) -> str:
        if not camera_id:
            return "-"
        name = self.names.get(camera_id)
        return f"{camera_id} ({name})" if name else camera_id

    def lines(self, suffix: str, value: dict[str, Any]) -> list[str]:
        if suffix == "alerts":
            return self._alert(value)
        if suffix == "loudspeaker":
            self.commands.append(value)
            return [f"LOUDSPEAKER {value.get('speaker_id')}: «{value.get('text')}» ({value.get('source')})"]
        if suffix == "loudspeaker-acks":
            self.acks.append(value)
            status = value.get("status")
            extra = (
                f" {value.get('audio_s', 0):.1f} s of audio -> {value.get('output', '')}"
                if status == "played"
                else ""
            )
            reason = f" ({value.get('reason')})" if value.get("reason") and status != "played" else ""
            return [f"SPEAKER     {value.get('speaker_id')} {status}{extra}{reason}"]
        if suffix == "dispatch":
            self.cases.append(value)
            return [
                f"DISPATCH    case {value.get('case_id')} -> {value.get('unit_id')} ({value.get('level')}), "
                f"due {str(value.get('due_at', ''))[11:19]} UTC"
            ]
        if suffix == "dispatch-updates":
            self.updates.append(value)
            note = f": {value['note']}" if value.get("note") else ""
            return [
                f"PATROL      {value.get('unit_id')} {value.get('status')} case {value.get('case_id')}{note}"
            ]
        if suffix == "broadcast-decisions" and value.get("decision") != "sent":
            return [f"POLICY      {value.get('speaker_id')} {value.get('decision')}: {value.get('reason')}"]
        return []

    def _alert(self, value: dict[str, Any]) -> list[str]:
        iid = str(value.get("incident_id"))
        self.incidents[iid] = value
        history = value.get("history") or []
        start = self.history_seen.get(iid, 0)
        self.history_seen[iid] = len(history)
        out = []
        category = value.get("category") or {}
        where = self.where(value.get("camera_id"))
        head = f"INCIDENT    {where} {category.get('name', '')} [{category.get('code', '')}]"
        previous = history[start - 1].get("state") if start > 0 else None
        for entry in history[start:]:
            state = entry.get("state", "")
            if state == previous:  # a decision or note without a state change
                out.append(f"{head} {state}: {entry.get('note', '')}")
            else:
                words = STATE_WORDS.get(state, state)
                out.append(f"{head} {state.upper()}: {words} — {entry.get('note', '')}")
            previous = state
        return out

    def closed_by(self, camera_id: str) -> str | None:
        """How this camera's incident closed ('warning', 'verified', other) or None while open."""
        for inc in self.incidents.values():
            if inc.get("camera_id") != camera_id or not inc.get("zone_id") or inc.get("state") != "closed":
                continue  # only the camera's violation incidents (not e.g. camera-offline)
            states = [h.get("state") for h in inc.get("history", [])]
            if "verified" in states:
                return "verified"
            if "warned" in states and "dispatched" not in states:
                return "warning"
            return "other"
        return None
