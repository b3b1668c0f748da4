"""The incident lifecycle: its states, their order, and the moves between them.

    open --warn--> warned --clear within grace--> cleared --> closed
      |               `--still there after grace--> dispatched --> accepted --> arrived --> resolved
      |                                                 ^                                       |
      |                                 reopened <--camera still sees it-- verifying <----------'
      |                                                  `--camera sees it clear--> verified --> closed
    dispatched/accepted/reopened past due_at --> overdue (escalated one level)
    any state --operator close--> closed

The one place that names them: the incident logic (``streams.logic.incidents``), the
patrol client, the board and the pages (through ``describe()`` in ``/api/options``)
all read these. Which of two alerts of one incident is newer is ``newer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# every state an incident can be in, in the order of its life
STATES: tuple[str, ...] = (
    "open",
    "warned",
    "cleared",
    "dispatched",
    "accepted",
    "arrived",
    "resolved",
    "verifying",
    "verified",
    "reopened",
    "overdue",
    "closed",
)
# before any case: the grace period runs, a clear closes it, an operator may dispatch it now
OPEN_STATES: tuple[str, ...] = ("open", "warned")
# a patrol unit holds the case: its updates count, and "resolved" moves it on
CASE_STATES: tuple[str, ...] = ("dispatched", "accepted", "arrived", "overdue", "reopened")
# a unit holds the case and its due time runs (arrival stops the clock)
DUE_STATES: tuple[str, ...] = ("dispatched", "accepted", "overdue", "reopened")
# the case is in a unit's hands or its work is being checked: listed on the unit's page
ASSIGNED_STATES: tuple[str, ...] = (*CASE_STATES, "resolved", "verifying")
# after these the patrol unit has nothing more to do for the case (a reopened incident is
# dispatched again under a new case id)
FINISHED_STATES: tuple[str, ...] = ("resolved", "verifying", "verified", "closed", "cleared", "reopened")
# nothing happens to the incident any more
FINAL_STATES: tuple[str, ...] = ("closed",)

# a patrol unit's update (DispatchUpdate.status) -> the case states it is accepted from
UPDATE_FROM: dict[str, tuple[str, ...]] = {
    "accepted": ("dispatched", "overdue", "reopened"),
    "arrived": DUE_STATES,
    "resolved": CASE_STATES,
    "rejected": DUE_STATES,
}

# state -> the states it may change to (an entry that keeps the state is always allowed: a note,
# an escalation); an operator may close an incident in any state
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("warned", "cleared", "dispatched", "closed"),
    "warned": ("cleared", "dispatched", "closed"),
    "cleared": ("closed",),
    "dispatched": ("accepted", "arrived", "resolved", "overdue", "closed"),
    "accepted": ("arrived", "resolved", "overdue", "closed"),
    "arrived": ("resolved", "closed"),
    "resolved": ("verifying", "closed"),
    "verifying": ("reopened", "verified", "closed"),
    "verified": ("closed",),
    "reopened": ("dispatched", "accepted", "arrived", "resolved", "overdue", "closed"),
    "overdue": ("accepted", "arrived", "resolved", "closed"),
    "closed": (),
}


def allowed(current: str, new: str) -> bool:
    """Whether an incident in ``current`` may move to ``new`` (staying put always may)."""
    return current == new or new in TRANSITIONS.get(current, ())


def update_allowed(status: str, state: str) -> bool:
    """Whether a patrol unit's ``status`` update counts for a case in ``state``."""
    return state in UPDATE_FROM.get(status, ())


def alert_version(alert: Mapping[str, Any]) -> tuple[int, int, str]:
    """Order of two records of one incident: the larger is newer.

    ``revision`` counts the incident's changes; records from before it existed fall
    back on the length of the history (which only grows) and ``updated_at``.
    """
    history = alert.get("history") or []
    seen = len(history) + int(alert.get("history_omitted") or 0)
    return int(alert.get("revision") or 0), seen, str(alert.get("updated_at") or "")


def newer(a: Mapping[str, Any], b: Mapping[str, Any] | None) -> bool:
    """Whether alert ``a`` is a newer record of its incident than ``b`` (None: nothing known)."""
    return b is None or alert_version(a) > alert_version(b)


def describe() -> dict[str, Any]:
    """The lifecycle as JSON for the pages (the ``lifecycle`` field of ``/api/options``)."""
    return {
        "states": list(STATES),
        "open_states": list(OPEN_STATES),
        "case_states": list(CASE_STATES),
        "due_states": list(DUE_STATES),
        "assigned_states": list(ASSIGNED_STATES),
        "finished_states": list(FINISHED_STATES),
        "final_states": list(FINAL_STATES),
        "update_from": {status: list(states) for status, states in UPDATE_FROM.items()},
        "transitions": {state: list(to) for state, to in TRANSITIONS.items()},
    }
