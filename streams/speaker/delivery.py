"""Pure delivery decisions: what to do with a record, expiry, acks, offsets, duplicates.

Nothing here touches Kafka, a clock or a speaker: times come in as arguments.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from streams.contract.errors import RecordError
from streams.contract.records import DeadLetter, LoudspeakerAck, LoudspeakerCommand, dead_letter, decode
from streams.contract.timeutil import from_iso, to_iso

Status = Literal["played", "failed", "expired"]


@dataclass(frozen=True)
class Deliver:
    """Queue the command on its speaker's worker."""

    command: LoudspeakerCommand


@dataclass(frozen=True)
class Acknowledge:
    """Answer at once, without playing (unknown speaker...)."""

    ack: LoudspeakerAck


@dataclass(frozen=True)
class DeadLetterIt:
    record: DeadLetter


@dataclass(frozen=True)
class Skip:
    """Nothing to do (another gateway's speaker, or a command already handled)."""

    reason: str


Route = Deliver | Acknowledge | DeadLetterIt | Skip


def make_ack(
    command: LoudspeakerCommand,
    status: Status,
    *,
    started_at: float,
    finished_at: float,
    reason: str = "",
    **extra: Any,
) -> LoudspeakerAck:
    return LoudspeakerAck(
        command_id=command.command_id,
        speaker_id=command.speaker_id,
        incident_id=command.incident_id,
        status=status,
        reason=reason,
        started_at=to_iso(started_at),
        finished_at=to_iso(finished_at),
        camera_id=command.camera_id,
        **extra,
    )


def route(
    *,
    topic: str,
    partition: int,
    offset: int,
    raw: bytes | None,
    configured: Collection[str],
    wanted: Collection[str] | None,
    seen: RecentIds,
    now: float,
) -> Route:
    """Decide what one record of the loudspeaker topic leads to.

    ``configured``: speaker ids in cameras.yaml; ``wanted``: the ids this gateway
    serves (None: all configured); ``seen``: command ids already taken up.
    """
    try:
        if raw is None:
            raise RecordError("LoudspeakerCommand", "<payload>", "empty value (tombstone)")
        command = decode(LoudspeakerCommand, raw)
    except RecordError as exc:
        return DeadLetterIt(dead_letter(topic, partition, offset, str(exc), raw))
    if wanted is not None and command.speaker_id not in wanted:
        return Skip(f"speaker {command.speaker_id} is served by another gateway")
    if command.command_id in seen:
        return Skip(f"command {command.command_id} was already taken up")
    seen.add(command.command_id)
    if command.speaker_id not in configured:
        known = ", ".join(sorted(configured)) or "none"
        return Acknowledge(
            make_ack(
                command,
                "failed",
                started_at=now,
                finished_at=now,
                reason=(
                    f"speaker {command.speaker_id!r} is not defined under speakers: in the gateway's "
                    f"configuration (defined: {known}); add it or fix the speaker_id"
                ),
            )
        )
    return Deliver(command)


def expiry_reason(command: LoudspeakerCommand, now: float) -> str | None:
    """Why ``command`` must not be played at ``now``, or None if it still may be."""
    deadline = from_iso(command.not_after)
    if now <= deadline:
        return None
    return f"not_after {command.not_after} passed {now - deadline:.1f} s before it could be played"


class RecentIds:
    """A bounded set of the most recent ids (oldest forgotten first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, ident: object) -> bool:
        return ident in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ident: str) -> None:
        self._ids[ident] = None
        self._ids.move_to_end(ident)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class OffsetTracker:
    """Which offsets may be committed when records finish out of order.

    A partition's commit position is its lowest offset still in flight, or one
    past the highest offset seen when none is: nothing accepted is skipped.
    """

    def __init__(self) -> None:
        self._pending: dict[Hashable, set[int]] = {}
        self._next: dict[Hashable, int] = {}
        self._committed: dict[Hashable, int] = {}

    def start(self, part: Hashable, offset: int) -> None:
        self._pending.setdefault(part, set()).add(offset)
        self._next[part] = max(self._next.get(part, 0), offset + 1)

    def finish(self, part: Hashable, offset: int) -> None:
        self._pending.get(part, set()).discard(offset)

    def in_flight(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def committable(self) -> dict[Hashable, int]:
        """Commit positions that moved since ``committed`` was last told."""
        out: dict[Hashable, int] = {}
        for part, nxt in self._next.items():
            pending = self._pending.get(part)
            position = min(pending) if pending else nxt
            if position > self._committed.get(part, -1):
                out[part] = position
        return out

    def committed(self, positions: dict[Hashable, int]) -> None:
        self._committed.update(positions)

    def forget(self, parts: Collection[Hashable]) -> None:
        """Partitions taken away by a rebalance: their new owner starts from the last commit."""
        for part in parts:
            self._pending.pop(part, None)
            self._next.pop(part, None)
            self._committed.pop(part, None)
