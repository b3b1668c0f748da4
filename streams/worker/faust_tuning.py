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
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 25

_applied = False


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
    _applied = True
