"""Where a patrol app's records come from (I/O edge): the case record, then Kafka.

``KafkaSource`` reads every partition of dispatch and alerts outside any consumer group. With
a case record (``history``) and offsets committed by the store's group, it first hands over
the unit's open cases as the database holds them (each case's latest dispatch and its
incident's newest record), then reads each partition from the store's offset: everything
before it is in the database. A partition the store never committed is read from its
beginning; without committed offsets or without the database, every partition is (as
``--new-only`` reads only what comes after the start). Which way it started is logged once.

Once caught up, ``reconcile`` asks the database again about the cases the unit holds then, so
a case read from a partition taken from its beginning is seen as the database knows it
(escalated away, or over) even where the record that ended it lies before the store's offset.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from kafka import TopicPartition

from streams.contract.errors import RecordError, StoreError
from streams.contract.records import Alert, DispatchCase, Record, decode
from streams.contract.topics import Topics
from streams.kafka_io import assign_all, standalone_consumer
from streams.store.queries import case_over, cases_now, unit_open_cases
from streams.store.reader import HistoryReader
from streams.store.resume import Starts, plan_starts, store_group, store_offsets

logger = logging.getLogger(__name__)

Item = tuple[str, dict[str, Any]]  # ("case" | "alert" | "over", value)


class KafkaSource:
    """The unit's records: seeded from the case record where it can be, then Kafka."""

    def __init__(
        self, bootstrap: str, *, new_only: bool, unit_id: str = "", history: HistoryReader | None = None
    ) -> None:
        topics = Topics.current()
        self._kinds = {topics.dispatch: "case", topics.alerts: "alert"}
        # an offset past a partition's end (the broker lost the topic) starts it from its beginning
        self._consumer = standalone_consumer(bootstrap, "citywatch-patrol", auto_offset_reset="earliest")
        self._pending: list[Item] = []
        self._history: HistoryReader | None = None  # set once seeded: reconcile asks it again
        self.read = 0  # records read from Kafka
        self.started = "only what comes after the start (--new-only)"
        if new_only:
            self._ends = assign_all(self._consumer, list(self._kinds), from_beginning=False)
        else:
            self._ends = self._start(bootstrap, topics, unit_id, history)
        logger.info("patrol %s: starts with %s", unit_id, self.started)

    def _start(
        self, bootstrap: str, topics: Topics, unit_id: str, history: HistoryReader | None
    ) -> dict[TopicPartition, int]:
        names = list(self._kinds)
        committed = store_offsets(bootstrap, topics, names) if history is not None else {}
        seeded: list[tuple[dict[str, Any], dict[str, Any] | None]] | None = None
        why = "no case record" if history is None else f"group {store_group(topics)} has committed no offsets"
        if history is not None and committed:
            try:
                seeded = history.run(partial(unit_open_cases, unit_id=unit_id))
            except StoreError as exc:
                why = f"the case record cannot be read: {exc}"
        if history is None or seeded is None:
            ends = assign_all(self._consumer, names, from_beginning=True)
            self.started = f"all {len(ends)} partitions from the beginning ({why})"
            return ends
        for case, incident in seeded:
            self._pending.append(("case", case))
            if incident is not None:
                self._pending.append(("alert", incident))
        self._history = history
        chosen: list[Starts] = []

        def starts(beginnings: dict[Any, int], _ends: dict[Any, int]) -> dict[Any, int]:
            keyed = {(tp.topic, tp.partition): tp for tp in beginnings}
            plan = plan_starts(keyed, committed, {k: beginnings[tp] for k, tp in keyed.items()})
            chosen.append(plan)
            return {keyed[k]: offset for k, offset in plan.offsets.items()}

        ends = assign_all(self._consumer, names, from_beginning=True, starts=starts)
        told = f"{len(seeded)} open case(s) from the case record {history.where()}"
        self.started = f"{told}; {chosen[0].summary() if chosen else 'no partitions'}"
        return ends

    def poll(self, timeout_s: float) -> list[Item]:
        out, self._pending = self._pending, []
        for records in self._consumer.poll(timeout_ms=int(timeout_s * 1000)).values():
            for r in records:
                self.read += 1
                kind = self._kinds[r.topic]
                try:
                    rec: Record = decode(DispatchCase if kind == "case" else Alert, r.value)
                except RecordError as exc:
                    logger.warning("skipping %s[%s]@%s: %s", r.topic, r.partition, r.offset, exc)
                    continue
                out.append((kind, rec.to_dict()))
        return out

    def caught_up(self) -> bool:
        return not self._pending and all(self._consumer.position(tp) >= end for tp, end in self._ends.items())

    def reconcile(self, case_ids: list[str]) -> list[Item]:
        """The case record's latest of ``case_ids`` (seeded sources only): each case's dispatch,
        its incident's record, and ``over`` for a case its incident has left behind."""
        if self._history is None or not case_ids:
            return []
        try:
            found = self._history.run(partial(cases_now, case_ids=case_ids))
        except StoreError as exc:
            logger.warning("patrol: could not check the open cases against the case record: %s", exc)
            return []
        out: list[Item] = []
        for case, incident in found:
            out.append(("case", case))
            if incident is not None:
                out.append(("alert", incident))
                over = case_over(str(case["case_id"]), incident)
                if over is not None:
                    out.append(("over", {"case_id": case["case_id"], "state": over}))
        return out

    def close(self) -> None:
        self._consumer.close()
