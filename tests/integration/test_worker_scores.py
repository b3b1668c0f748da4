"""The worker applies per-label thresholds to each sighting's score and carries how sure the
camera was (frames seen, best scores) from the violation to the incident."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ..config_support import write_config
from ..conftest import KafkaEnv
from ..streams_support import Collector, detection, produce, start_worker, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def frames(start: float, seq0: int, n: int, score: float) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i in range(n):
        record = detection("cam-a", seq0 + i, start + i * 0.5, [("bench", "storefront")])
        record["objects"][0]["score"] = score
        out.append(("cam-a", record))
    return out


def test_a_faint_bench_never_counts_and_a_clear_one_warns_with_its_counts(
    kafka: KafkaEnv, tmp_path: Path
) -> None:
    t = kafka.topics
    worker = start_worker(
        write_config(tmp_path / "streams.yaml"), kafka.env(), tmp_path / "faust", tmp_path / "worker.log"
    )
    collector = Collector(kafka.bootstrap, [t.violations, t.alerts, t.loudspeaker])
    try:
        start = time.time()
        # 6 s of a bench at 0.30, below the street default for benches (0.35): dwell is 2 s
        produce(kafka.bootstrap, t.detections, frames(start, 0, 12, 0.30))
        clear_from = start + 6
        produce(kafka.bootstrap, t.detections, frames(clear_from, 12, 8, 0.8))
        assert wait_for(lambda: collector.values(t.loudspeaker), 60), (tmp_path / "worker.log").read_text()[
            -3000:
        ]
        [started] = [v for v in collector.values(t.violations) if v["state"] == "started"]
        assert started["since"] >= detection("cam-a", 12, clear_from, [])["captured_at"]
        assert started["frames_seen"] == started["frames"] >= 5
        assert started["scores"] == {"bench": 0.8}
        alert = collector.values(t.alerts)[-1]
        assert alert["review"] is False and alert["frames_seen"] == started["frames_seen"]
    finally:
        collector.close()
        stop(worker)
