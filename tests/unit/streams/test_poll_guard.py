"""A hand-run poll loop survives a poll that raises (fake consumer): no records, a logged
failure, a capped doubling wait that a stop cuts short, and a reset after a good poll; a
client that fails to close is logged, not raised."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from kafka.errors import CommitFailedError, KafkaConnectionError

from streams.kafka_io import PollGuard, close_quietly


class Stop(threading.Event):
    """A stop that records the waits asked of it and never sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return self.is_set()


class Consumer:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def poll(self, timeout_ms: int) -> dict[str, list[int]]:
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)


def test_failed_polls_wait_doubling_up_to_the_cap_then_reset(caplog: pytest.LogCaptureFixture) -> None:
    stop = Stop()
    guard = PollGuard("store", stop, cap_s=2.0)
    down = KafkaConnectionError
    consumer = Consumer(down(), CommitFailedError("rebalanced"), down(), down(), {"tp": [1, 2]}, down())
    with caplog.at_level(logging.WARNING, logger="streams.kafka_io"):
        got = [guard.poll(consumer, 200) for _ in range(4)]
        assert got == [{}, {}, {}, {}] and not guard.ok and guard.failures == 4
        assert stop.waits == [0.5, 1.0, 2.0, 2.0]
        assert guard.poll(consumer, 200) == {"tp": [1, 2]} and guard.ok
        assert guard.poll(consumer, 200) == {} and not guard.ok
    assert stop.waits[-1] == 0.5  # a good poll resets the wait
    assert "store: poll failed (KafkaConnectionError" in caplog.text
    assert "polling again in 0.5 s" in caplog.text


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    guard = PollGuard("speaker gateway", Stop())
    with caplog.at_level(logging.WARNING, logger="streams.kafka_io"):
        assert guard.poll(Consumer(AssertionError("a client bug")), 100) == {}
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "speaker gateway: poll failed unexpectedly" in record.getMessage()


def test_a_stop_cuts_the_wait_short() -> None:
    stop = threading.Event()
    stop.set()
    guard = PollGuard("store", stop, cap_s=600)
    for _ in range(12):  # would be minutes of waiting without the stop
        assert guard.poll(Consumer(KafkaConnectionError()), 100) == {}
    assert guard.failures == 12


def test_close_quietly_logs_a_failed_close(caplog: pytest.LogCaptureFixture) -> None:
    def close() -> None:
        raise KafkaConnectionError()

    closed: list[str] = []
    with caplog.at_level(logging.WARNING, logger="streams.kafka_io"):
        close_quietly("store", close)
        close_quietly("store", lambda: closed.append("yes"))
    assert closed == ["yes"]
    assert "store: closing a Kafka client failed (KafkaConnectionError" in caplog.text
