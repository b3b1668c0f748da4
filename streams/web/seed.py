"""The board's start from the case record, so its reader need not read every topic from the
beginning (I/O edge; the choice of offsets is streams/store/resume.py, pure).

First the store group's committed offsets are read, then the database: it holds at least
every record before those offsets. The board takes the open incidents and the last
``closed_kept`` closed ones with their cases, updates and the recent broadcast decisions, and
its reader starts each partition at the store's offset (a partition without one, from its
beginning). Without committed offsets, or without the database, every partition is read from
the beginning, as before. Which way it started is logged once and shown by ``/healthz``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from streams.contract.errors import StoreError
from streams.contract.topics import Topics
from streams.store.queries import BoardRecords, board_records
from streams.store.reader import HistoryReader
from streams.store.resume import Partition, Starts, plan_starts, store_group, store_offsets
from streams.web.board import MAX_DECISIONS, MAX_UPDATES_PER_CASE, ROUNDS_KEPT, Board

logger = logging.getLogger(__name__)


def apply_records(board: Board, records: BoardRecords) -> None:
    """Put the case record's incidents, cases, updates and decisions on ``board`` (in order)."""
    for alert in records.incidents:
        board.apply_alert(alert)
    for case in records.cases:
        board.apply_case(case)
    for update in records.updates:
        board.apply_update(update)
    for decision in records.decisions:
        board.apply_decision(decision)


@dataclass
class StoreStart:
    """Seeds a board from the case record and says where its reader starts."""

    reader: HistoryReader
    topics: Topics
    summary: str = "not started"
    seeded: int = 0  # incidents put on the board from the case record
    last: Starts | None = None

    async def starts(
        self,
        board: Board,
        bootstrap: str,
        beginnings: Mapping[Partition, int],
    ) -> Starts:
        """Seed ``board`` where the store has committed offsets and its database answers; the
        start of every partition of ``beginnings``."""
        names = sorted({topic for topic, _ in beginnings})
        committed = await asyncio.to_thread(store_offsets, bootstrap, self.topics, names)
        if not committed:
            starts = plan_starts(beginnings, {}, beginnings)
            why = f"group {store_group(self.topics)} has committed no offsets on them"
            return self._said(starts, f"{starts.summary()} ({why})")
        read = partial(
            board_records,
            closed_kept=board.closed_kept,
            max_incidents=board.max_incidents,
            rounds=ROUNDS_KEPT,
            updates_per_case=MAX_UPDATES_PER_CASE,
            decisions=MAX_DECISIONS,
        )
        try:
            records = await asyncio.to_thread(self.reader.run, read)
        except StoreError as exc:
            starts = plan_starts(beginnings, {}, beginnings)
            return self._said(starts, f"{starts.summary()} (the case record cannot be read: {exc})")
        apply_records(board, records)
        self.seeded = len(records.incidents)
        starts = plan_starts(beginnings, committed, beginnings)
        told = (
            f"{self.seeded} incidents, {len(records.cases)} cases, {len(records.updates)} updates and "
            f"{len(records.decisions)} decisions from the case record {self.reader.where()}"
        )
        return self._said(starts, f"{told}; {starts.summary()}")

    def _said(self, starts: Starts, summary: str) -> Starts:
        self.summary = summary
        self.last = starts
        logger.info("web: the board starts with %s", summary)
        return starts
