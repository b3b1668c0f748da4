"""kafka-python's closing noise is dropped from role logs; its real errors are kept."""

from __future__ import annotations

import io
import logging
import sys

from streams import kafka_logs


def record(name: str, msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, exc_info)


def closed_socket_read() -> logging.LogRecord:
    try:
        None.recv(4096)  # type: ignore[attr-defined]
    except AttributeError as exc:
        return record(
            "kafka.net.transport",
            "<KafkaTCPTransport [none] (closed)>: Error receiving network data closing socket",
            exc,
        )
    raise AssertionError("unreachable")


def test_a_read_on_a_closed_transport_is_closing_noise() -> None:
    assert kafka_logs.closing_noise(closed_socket_read())
    assert kafka_logs.closing_noise(record("kafka.cluster", "Metadata refresh: failed Cancelled"))


def test_real_errors_are_kept() -> None:
    open_transport = record(
        "kafka.net.transport",
        "<KafkaTCPTransport [1] (connected)>: Error receiving network data closing socket",
        AttributeError("'NoneType' object has no attribute 'recv'"),
    )
    reset = record(
        "kafka.net.transport",
        "<KafkaTCPTransport [none] (closed)>: Error receiving network data closing socket",
        ConnectionResetError("reset by peer"),
    )
    timeout = record("kafka.cluster", "Metadata refresh: failed KafkaTimeoutError")
    other = record("streams.worker", "<x (closed)>", AttributeError("'NoneType' object"))
    for kept in (open_transport, reset, timeout, other):
        assert not kafka_logs.closing_noise(kept), kept.getMessage()


def test_installed_handlers_drop_the_noise_once() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    kafka_logs.install([handler])
    kafka_logs.install([handler])  # installing twice adds one filter
    assert len(handler.filters) == 1
    handler.handle(closed_socket_read())
    handler.handle(record("kafka.cluster", "Metadata refresh: failed KafkaTimeoutError"))
    text = out.getvalue()
    assert "Traceback" not in text and "Error receiving" not in text
    assert "KafkaTimeoutError" in text
