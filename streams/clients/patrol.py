"""A patrol unit's cases, its commands and its automatic mode (pure logic).

``CaseBook`` is fed with decoded records of two topics, read on every partition:

- ``citywatch.dispatch`` says who holds a case. A case is re-sent with the same
  ``case_id`` to another unit on escalation, so the latest record of a case (by
  ``created_at``, then arrival) names its unit: a case re-sent away leaves this
  unit's list, a case re-sent here joins it.
- ``citywatch.alerts`` says what became of the case's incident. Once an alert
  carrying the case's id is past the patrol's part (resolved, verifying,
  verified, closed, cleared, reopened), that case is finished for good: a
  reopened incident is dispatched again under a new ``case_id``.

The two topics are keyed differently (unit, incident), so their records may be
read in any order between them; finished cases are remembered, so a dispatch
record read after the incident's close cannot bring the case back. The case
record (streams/clients/patrol_source.py) may also say a case is over.

``PatrolSession`` turns records, typed lines (``a 1``, ``r 1 cleared``) and the
passing of time into lines to print and ``DispatchUpdate`` records to send. It
never reads a clock: every method takes ``now`` (epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from streams.config import Config
from streams.contract.errors import UsageError
from streams.contract.records import DispatchUpdate
from streams.contract.timeutil import from_iso, to_iso
from streams.logic.lifecycle import FINISHED_STATES, alert_version, update_allowed

KEYS: dict[str, str] = {
    "a": "accepted",
    "accept": "accepted",
    "v": "arrived",
    "arrive": "arrived",
    "arrived": "arrived",
    "r": "resolved",
    "resolve": "resolved",
    "resolved": "resolved",
    "j": "rejected",
    "reject": "rejected",
}
HELP = (
    "keys: l list | a N accept | v N arrived | r N [note] resolved | j N reason rejected | q quit"
    " (N: the case's number or its id)"
)
AUTO_STEPS = ("accepted", "arrived", "resolved")


def check_unit(cfg: Config, unit_id: str) -> None:
    """Raise ``UsageError`` naming the known units when ``unit_id`` is not one of them."""
    known = [u.id for u in cfg.units]
    if unit_id not in known:
        raise UsageError(
            f"unit {unit_id!r} is not in the configuration; known units: {', '.join(known) or 'none'}"
        )


@dataclass
class Case:
    """One case as this unit sees it."""

    number: int  # stable in this session: what the officer types
    case_id: str
    incident_id: str
    category: str  # the category's name (e.g. 店外经营)
    address: str
    shop: str
    due_at: str
    created_at: str
    state: str
    level: str
    rework: int = 0
    evidence: list[str] = field(default_factory=list)

    @classmethod
    def from_record(cls, number: int, rec: dict[str, Any], state: str) -> Case:
        cat = rec.get("category") or {}
        loc = rec.get("location") or {}
        return cls(
            number=number,
            case_id=str(rec["case_id"]),
            incident_id=str(rec.get("incident_id") or ""),
            category=str(cat.get("name") or cat.get("key") or "?"),
            address=str(loc.get("address") or ""),
            shop=str(loc.get("shop") or ""),
            due_at=str(rec.get("due_at") or ""),
            created_at=str(rec.get("created_at") or ""),
            state=state,
            level=str(rec.get("level") or ""),
            rework=int(rec.get("rework") or 0),
            evidence=[str(e) for e in rec.get("evidence") or []],
        )


@dataclass(frozen=True)
class Change:
    """What a record changed for this unit: new | gone | state | done (a former case's outcome)."""

    kind: str
    case: Case
    note: str = ""


@dataclass
class CaseBook:
    unit_id: str
    open: dict[str, Case] = field(default_factory=dict)  # case_id -> case, in order of arrival
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # case_id -> latest dispatch record
    alert_state: dict[str, tuple[tuple[int, int, str], str, str]] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)  # case_id -> final state seen
    handled: dict[str, Case] = field(default_factory=dict)  # every case this unit has held
    next_number: int = 1

    def apply_case(self, rec: dict[str, Any]) -> list[Change]:
        case_id = str(rec["case_id"])
        prev = self.latest.get(case_id)
        if prev is not None and str(rec.get("created_at") or "") < str(prev.get("created_at") or ""):
            return []  # an older assignment read after a newer one
        self.latest[case_id] = rec
        mine = rec.get("unit_id") == self.unit_id and case_id not in self.finished
        held = self.open.get(case_id)
        if mine and held is None:
            known = self.handled.get(case_id)
            number = known.number if known else self._number()
            state = self._alert_state(case_id) or str(rec.get("state") or "dispatched")
            case = self.open[case_id] = self.handled[case_id] = Case.from_record(number, rec, state)
            notes = []
            if prev is not None and prev.get("unit_id") != self.unit_id:
                notes.append(f"re-sent here from {prev.get('unit_id')}")
            if case.rework:
                notes.append(f"rework {case.rework}")
            return [Change("new", case, "; ".join(notes))]
        if mine and held is not None:
            fresh = Case.from_record(held.number, rec, held.state)
            self.open[case_id] = self.handled[case_id] = fresh
            if fresh.due_at != held.due_at:
                return [Change("state", fresh, f"due time now {fresh.due_at}")]
            return []
        if held is not None:
            del self.open[case_id]
            return [Change("gone", held, f"re-sent to {rec.get('unit_id')} ({rec.get('level') or '?'})")]
        return []

    def apply_alert(self, alert: dict[str, Any]) -> list[Change]:
        case_id = alert.get("case_id")
        if not case_id:
            return []
        case_id = str(case_id)
        version = alert_version(alert)
        known = self.alert_state.get(case_id)
        if known is not None and version <= known[0]:
            return []
        state = str(alert.get("state") or "")
        history = alert.get("history") or []
        note = str(history[-1].get("note") or "") if history else ""
        self.alert_state[case_id] = (version, state, note)
        if state in FINISHED_STATES:
            first = case_id not in self.finished
            self.finished[case_id] = state
            held = self.open.pop(case_id, None)
            if held is not None:
                held.state = state
                return [Change("gone", held, f"{state}: {note}" if note else state)]
            former = self.handled.get(case_id)
            if former is not None and (first or former.state != state):
                former.state = state
                return [Change("done", former, note)]
            return []
        held = self.open.get(case_id)
        if held is not None and held.state != state:
            held.state = state
            return [Change("state", held, note)]
        return []

    def apply_over(self, case_id: str, state: str) -> list[Change]:
        """The case record says the case is over (its incident is past the patrol's part, or
        came back under another case id): finished for good."""
        if case_id in self.finished:
            return []
        self.finished[case_id] = state
        held = self.open.pop(case_id, None)
        if held is None:
            return []
        held.state = state
        return [Change("gone", held, f"{state} (by the case record)")]

    def find(self, ref: str) -> Case | None:
        """An open case by its number or its id (or a unique prefix of the id)."""
        if ref.isdigit():
            return next((c for c in self.open.values() if c.number == int(ref)), None)
        found = [c for c in self.open.values() if c.case_id.startswith(ref)]
        return found[0] if len(found) == 1 else None

    def renumber(self) -> None:
        """Number the open cases 1..n in order of arrival (once the history is read)."""
        for n, case in enumerate(self.open.values(), start=1):
            case.number = n
        self.next_number = len(self.open) + 1

    def _alert_state(self, case_id: str) -> str | None:
        known = self.alert_state.get(case_id)
        return known[1] if known else None

    def _number(self) -> int:
        n = self.next_number
        self.next_number += 1
        return n


# ---------------------------------------------------------------- typed commands


@dataclass(frozen=True)
class Command:
    """A parsed line: action is list | help | quit | update (then status, ref and note are set)."""

    action: str
    status: str = ""
    ref: str = ""
    note: str = ""


@dataclass(frozen=True)
class Problem:
    message: str


def parse_command(line: str) -> Command | Problem:
    words = line.strip().split(maxsplit=2)
    if not words or words[0].lower() in ("l", "ls", "list"):
        return Command("list")
    head = words[0].lower()
    if head in ("q", "quit", "exit"):
        return Command("quit")
    if head in ("h", "?", "help"):
        return Command("help")
    status = KEYS.get(head)
    if status is None:
        return Problem(f"unknown command {words[0]!r}; {HELP}")
    if len(words) < 2:
        return Problem(f"{head} needs a case number, e.g. '{head} 1'")
    note = words[2].strip() if len(words) > 2 else ""
    if status == "rejected" and not note:
        return Problem("rejecting needs a reason, e.g. 'j 1 not in my grid'")
    return Command("update", status=status, ref=words[1], note=note)


# ---------------------------------------------------------------- output


def clock_text(iso: str, tz: str) -> str:
    """A contract timestamp as the site's local HH:MM:SS (the officer's clock)."""
    try:
        t = from_iso(iso)
    except ValueError:
        return iso or "?"
    return datetime.fromtimestamp(t, UTC).astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


def due_text(case: Case, now: float, tz: str) -> str:
    try:
        left = from_iso(case.due_at) - now
    except ValueError:
        return "due ?"
    when = clock_text(case.due_at, tz)
    if left < 0:
        return f"due {when} (overdue by {_span(-left)})"
    return f"due {when} (in {_span(left)})"


def _span(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def case_line(case: Case, now: float, tz: str) -> str:
    where = f"{case.address} ({case.shop})" if case.shop else case.address or "?"
    due = due_text(case, now, tz)
    line = f"#{case.number} {case.category} @ {where} | {case.state} | {due} | {case.case_id}"
    if case.rework:
        line += f" | rework {case.rework}"
    if case.evidence:
        line += " | evidence: " + ", ".join(case.evidence)
    return line


def change_line(change: Change, now: float, tz: str) -> str:
    c = change.case
    note = f" ({change.note})" if change.note else ""
    if change.kind == "new":
        return f"NEW {case_line(c, now, tz)}{note}"
    if change.kind == "gone":
        return f"GONE #{c.number} {c.category} @ {c.address}: {c.case_id} left this unit{note}"
    if change.kind == "state":
        return f"CASE #{c.number} {c.case_id} is {c.state}{note}"
    return f"DONE #{c.number} {c.case_id} is {c.state}{note}"


def make_update(case: Case, unit_id: str, status: str, note: str, now: float) -> dict[str, Any]:
    """The ``citywatch.dispatch-updates`` record (key: ``case_id``)."""
    record = DispatchUpdate(
        case_id=case.case_id, unit_id=unit_id, status=status, note=note, at=to_iso(now), by="terminal"
    )
    return record.to_dict()


# ---------------------------------------------------------------- the session


@dataclass(frozen=True)
class AutoPlan:
    """Seconds before each step of the automatic mode (each from the previous step)."""

    accept_after: float = 3.0
    arrive_after: float = 5.0
    resolve_after: float = 5.0
    max_cases: int | None = None

    def delay(self, status: str) -> float:
        return {"accepted": self.accept_after, "arrived": self.arrive_after}.get(status, self.resolve_after)


@dataclass
class Output:
    lines: list[str] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # each keyed by its case_id


@dataclass
class PatrolSession:
    """One officer's terminal: records and typed lines in, lines and updates out."""

    unit_id: str
    tz: str = "Asia/Shanghai"
    auto: AutoPlan | None = None
    book: CaseBook = field(init=False)
    live: bool = False  # False while catching up with the topics' history: nothing printed per record
    quit: bool = False
    resolved: int = 0  # cases this session resolved
    # case_id -> (index into AUTO_STEPS of the next step, when)
    plan: dict[str, tuple[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.book = CaseBook(self.unit_id)

    def on_case(self, rec: dict[str, Any], now: float) -> Output:
        return self._changes(self.book.apply_case(rec), now)

    def on_alert(self, alert: dict[str, Any], now: float) -> Output:
        return self._changes(self.book.apply_alert(alert), now)

    def on_over(self, over: dict[str, Any], now: float) -> Output:
        return self._changes(self.book.apply_over(str(over["case_id"]), str(over["state"])), now)

    def go_live(self, now: float) -> Output:
        """Caught up with the history: show the unit's open cases."""
        self.live = True
        self.book.renumber()
        out = Output([f"unit {self.unit_id}: {len(self.book.open)} open case(s)"])
        out.lines += [case_line(c, now, self.tz) for c in self.book.open.values()]
        if self.auto is None:
            out.lines.append(HELP)
        out.updates += self.on_tick(now).updates
        return out

    def on_line(self, line: str, now: float) -> Output:
        cmd = parse_command(line)
        if isinstance(cmd, Problem):
            return Output([cmd.message])
        if cmd.action == "quit":
            self.quit = True
            return Output(["bye"])
        if cmd.action == "help":
            return Output([HELP])
        if cmd.action == "list":
            lines = [case_line(c, now, self.tz) for c in self.book.open.values()]
            return Output(lines or [f"unit {self.unit_id}: no open cases"])
        case = self.book.find(cmd.ref)
        if case is None:
            numbers = ", ".join(str(c.number) for c in self.book.open.values()) or "none"
            return Output([f"no open case {cmd.ref!r} for unit {self.unit_id} (open: {numbers})"])
        return self._act(case, cmd.status, cmd.note, now)

    def on_tick(self, now: float) -> Output:
        """Automatic mode: take every step that is due."""
        out = Output()
        if self.auto is None or not self.live:
            return out
        for case in list(self.book.open.values()):
            if case.case_id not in self.plan:
                if self.auto.max_cases is not None and len(self.plan) >= self.auto.max_cases:
                    continue
                step = next((i for i, s in enumerate(AUTO_STEPS) if update_allowed(s, case.state)), None)
                if step is None:
                    continue  # a case taken over from history starts at its next step
                self.plan[case.case_id] = (step, now + self.auto.delay(AUTO_STEPS[step]))
            step, when = self.plan[case.case_id]
            if step >= len(AUTO_STEPS) or now < when:
                continue
            status = AUTO_STEPS[step]
            note = {"accepted": "on my way", "arrived": "on site", "resolved": "cleared on site"}[status]
            done = self._act(case, status, f"{note} (auto)", now)
            out.lines += done.lines
            out.updates += done.updates
            nxt = step + 1
            following = now + self.auto.delay(AUTO_STEPS[nxt]) if nxt < len(AUTO_STEPS) else now
            self.plan[case.case_id] = (nxt, following)
        return out

    def auto_finished(self) -> bool:
        return (
            self.auto is not None and self.auto.max_cases is not None and self.resolved >= self.auto.max_cases
        )

    def _act(self, case: Case, status: str, note: str, now: float) -> Output:
        if not update_allowed(status, case.state):
            return Output([f"#{case.number} is {case.state}: cannot report {status} now"])
        update = make_update(case, self.unit_id, status, note, now)
        case.state = status  # shown at once; the incident's alert confirms it
        if status == "resolved":
            self.resolved += 1
        text = f" — {note}" if note else ""
        return Output([f"SENT #{case.number} {case.case_id} {status}{text}"], [update])

    def _changes(self, changes: list[Change], now: float) -> Output:
        if not self.live:
            return Output()
        return Output([change_line(c, now, self.tz) for c in changes])
