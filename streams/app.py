"""The Faust worker's entry points, kept under their old name: the worker itself lives
in streams/worker/ (one module per agent; registration in streams/worker/register.py)."""

from __future__ import annotations

from streams.worker import Stats, Worker, WorkerContext, create_worker
from streams.worker.settings import (
    CLOSED_CASE_KEPT_S,
    FETCH_MAX_WAIT_MS,
    GROUP_TIMEOUT_S,
    INDEX_EVERY_S,
    LATENESS_S,
    MAX_PARKED,
    MAX_PARKED_BYTES,
    PARK_S,
    REINDEX_AFTER_ASSIGN_S,
    RETICK_S,
    SETTLE_S,
    TICK_INTERVAL_S,
)

__all__ = [
    "CLOSED_CASE_KEPT_S",
    "FETCH_MAX_WAIT_MS",
    "GROUP_TIMEOUT_S",
    "INDEX_EVERY_S",
    "LATENESS_S",
    "MAX_PARKED",
    "MAX_PARKED_BYTES",
    "PARK_S",
    "REINDEX_AFTER_ASSIGN_S",
    "RETICK_S",
    "SETTLE_S",
    "TICK_INTERVAL_S",
    "Stats",
    "Worker",
    "WorkerContext",
    "create_worker",
]
