"""The Faust app of the worker: its broker, consumer and producer settings."""

from __future__ import annotations

from pathlib import Path

import faust

from streams import kafka_security
from streams.contract.topics import Topics
from streams.worker import faust_tuning
from streams.worker.settings import FETCH_MAX_WAIT_MS, GROUP_TIMEOUT_S


def make_app(
    topics: Topics,
    *,
    bootstrap: str,
    partitions: int,
    web_port: int | None,
    datadir: str | Path,
    app_id: str | None,
) -> faust.App:
    faust_tuning.apply(FETCH_MAX_WAIT_MS)
    return faust.App(
        app_id or f"{topics.prefix}worker",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=partitions,
        topic_allow_declare=False,  # topics are created explicitly (ensure_topics)
        topic_disable_leader=True,
        # tables keep JSON; topics carry raw bytes (decoded at the boundary)
        key_serializer="json",
        value_serializer="json",
        datadir=str(datadir),
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        # the embedded broker makes a group join wait for the rebalance timeout
        broker_max_poll_interval=max(GROUP_TIMEOUT_S, 15.0),
        broker_rebalance_timeout=GROUP_TIMEOUT_S,
        broker_session_timeout=GROUP_TIMEOUT_S,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=30.0,
        broker_commit_every=500,
        broker_commit_interval=1.0,
        broker_max_poll_records=2000,
        consumer_max_fetch_size=4 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=8192,
        stream_wait_empty=False,
        producer_linger=0.002,
        table_standby_replicas=0,
        **kafka_security.faust_settings(),
    )
