"""Live events for connected pages: one bounded queue per client, filtered by role.

A client that does not keep up (its queue is full) is disconnected rather than
slowing the board down; its page reconnects and reloads the list. Streams are
capped in total and per token (``web.max_streams``, ``web.max_streams_per_token``).

Who may see an incident's event is decided from the incident's assignment *now*
(``assigned``), when the event is queued and again when it is written: after an
escalation the former unit gets nothing more of that incident.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.contract.errors import WebError
from streams.web.auth import Principal
from streams.web.board import Event

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000
MAX_STREAMS = 200
MAX_STREAMS_PER_TOKEN = 10

Assigned = Callable[[str], str | None]  # incident id -> the unit it is assigned to now (None: unknown)
InScope = Callable[[Principal, Event], bool]  # a scoped reader may see the event (streams/web/scope.py)


def _nobody(_incident_id: str) -> str | None:
    return None


def _unscoped(principal: Principal, _event: Event) -> bool:
    return principal.scope is None


def visible(
    principal: Principal, event: Event, assigned: Assigned = _nobody, in_scope: InScope = _unscoped
) -> bool:
    """Readers see everything in their scope (a street's grids, a department's categories);
    a patrol sees its own unit's incidents, cases and updates.

    An event of a known incident goes to the unit that incident is assigned to now; the
    units the event was made with count only when the incident is not on the board.
    """
    if principal.can_read:
        return principal.scope is None or in_scope(principal, event)
    if principal.role != "patrol" or event.kind == "decision":
        return False
    unit = assigned(event.incident_id) if event.incident_id else None
    if unit is not None:
        return principal.unit == unit
    return principal.unit in event.units


def sse_frame(event: Event) -> bytes:
    """One Server-Sent Events frame."""
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event.kind}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    principal: Principal
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False


class Hub:
    def __init__(
        self,
        max_streams: int = MAX_STREAMS,
        per_token: int = MAX_STREAMS_PER_TOKEN,
        assigned: Assigned = _nobody,
        in_scope: InScope = _unscoped,
    ) -> None:
        self._subs: set[Subscription] = set()
        self._per_token: dict[str, int] = {}
        self.max_streams = max_streams
        self.per_token = per_token
        self.assigned = assigned
        self.in_scope = in_scope
        self.closed = False

    def __len__(self) -> int:
        return len(self._subs)

    def streams_of(self, principal: Principal) -> int:
        return self._per_token.get(principal.key, 0)

    def subscribe(self, principal: Principal) -> Subscription:
        """A new stream; WebError 429 past the caps (in total, or for this token)."""
        if not self.closed:
            if len(self._subs) >= self.max_streams:
                raise WebError(
                    f"too many live streams on this server ({self.max_streams}, web.max_streams): "
                    "close other pages and try again",
                    429,
                )
            if self.streams_of(principal) >= self.per_token:
                raise WebError(
                    f"this token has {self.per_token} live streams open (web.max_streams_per_token): "
                    "close other pages of this token and try again",
                    429,
                )
        sub = Subscription(principal)
        if self.closed:
            sub.queue.put_nowait(None)
        else:
            self._subs.add(sub)
            self._per_token[principal.key] = self.streams_of(principal) + 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            self._release(sub.principal)

    def _release(self, principal: Principal) -> None:
        left = self.streams_of(principal) - 1
        if left > 0:
            self._per_token[principal.key] = left
        else:
            self._per_token.pop(principal.key, None)

    def visible(self, principal: Principal, event: Event) -> bool:
        return visible(principal, event, self.assigned, self.in_scope)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            if not self.visible(sub.principal, event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("live client %s is too slow: disconnecting it", sub.principal.name)
                sub.dropped = True
                self.unsubscribe(sub)
                self._end(sub)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closed = True
        for sub in list(self._subs):
            self._end(sub)
        self._subs.clear()
        self._per_token.clear()

    @staticmethod
    def _end(sub: Subscription) -> None:
        while True:
            try:
                sub.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                sub.queue.get_nowait()  # make room for the end marker
