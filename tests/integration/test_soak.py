"""The replay-determinism test repeated (``make soak``; see README "Soak").

Skipped unless ``CITYWATCH_SOAK_RUNS`` is set: ``tests/soak.py`` sets it, keeps a CPU
busy and runs this module once per timing profile.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..conftest import KafkaEnv
from .test_replay import test_the_same_recording_gives_the_same_incidents_commands_and_cases as replay_test

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUNS = int(os.environ.get("CITYWATCH_SOAK_RUNS", "0"))


@pytest.mark.skipif(RUNS == 0, reason="soak only: `make soak` (CITYWATCH_SOAK_RUNS) runs it")
@pytest.mark.parametrize("run", range(max(RUNS, 1)))
def test_replay_is_identical_every_time(run: int, kafka: KafkaEnv, tmp_path: Path) -> None:
    replay_test(kafka, tmp_path)
