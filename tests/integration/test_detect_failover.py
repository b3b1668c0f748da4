"""Fail-over of `citywatch detect`: two workers in one group fed by `citywatch capture`; one is
killed (SIGKILL, no goodbye to the group) and the other takes over its cameras.

Which worker made a detection is read from its snapshot: each worker keeps its evidence in a
directory of its own (see test_detectors_detect).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from detectors.detect import MAX_POLL_INTERVAL_MS
from streams.contract.records import Detection
from streams.contract.timeutil import from_iso

from ..conftest import KafkaEnv
from ..streams_support import Collector, stop, wait_for
from .test_detectors_detect import command, group_members, write_config

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

# partitions 0, 1 and 3 of the 4: the range and round-robin assignors both give each
# member of a two-member group at least one of these cameras
CAMERAS = ["cam-north", "cam-east", "cam-south"]
GROUP = "failover"
FPS = 2  # frames per camera: the model shares two cores with the rest of the test run
# the group notices a dead member after the session timeout; the embedded broker then
# holds the survivor's join for the rebalance timeout (kafka-python: max_poll_interval_ms)
REBALANCE_S = 2 * MAX_POLL_INTERVAL_MS / 1000
RECHECK_S = 1  # a still is detected again each stationary_recheck_s (test_detectors_detect.CAMERA)
# what a busy machine adds to a group join (starved heartbeats, a slow first inference); a
# session timeout twice as long as detect's would still show (measured: a 46 s gap with 30 s)
LOAD_SLACK_S = 10
AFTER_KILL = 3  # detections of each camera by the survivor that show it keeps going


def spawn(kafka: KafkaEnv, tmp_path: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    """A citywatch subprocess in a session of its own, its output in ``name``.log."""
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            command(*args),
            env=kafka.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_detect(kafka: KafkaEnv, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """A detect worker of the group whose evidence goes to ``tmp_path/name``."""
    own = write_config(tmp_path / f"{name}.yaml", tmp_path / name, CAMERAS, fps=FPS)
    return spawn(kafka, tmp_path, name, "detect", "--config", str(own), "--group", GROUP, "--duration", "400")


def detections(collector: Collector, topic: str) -> list[Detection]:
    """The detection records read so far."""
    return [
        Detection.model_validate({k: v for k, v in value.items() if not k.startswith("_")})
        for value in collector.values(topic)
    ]


def worker_of(rec: Detection, tmp_path: Path) -> str:
    """The worker that made the record: the directory its snapshot is in."""
    assert rec.snapshot, rec
    return Path(rec.snapshot).relative_to(tmp_path).parts[0]


def owners(records: list[Detection], tmp_path: Path) -> dict[str, set[str]]:
    """Camera -> the workers that detected it."""
    out: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        out[rec.camera_id].add(worker_of(rec, tmp_path))
    return out


def largest_gaps(records: list[Detection], field: str) -> dict[str, float]:
    """Camera -> the longest time (s) between consecutive detections, by ``field``."""
    times: dict[str, list[float]] = defaultdict(list)
    for rec in records:
        times[rec.camera_id].append(from_iso(getattr(rec, field)))
    gaps = {}
    for camera_id, ts in times.items():
        ts.sort()
        gaps[camera_id] = max((b - a for a, b in itertools.pairwise(ts)), default=0)
    return gaps


def after(records: list[Detection], at: float, worker: str, tmp_path: Path) -> dict[str, list[Detection]]:
    """Camera -> the records ``worker`` made after ``at``."""
    out: dict[str, list[Detection]] = defaultdict(list)
    for rec in records:
        if from_iso(rec.detected_at) > at and worker_of(rec, tmp_path) == worker:
            out[rec.camera_id].append(rec)
    return out


@pytest.mark.timeout(480)
def test_survivor_takes_over_the_cameras_of_a_killed_detect_worker(kafka: KafkaEnv, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cameras.yaml", tmp_path / "evidence", CAMERAS, fps=FPS)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    collector = Collector(kafka.bootstrap, [kafka.topics.detections])
    found = lambda: detections(collector, kafka.topics.detections)  # noqa: E731
    try:
        for name in ("w1", "w2"):
            procs[name] = start_detect(kafka, tmp_path, name)
        # both in the group before the first frame: the only rebalance under test is the kill's
        assert wait_for(lambda: group_members(kafka.bootstrap, GROUP) == 2, 150, interval=1), (
            "the two detect workers did not form a group"
        )
        procs["capture"] = spawn(kafka, tmp_path, "capture", "capture", "--config", str(config))

        def both_working() -> bool:
            seen = owners(found(), tmp_path)
            return set(seen) == set(CAMERAS) and set().union(*seen.values()) == {"w1", "w2"}

        assert wait_for(both_working, 180, interval=2), f"not both workers detecting: {logs(tmp_path)}"
        before = owners(found(), tmp_path)
        assert all(len(w) == 1 for w in before.values()), dict(before)
        victim = next(iter(before["cam-north"]))
        survivor = "w2" if victim == "w1" else "w1"
        taken = sorted(c for c, w in before.items() if w == {victim})

        killed_at = time.time()
        os.killpg(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait(30)

        def survivor_has_all() -> bool:
            made = after(found(), killed_at, survivor, tmp_path)
            return all(len(made[c]) >= AFTER_KILL for c in CAMERAS)

        assert wait_for(survivor_has_all, 180, interval=2), (
            f"{survivor} did not keep every camera detected after {victim} was killed: {logs(tmp_path)}"
        )
    finally:
        for proc in procs.values():
            stop(proc)
        collector.close()

    records = found()
    by_survivor = after(records, killed_at, survivor, tmp_path)
    takeover = min(from_iso(r.detected_at) for c in taken for r in by_survivor[c]) - killed_at
    captured_gaps = largest_gaps(records, "captured_at")
    detected_gaps = largest_gaps(records, "detected_at")
    print(
        f"\ndetect fail-over: {victim} (cameras {', '.join(taken)}) killed; {survivor} detected them "
        f"{takeover:.1f} s later; largest gap per camera: detected_at "
        f"{max(detected_gaps.values()):.1f} s, captured_at {max(captured_gaps.values()):.1f} s "
        f"(session timeout + group join {REBALANCE_S:.0f} s); {len(records)} detections"
    )
    # what the rules see (they go by captured_at) has no hole longer than the rebalance and
    # the detection cadence; the survivor starts a camera nobody committed for at its newest frame
    assert all(g <= REBALANCE_S + RECHECK_S + LOAD_SLACK_S for g in captured_gaps.values()), captured_gaps


def logs(tmp_path: Path) -> str:
    """The tail of each subprocess's log, for a failure message."""
    return "".join(
        f"\n--- {p.stem}\n{p.read_text('utf-8', 'replace')[-1500:]}" for p in sorted(tmp_path.glob("*.log"))
    )
