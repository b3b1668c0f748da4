"""Live events for connected pages: one bounded queue per client, filtered by role.

A client that does not keep up (its queue is full) is disconnected rather than
slowing the board down; its page reconnects and reloads the list.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from streams.web.auth import Principal
from streams.web.board import Event

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000


def visible(principal: Principal, event: Event) -> bool:
    """Readers see everything; a patrol sees its own unit's incidents, cases and updates."""
    if principal.can_read:
        return True
    return principal.role == "patrol" and event.kind != "decision" and principal.unit in event.units


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
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self, principal: Principal) -> Subscription:
        sub = Subscription(principal)
        if self.closed:
            sub.queue.put_nowait(None)
        else:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            if not visible(sub.principal, event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("live client %s is too slow: disconnecting it", sub.principal.name)
                sub.dropped = True
                self._subs.discard(sub)
                self._end(sub)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closed = True
        for sub in list(self._subs):
            self._end(sub)
        self._subs.clear()

    @staticmethod
    def _end(sub: Subscription) -> None:
        while True:
            try:
                sub.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                sub.queue.get_nowait()  # make room for the end marker
