"""The notes of an incident's history that carry a meaning beyond their words: named once here,
written by the incident logic and camera health, and matched by the reports (streams/reports/),
which read them back from the case record.

    WARNING_WORKED       closed because the zone was seen clear after the warning
    grace_over(why)      the grace period ran out without a dispatch (review, or not dispatched)
    camera_offline(...)  a camera-offline incident opens: when the camera went down
    camera_back(status)  the camera reports again: its outage is over
    past_due(case_id)    a case ran past its due time (the incident turns overdue)
    escalated(...)       a case goes to the next level's unit (read back by ``escalation``)
"""

from __future__ import annotations

import re

from streams.contract.timeutil import from_iso, to_iso

WARNING_WORKED = "the warning worked"
CLEARED_BEFORE_ACTION = "cleared before any action"

GRACE_OVER = "grace over"
GRACE_OVER_LIKE = f"{GRACE_OVER};%"  # SQL LIKE of every grace_over note

_OFFLINE = "camera offline since {since}: {reason}"
_OFFLINE_RE = re.compile(r"^camera offline since (\S+): ")

_BACK = "camera reports {status} again"
CAMERA_BACK_LIKE = "camera reports % again"  # SQL LIKE of every camera_back note
_BACK_RE = re.compile(r"^camera reports \S+ again$")


def grace_over(why: str) -> str:
    return f"{GRACE_OVER}; {why}"


def camera_offline(since: float, reason: str) -> str:
    return _OFFLINE.format(since=to_iso(since), reason=reason)


def offline_since(note: str) -> float | None:
    """When the camera went down, from a ``camera_offline`` note (None: not one)."""
    match = _OFFLINE_RE.match(note)
    if match is None:
        return None
    try:
        return from_iso(match.group(1))
    except (ValueError, OverflowError):
        return None


def camera_back(status: str) -> str:
    return _BACK.format(status=status)


def is_camera_back(note: str) -> bool:
    return _BACK_RE.match(note) is not None


_PAST_DUE = "case {case_id} past its due time"
_PAST_DUE_RE = re.compile(r"^case (\S+) past its due time$")

_ESCALATED = "{why}: escalated from {previous} to {target} ({level})"
_ESCALATED_RE = re.compile(r"^[^:]*: escalated from (\S+) to (\S+) \(([^)]*)\)$")


def past_due(case_id: str | None) -> str:
    return _PAST_DUE.format(case_id=case_id)


def is_past_due(note: str) -> bool:
    return _PAST_DUE_RE.match(note) is not None


def escalated(why: str, previous: str | None, target: str, level: str) -> str:
    return _ESCALATED.format(why=why, previous=previous, target=target, level=level)


def escalation(note: str) -> tuple[str, str, str] | None:
    """(from unit, to unit, level) of an ``escalated`` note (None: not one)."""
    match = _ESCALATED_RE.match(note)
    return None if match is None else (match.group(1), match.group(2), match.group(3))
