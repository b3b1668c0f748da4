"""The worker's agents and timers, one module each; each agent is ``run(ctx, stream)``
(or ``run(ctx, feeds, stream)``), registered in streams/worker/register.py."""
