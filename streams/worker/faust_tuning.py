"""Consumer behaviour Faust does not expose.

- Faust creates its worker consumer with ``fetch_max_wait_ms=1500`` fixed. A broker
  that holds a fetch for the whole wait when no data is there (the embedded broker
  does) then delays every new record by up to 1.5 s per hop. ``apply`` lowers the
  wait for every worker consumer created afterwards.
- Faust writes table changes to their changelogs through the producer's buffer and
  commits input offsets on its own schedule: a crash between the two lost a table
  change whose input was already committed (a case index entry, seen in a kill
  test). ``apply`` makes every commit wait until the producer has delivered what it
  was given before, so a committed input's table changes and outputs are on the
  broker.
- aiokafka retries a commit until a group coordinator answers. A commit made before
  the broker went away could wait through the outage, then go out under the member
  id and generation of the group the worker had joined on the restarted broker since:
  the broker accepted the old topics' offsets for the new ones, a later rebalance
  sought the inputs there, and Faust dropped the new records below them as
  redeliveries (a warning never came). ``apply`` makes a commit belong to the group
  membership it was made in: once the worker re-joined, it fails like any commit
  overtaken by a rebalance, and its inputs are read again.
- Faust throws away records it fetched when a rebalance starts and seeks back to the
  committed offsets; aiokafka seeks only where a positive offset is committed, so on a
  partition with nothing committed (new topics after a broker restart, a first start) the
  thrown-away records were skipped for good (a warning never came). ``apply`` seeks those
  partitions to their beginning: records processed but not committed yet come again,
  as after any rebalance.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

logger = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 25

_applied = False
# (generation, member id) of the group membership a commit was made in
_MADE_IN: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("made_in", default=None)


def overtaken(made_in: tuple[int, str] | None, now: tuple[int, str]) -> bool:
    """A commit made in one group membership may not be sent in another."""
    return made_in is not None and made_in != now


def apply(fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    global _applied
    if _applied:
        return
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the consumer starts its fetcher
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]

    from faust.transport import consumer as base

    commit_offsets = base.Consumer._commit_offsets

    async def flushed_commit(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        try:
            await self.app.producer.flush()
        except Exception as exc:  # the broker is away: commit nothing, the inputs come again
            logger.warning("commit skipped: the producer could not deliver its buffer (%s)", exc)
            return False
        return bool(await commit_offsets(self, offsets, start_new_transaction))

    base.Consumer._commit_offsets = flushed_commit  # type: ignore[method-assign]
    _bind_commits_to_membership()
    _seek_uncommitted_to_beginning(driver.AIOKafkaConsumerThread)
    _applied = True


def uncommitted(committed: Any) -> list[Any]:
    """The partitions of a seek-to-committed answer with nothing committed: None, or 0
    (aiokafka seeks only to a positive committed offset)."""
    return [tp for tp, offset in committed.items() if not offset]


def _seek_uncommitted_to_beginning(thread_class: Any) -> None:
    seek_to_committed = thread_class.seek_to_committed

    async def seek_to_committed_or_beginning(self: Any) -> Any:
        committed = await seek_to_committed(self)
        fresh = uncommitted(committed)
        if fresh:  # the worker reads a partition with nothing committed from its beginning
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *fresh)
        return committed

    thread_class.seek_to_committed = seek_to_committed_or_beginning


def _bind_commits_to_membership() -> None:
    from aiokafka import errors
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    commit_offsets = GroupCoordinator.commit_offsets
    do_commit_offsets = GroupCoordinator._do_commit_offsets

    async def commit_in_membership(self: Any, assignment: Any, offsets: Any) -> None:
        token = _MADE_IN.set((self.generation, self.member_id))
        try:
            await commit_offsets(self, assignment, offsets)
        finally:
            _MADE_IN.reset(token)

    async def send_if_same_membership(self: Any, assignment: Any, offsets: Any) -> None:
        made_in = _MADE_IN.get()
        if overtaken(made_in, (self.generation, self.member_id)):
            # what aiokafka's retry loop turns into "the group has already rebalanced"
            raise errors.IllegalGenerationError(f"commit made in generation {made_in}, group re-joined since")
        await do_commit_offsets(self, assignment, offsets)

    GroupCoordinator.commit_offsets = commit_in_membership
    GroupCoordinator._do_commit_offsets = send_if_same_membership
