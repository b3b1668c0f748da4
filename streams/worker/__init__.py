"""The Faust worker: thin agents around the pure rules, incidents, policy, sensors and
camera health.

    detections ────────────────┐  (its rules step, then the incident logic)
    violations (not its own) ──┼─incidents─▶ violations (audit), alerts, dispatch,
    internal.incident-inputs ──┘            ▲  speaker-intents, case-index
    broadcast-requests, speaker-intents,    │ outcome / ack (keyed by camera)
    loudspeaker-acks ─policy─▶ loudspeaker, broadcast-decisions
    dispatch-updates, case-index ─cases─▶ internal.incident-inputs (keyed by camera)
    sensor-readings, camera-status ─sensors, health─▶ internal.incident-inputs (feeds.py)

Every state lives in a table keyed by the key of the topic it is read from, so
partitions (and their state) move together between workers. A record that
cannot be decoded goes to the dead-letter topic and the agent carries on
(``or_dead``).

    settings.py     timings and bounds (environment knobs)
    faust_app.py    the Faust app and its broker settings
    context.py      Worker, Stats and WorkerContext: what agents share; send and dead-letter
    cache.py        memory forgotten on revoke; cached state with checkpoints
    ticks.py        deadline ticks for owned keys, once per deadline
    feeds.py        what the sensor and camera-health agents share
    producer.py     the producer's topic tracking
    agents/         one module per agent or timer: ``run(ctx, stream)``
    register.py     ``create_worker``: every topic, table, agent and timer, in order
"""

from streams.worker.context import Stats, Worker, WorkerContext
from streams.worker.register import create_worker

__all__ = ["Stats", "Worker", "WorkerContext", "create_worker"]
