"""The worker's helpers: internal inputs read into their types, deadline re-ticks,
cached state with checkpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.contract.errors import RecordError
from streams.contract.internal_records import (
    CASE_INDEX_INPUT,
    INCIDENT_INPUT,
    SPEAKER_INPUT,
    CaseEntry,
    CasePrune,
    HealthInput,
    OperatorInput,
    TickInput,
    WarnIntent,
    read_internal,
)
from streams.worker.cache import StateCache
from streams.worker.ticks import Retick


def test_incident_inputs_are_read_as_the_agents_always_read_them() -> None:
    health = read_internal(INCIDENT_INPUT, b'{"kind":"health","held":1,"reason":null,"at":"t"}', "in")
    assert isinstance(health, HealthInput) and health.held is True and health.reason == ""
    op = read_internal(INCIDENT_INPUT, b'{"kind":"operator","incident_id":7,"action":"close","at":"t"}', "in")
    assert isinstance(op, OperatorInput) and op.incident_id == "7" and op.by == "operator"
    with pytest.raises(RecordError, match="tag 'nope'"):
        read_internal(INCIDENT_INPUT, b'{"kind":"nope","at":"t"}', "in")
    with pytest.raises(RecordError, match="case_id"):
        read_internal(INCIDENT_INPUT, b'{"kind":"update","unit_id":"u","status":"s","at":"t"}', "in")


def test_speaker_and_case_inputs_without_their_kind_are_the_other_type() -> None:
    assert isinstance(read_internal(SPEAKER_INPUT, b'{"kind":"tick","at":"t"}', "s"), TickInput)
    intent = read_internal(SPEAKER_INPUT, b'{"kind":"auto","at":"t","request_id":"r","text":"x"}', "s")
    assert isinstance(intent, WarnIntent) and intent.lang == "zh" and intent.requested_by == "citywatch"
    assert isinstance(read_internal(CASE_INDEX_INPUT, b'{"kind":"prune"}', "c"), CasePrune)
    entry = read_internal(CASE_INDEX_INPUT, b'{"camera_id":"cam-1","incident_id":"i"}', "c")
    assert isinstance(entry, CaseEntry) and entry.camera_id == "cam-1"
    with pytest.raises(RecordError):
        read_internal(CASE_INDEX_INPUT, b'{"incident_id":"i"}', "c")


def test_a_deadline_is_ticked_again_only_after_a_while_or_when_it_moved() -> None:
    same = Retick(every_s=5.0)
    assert same.due("k", 10.0, 0.0) and not same.due("k", 10.0, 4.0)
    assert same.due("k", 11.0, 4.0) and same.due("k", 11.0, 9.5)
    any_deadline = Retick(every_s=1.0, any_deadline=True)
    assert any_deadline.due("k", 10.0, 100.0) and not any_deadline.due("k", 11.0, 100.5)
    assert any_deadline.due("k", 11.0, 101.0)


class State:
    def __init__(self, n: int) -> None:
        self.n = n

    def to_json(self) -> Any:
        return {"n": self.n}


def test_cached_state_is_read_once_and_written_on_a_transition_or_a_checkpoint() -> None:
    table: dict[str, Any] = {"a": {"n": 1}}
    cache = StateCache(table, lambda _key, data: State((data or {}).get("n", 0)), checkpoint_s=3600.0)
    state = cache.get("a")
    table["a"] = {"n": 99}
    assert cache.get("a") is state and cache.peek("b") is None
    state.n = 2
    cache.save("a", state, force=True)
    state.n = 3
    cache.save("a", state, force=False)  # within the checkpoint interval: kept in memory only
    assert table["a"] == {"n": 2}
    cache.save("a", state, force=True)
    assert table["a"] == {"n": 3}
    cache.clear()
    assert cache.get("a").n == 3
    never = StateCache(table, lambda _key, data: State(0))
    never.save("b", State(5), force=False)
    assert "b" not in table


class FlakyTopic:
    """A topic whose first ``failures`` sends the broker refuses (as a broker that came back
    empty answers a send to a topic it has not created again)."""

    def __init__(self, failures: int, error: BaseException | None = None) -> None:
        self.failures = failures
        self.error = error
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes, headers: Any = None) -> asyncio.Future[None]:
        from aiokafka.errors import UnknownError

        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            fut.set_exception(self.error or UnknownError())
        else:
            self.sent.append((key, value))
            fut.set_result(None)
        return fut


def send_all(sends: list[Any]) -> None:
    from streams.worker.context import WorkerContext

    asyncio.run(WorkerContext.send_all(Any, sends))  # type: ignore[arg-type]  # it reads nothing of the context


def test_outputs_the_broker_refused_are_sent_again_until_it_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def no_wait(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    flaky, fine = FlakyTopic(failures=3), FlakyTopic(failures=0)
    send_all([(flaky, "cam-a", {"n": 1}), (fine, "cam-b", {"n": 2})])
    assert flaky.sent == [(b"cam-a", b'{"n": 1}')] and fine.sent == [(b"cam-b", b'{"n": 2}')]  # each once
    assert waits == [0.5, 1.0, 2.0]


def test_an_output_refused_for_too_long_or_not_by_kafka_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.errors import UnknownError

    from streams.worker import context

    async def no_wait(delay: float) -> None:
        return None

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    monkeypatch.setattr(context, "SEND_RETRY_S", 0.0)
    with pytest.raises(UnknownError):
        send_all([(FlakyTopic(failures=1), "cam-a", {})])
    with pytest.raises(ValueError, match="not a Kafka error"):
        send_all([(FlakyTopic(failures=1, error=ValueError("not a Kafka error")), "cam-a", {})])
