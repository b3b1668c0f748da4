"""The Kafka clients' log noise, kept out of the roles' logs.

- Shutdown noise: closing a kafka-python client while its network task waits on a socket logs
  a traceback (the socket is gone under the pending read) and a cancelled metadata refresh as
  errors. Both mean only "this client is closing"; they are dropped so that a role's log keeps
  its tracebacks for real faults.
- Repeats: while the broker is down the clients log the same connection error many times a
  second; ``RepeatFilter`` lets one through per ``every_s``.
"""

from __future__ import annotations

import logging

_TRANSPORT = "kafka.net.transport"
_CLUSTER = "kafka.cluster"


def closing_noise(record: logging.LogRecord) -> bool:
    """True for a record that only says a kafka-python client was closing."""
    if record.name == _CLUSTER:
        return record.getMessage() == "Metadata refresh: failed Cancelled"
    if record.name != _TRANSPORT or record.exc_info is None:
        return False
    exc = record.exc_info[1]
    # the transport says "(closed)" once close() has run; its socket is None by then
    return isinstance(exc, AttributeError) and "(closed)>" in record.getMessage() and "NoneType" in str(exc)


class ClosingNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not closing_noise(record)


def install(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        if not any(isinstance(f, ClosingNoiseFilter) for f in handler.filters):
            handler.addFilter(ClosingNoiseFilter())


class RepeatFilter(logging.Filter):
    """Lets one record per (logger, message template) through every ``every_s`` seconds.

    While the broker is down the Kafka clients (aiokafka's and the probe's kafka-python)
    log the same connection error many times a second; the probe's own line says what is going on.
    """

    def __init__(
        self, prefix: str | tuple[str, ...] = ("aiokafka", "kafka."), every_s: float = 30.0, kept: int = 256
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.every_s = every_s
        self.kept = kept
        self._last: dict[tuple[str, str], float] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, str(record.msg))
        last = self._last.get(key)
        if last is not None and record.created - last < self.every_s:
            self.suppressed += 1
            return False
        self._last[key] = record.created
        if len(self._last) > self.kept:  # bounded: forget the oldest
            self._last.pop(next(iter(self._last)))
        return True
