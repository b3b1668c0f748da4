"""The worker's zone reload timer: the rules of a camera whose zones changed in cameras.yaml
are rebuilt from the new zones (streams/config/watch.py), without a restart."""

from __future__ import annotations

import time

from streams.config.watch import ConfigWatch
from streams.logic.rules import camera_rules
from streams.worker.context import WorkerContext


async def tick(ctx: WorkerContext, watch: ConfigWatch) -> None:
    changes = watch.poll(time.monotonic())
    if not changes:
        return
    rules = camera_rules(watch.cfg)
    for camera_id in changes:
        ctx.rules_by_camera[camera_id] = rules[camera_id]
    ctx.cfg = watch.cfg
