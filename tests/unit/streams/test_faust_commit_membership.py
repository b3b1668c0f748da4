"""A commit belongs to the group membership it was made in, and a partition with nothing
committed is read from its beginning after a rebalance (streams/worker/faust_tuning.py).

aiokafka's coordinator is driven without a broker: its lookup and its request sending are
replaced, the commit loop and the request building are aiokafka's own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import errors
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from streams.worker import faust_tuning

TP = TopicPartition("p.citywatch.detections", 2)


def coordinator(rejoin_while_waiting: bool) -> tuple[Any, list[Any]]:
    faust_tuning.apply()
    coord: Any = GroupCoordinator.__new__(GroupCoordinator)
    coord.group_id, coord.coordinator_id = "p.citywatch.worker", 111
    coord.generation, coord.member_id = 7, "member-before-the-outage"
    coord._commit_lock, coord._retry_backoff_ms = asyncio.Lock(), 1
    sent: list[Any] = []

    async def coordinator_known() -> None:  # the broker came back: the group was joined anew meanwhile
        if rejoin_while_waiting:
            coord.generation, coord.member_id = 1, "member-on-the-restarted-broker"

    async def send(request: Any) -> Any:
        sent.append(request)
        return SimpleNamespace(topics=[(TP.topic, [(TP.partition, 0)])])

    coord.ensure_coordinator_known, coord._send_req = coordinator_known, send
    return coord, sent


def test_a_commit_waiting_through_a_rejoin_is_not_sent_in_the_new_membership() -> None:
    coord, sent = coordinator(rejoin_while_waiting=True)
    with pytest.raises(errors.CommitFailedError, match="already rebalanced"):  # Faust: "commit nothing"
        asyncio.run(coord.commit_offsets(None, {TP: OffsetAndMetadata(40, "")}))
    assert sent == []  # the old topic's offset 40 never reached the restarted broker


def test_a_commit_in_the_same_membership_is_sent_with_it() -> None:
    coord, sent = coordinator(rejoin_while_waiting=False)
    asyncio.run(coord.commit_offsets(None, {TP: OffsetAndMetadata(40, "")}))
    assert len(sent) == 1
    request = sent[0]
    assert (request._consumer_group_generation_id, request._consumer_id) == (7, "member-before-the-outage")


def test_overtaken() -> None:
    assert faust_tuning.overtaken((7, "a"), (1, "b"))
    assert faust_tuning.overtaken((1, "a"), (1, "b"))  # the same number on a new broker, another member
    assert not faust_tuning.overtaken((7, "a"), (7, "a"))
    assert not faust_tuning.overtaken(None, (7, "a"))  # not made through commit_offsets


class FakeThread:
    """Faust's consumer thread as far as the seek after a rebalance goes."""

    def __init__(self, committed: dict[Any, int | None]) -> None:
        self.committed, self.to_beginning = committed, []
        self.consumer = SimpleNamespace(seek_to_beginning=self.seek_to_beginning)

    async def seek_to_committed(self) -> dict[Any, int | None]:
        return self.committed

    async def seek_to_beginning(self, *tps: Any) -> None:
        self.to_beginning.extend(tps)

    async def call_thread(self, fun: Any, *args: Any) -> Any:
        return await fun(*args)

    def _ensure_consumer(self) -> Any:
        return self.consumer


def test_partitions_with_nothing_committed_are_read_from_their_beginning_after_a_rebalance() -> None:
    class Thread(FakeThread):
        pass

    faust_tuning._seek_uncommitted_to_beginning(Thread)
    none, zero, some = TopicPartition("d", 0), TopicPartition("d", 1), TopicPartition("d", 2)
    thread = Thread({none: None, zero: 0, some: 12})
    answer = asyncio.run(thread.seek_to_committed())
    assert answer == {none: None, zero: 0, some: 12}  # what Faust records as committed is unchanged
    assert thread.to_beginning == [none, zero]  # aiokafka left these where its fetcher was
    assert faust_tuning.uncommitted({some: 12}) == []
