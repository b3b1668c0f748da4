"""kafka-python's shutdown noise: closing a client while its network task waits on a socket
logs a traceback (the socket is gone under the pending read) and a cancelled metadata
refresh as errors. Both mean only "this client is closing"; they are dropped so that a
role's log keeps its tracebacks for real faults."""

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
