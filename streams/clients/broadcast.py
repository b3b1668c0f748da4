"""An operator's broadcast request from the terminal (pure logic).

``build_request`` checks the options against the configuration and returns the
``citywatch.broadcast-requests`` record (key: its ``speaker_id``); the policy
agent of the worker decides on it and publishes the decision with the same
``request_id`` on ``citywatch.broadcast-decisions``. ``exit_code`` maps that
decision to the command's exit status.
"""

from __future__ import annotations

from typing import Any

from streams.config import Config
from streams.contract.errors import UsageError
from streams.contract.records import BroadcastRequest
from streams.contract.timeutil import to_iso

EXIT_OK = 0  # sent or queued
EXIT_SUPPRESSED = 3
EXIT_TIMEOUT = 4  # no decision within --wait


def build_request(
    cfg: Config,
    *,
    request_id: str,
    speaker_id: str | None,
    camera_id: str | None,
    text: str | None,
    template: str | None,
    reason: str,
    force: bool,
    requested_by: str,
    now: float,
) -> dict[str, Any]:
    """The request record; ``UsageError`` names the known ids when an option is wrong."""
    if bool(speaker_id) == bool(camera_id):
        raise UsageError("name exactly one of --speaker ID or --camera ID")
    if bool(text and text.strip()) == bool(template):
        raise UsageError("give exactly one of --text TEXT or --template CATEGORY")
    speakers = [s.id for s in cfg.speakers]
    if camera_id:
        cam = next((c for c in cfg.cameras if c.id == camera_id), None)
        if cam is None:
            known = ", ".join(c.id for c in cfg.cameras) or "none"
            raise UsageError(f"unknown camera {camera_id!r}; known cameras: {known}")
        if not cam.speaker:
            raise UsageError(
                f"camera {camera_id} has no speaker; name one with --speaker ({', '.join(speakers)})"
            )
        speaker_id = cam.speaker
    else:
        if speaker_id not in speakers:
            raise UsageError(
                f"unknown speaker {speaker_id!r}; known speakers: {', '.join(speakers) or 'none'}"
            )
        camera_id = next((c.id for c in cfg.cameras if c.speaker == speaker_id), None)
    if template and template not in cfg.categories:
        raise UsageError(
            f"unknown template {template!r}: it must be a category key, one of {', '.join(cfg.categories)}"
        )
    if force and not reason.strip():
        raise UsageError("--force needs --reason (the policy records why quiet hours were overridden)")
    record = BroadcastRequest(
        request_id=request_id,
        speaker_id=str(speaker_id),
        text=text.strip() if text else None,
        template=template,
        requested_by=requested_by,
        reason=reason,
        force=force,
        camera_id=camera_id,
        requested_at=to_iso(now),
    )
    return record.to_dict()


def exit_code(decision: dict[str, Any] | None) -> int:
    if decision is None:
        return EXIT_TIMEOUT
    return EXIT_SUPPRESSED if decision.get("decision") == "suppressed" else EXIT_OK


def decision_line(decision: dict[str, Any]) -> str:
    """One readable line: ``sent: within policy (command cmd-…)``."""
    line = f"{decision.get('decision')}: {decision.get('reason') or '-'}"
    if decision.get("command_id"):
        line += f" (command {decision['command_id']})"
    return line
