"""State held in memory beside the tables.

``forget_on_revoke``: what a worker holds in memory of its partitions is forgotten
when partitions are revoked (another worker may own, and change, them now).
``StateCache``: a subject's state read from its table once and then kept in memory,
written back on a transition (``save(..., force=True)``) or at most every
``checkpoint_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import faust


class Clearable(Protocol):
    def clear(self) -> None: ...


def forget_on_revoke(app: faust.App, *held: Clearable) -> None:
    """Clear each of ``held`` whenever this worker's partitions are revoked."""

    async def forget(*_args: Any, **_kwargs: Any) -> None:
        for h in held:
            h.clear()

    app.on_partitions_revoked.connect(forget)


class Saved(Protocol):
    def to_json(self) -> Any: ...


S = TypeVar("S", bound=Saved)


class StateCache(Generic[S]):
    """States by key, read from ``table`` with ``load(key, stored)`` when first needed."""

    def __init__(self, table: Any, load: Callable[[str, Any], S], checkpoint_s: float | None = None) -> None:
        self.table = table
        self.load = load
        self.checkpoint_s = checkpoint_s  # None: written only when asked to
        self.cache: dict[str, S] = {}
        self.saved_at: dict[str, float] = {}  # monotonic time of each key's last write

    def get(self, key: str) -> S:
        state = self.cache.get(key)
        if state is None:
            state = self.cache[key] = self.load(key, self.table.get(key))
        return state

    def peek(self, key: str) -> S | None:
        """The state in memory, without reading the table."""
        return self.cache.get(key)

    def save(self, key: str, state: S, force: bool) -> None:
        if self.checkpoint_s is None:
            if force:
                self.table[key] = state.to_json()
            return
        now = time.monotonic()
        if force or now - self.saved_at.get(key, 0.0) >= self.checkpoint_s:
            self.table[key] = state.to_json()
            self.saved_at[key] = now

    def clear(self) -> None:
        self.cache.clear()
