"""Consumer settings Faust does not expose.

Faust creates its worker consumer with ``fetch_max_wait_ms=1500`` fixed. A broker
that holds a fetch for the whole wait when no data is there (the embedded broker
does) then delays every new record by up to 1.5 s per hop. ``apply`` lowers the
wait for every worker consumer created afterwards.
"""

from __future__ import annotations

from typing import Any

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
    _applied = True
