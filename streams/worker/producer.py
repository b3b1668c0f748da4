"""What the worker's producer must know before it sends."""

from __future__ import annotations

import asyncio

from streams.worker.context import WorkerContext


async def track_output_topics(ctx: WorkerContext) -> None:
    """Task: make the producer track every topic it will write to.

    aiokafka narrows its metadata requests to the topics it tracks; a topic
    first seen in the bootstrap (all-topics) metadata is never tracked, drops
    out of the next update, and a send to it then spins on metadata forever
    (seen with the embedded broker). Tracking them all up front avoids that.
    """
    app = ctx.app
    names = [t.get_topic_name() for t in ctx.created_topics]
    names += [tbl.changelog_topic.get_topic_name() for tbl in app.tables.values()]
    while True:
        inner = getattr(app.producer, "_producer", None)
        if inner is not None:
            break
        await asyncio.sleep(0.05)
    for name in names:
        inner.client.add_topic(name)
    await inner.client.force_metadata_update()
