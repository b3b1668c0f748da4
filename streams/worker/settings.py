"""The worker's timings and bounds; the environment may override the first three
(soak tests run the worker at extreme timings)."""

from __future__ import annotations

import os

from streams.worker import faust_tuning

TICK_INTERVAL_S = float(os.environ.get("CITYWATCH_TICK_INTERVAL_S", "0.25"))
FETCH_MAX_WAIT_MS = int(os.environ.get("CITYWATCH_FETCH_MAX_WAIT_MS", str(faust_tuning.FETCH_MAX_WAIT_MS)))
GROUP_TIMEOUT_S = float(os.environ.get("CITYWATCH_GROUP_TIMEOUT_S", "15"))  # session and rebalance
INDEX_EVERY_S = 10.0  # how often the tick re-reads every book for deadlines
REINDEX_AFTER_ASSIGN_S = 30.0  # after an assignment, re-read the books every tick for this long
# a key's event time advances with the wall clock only after it has been silent this long,
# so a deadline never fires ahead of an input still on its way through the worker
LATENESS_S = 2.0
SETTLE_S = LATENESS_S
RETICK_S = 5.0  # a deadline whose tick changed nothing is ticked again after this long
PARK_S = 15.0  # how long a patrol update may wait for its case to be known
MAX_PARKED = 20  # patrol updates parked per unknown case; more are dead-lettered at once
MAX_PARKED_BYTES = 8 * 1024  # a larger update is not parked (the case table's value stays small)
CLOSED_CASE_KEPT_S = 3600.0  # a closed case stays known (for late updates) this long, then is pruned

# sensors and camera health: their deadlines run on the wall clock
FEEDS_TICK_INTERVAL_S = 1.0
CHECKPOINT_S = 10.0  # a subject's state is written on a transition, or at most this often
SEND_RETRY_S = 120.0  # how long an output the broker refused is sent again before the agent gives up
