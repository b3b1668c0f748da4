"""Three workers in one group on the embedded broker: SIGKILL the one working on a camera in the
middle of its incident, then a second one. The survivors take the partitions over (the group's
rebalance, the tables read back from their changelogs) and every incident opens once, is warned
once, dispatched once where it stays, and closes. The takeover time is printed (pytest -s)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from streams.worker.ticks import partition_of

from ..config_support import hardening_site, write_config
from ..conftest import KafkaEnv
from ..streams_support import (
    CLOSED_LOOP,
    Collector,
    Feed,
    alert_states,
    produce,
    start_worker,
    stop,
    wait_for,
)
from .test_worker_hardening import ack, first_seen, update

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GROUP_TIMEOUT_S = "6"  # a killed worker is dropped from the group after this (its session timeout)
PARTITIONS = 4  # the kafka fixture's
WAIT = 240  # one wait may span a kill, the session timeout and a group join on a busy machine
ASSIGNED = re.compile(r"assigned partitions \[([0-9, ]*|none)\] of (\d+)")


class Cluster:
    """Workers of one group on fresh topics (own data directory and log each), and their outputs."""

    def __init__(self, kafka: KafkaEnv, tmp: Path) -> None:
        self.kafka, self.t, self.tmp = kafka, kafka.topics, tmp
        self.config = tmp / "streams.yaml"
        write_config(self.config, hardening_site(grace=3))
        self.env = {**kafka.env(), "CITYWATCH_GROUP_TIMEOUT_S": GROUP_TIMEOUT_S}
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        t = self.t
        self.collector = Collector(kafka.bootstrap, [t.alerts, t.loudspeaker, t.dispatch, t.deadletter])

    def log(self, n: int) -> Path:
        return self.tmp / f"worker-{n}.log"

    def start(self, n: int) -> None:
        self.workers[n] = start_worker(self.config, self.env, self.tmp / f"faust-{n}", self.log(n))

    def kill(self, n: int) -> float:
        stop(self.workers.pop(n), sig=signal.SIGKILL)
        return time.monotonic()

    def close(self) -> None:
        for proc in self.workers.values():
            stop(proc)
        self.collector.close()

    def claims(self) -> dict[int, set[int]]:
        """Each live worker's partitions, as its last assignment line says."""
        out: dict[int, set[int]] = {}
        for n in self.workers:
            found = ASSIGNED.findall(self.log(n).read_text(errors="replace")) if self.log(n).exists() else []
            if found:
                listed, _ = found[-1]
                out[n] = {int(p) for p in listed.split(",") if p.strip().isdigit()}
        return out

    def settled(self) -> bool:
        """Every live worker has its assignment and together they hold each partition once."""
        claims = self.claims()
        if len(claims) != len(self.workers):
            return False
        held = [p for parts in claims.values() for p in parts]
        return sorted(held) == list(range(PARTITIONS))

    def owner(self, camera: str) -> int:
        wanted = partition_of(camera, PARTITIONS)
        return next(n for n, parts in self.claims().items() if wanted in parts)

    def of(self, topic: str) -> list[dict[str, Any]]:
        return self.collector.values(topic)

    def alerts(self, camera: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        return [
            a
            for a in self.of(self.t.alerts)
            if (camera is None or a["camera_id"] == camera) and (state is None or a["state"] == state)
        ]

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {n}\n" + self.log(n).read_text(errors="replace")[-2500:]
            for n in sorted({*self.workers, 1, 2, 3})
            if self.log(n).exists()
        )


@pytest.fixture
def cluster(kafka: KafkaEnv, tmp_path: Path) -> Any:
    c = Cluster(kafka, tmp_path)
    yield c
    c.close()


@pytest.mark.timeout(1500)
def test_three_workers_lose_nothing_when_two_are_killed_one_after_the_other(cluster: Cluster) -> None:
    c, t = cluster, cluster.t
    for n in (1, 2, 3):
        c.start(n)
    assert wait_for(lambda: c.settled() and len(c.claims()) == 3, WAIT), c.logs()
    print(f"partitions of the three workers: {c.claims()}")
    feeds = {cam: Feed(c.kafka.bootstrap, t.detections, cam) for cam in ("cam-a", "cam-b")}
    acked: set[str] = set()
    done: dict[str, list[str]] = {"cam-a": [], "cam-b": []}
    takeovers: list[float] = []

    def new_incident(camera: str) -> str | None:
        ids = [a["incident_id"] for a in c.alerts(camera) if a["incident_id"] not in done[camera]]
        return ids[0] if ids else None

    def acknowledge() -> None:
        fresh = [cmd for cmd in c.of(t.loudspeaker) if cmd["command_id"] not in acked]
        if fresh:
            produce(c.kafka.bootstrap, t.loudspeaker_acks, [ack(cmd) for cmd in fresh])
            acked.update(cmd["command_id"] for cmd in fresh)

    # the worker on cam-a's partition dies once its incident is warned (before grace runs out and
    # it is dispatched), then the worker on cam-b's; the last cycle runs on the one left
    for victim in ("cam-a", "cam-b", None):
        feeds["cam-a"].present("storefront", "bench", 10)  # stays past grace: a case
        feeds["cam-b"].present("kerb", "car", 2.5)  # leaves within grace: the warning worked
        feeds["cam-b"].absent(3)
        assert wait_for(lambda: new_incident("cam-a") and new_incident("cam-b"), WAIT), c.logs()
        a_id, b_id = new_incident("cam-a"), new_incident("cam-b")

        def commanded() -> bool:
            ids = {cmd["incident_id"] for cmd in c.of(t.loudspeaker)}
            return a_id in ids and b_id in ids  # noqa: B023

        assert wait_for(commanded, WAIT), c.logs()
        if victim is not None:
            killed = c.owner(victim)
            at = c.kill(killed)
            assert wait_for(c.settled, WAIT), c.logs()
            takeovers.append(time.monotonic() - at)
            print(f"worker {killed} (on {victim}) killed: {c.claims()} took over in {takeovers[-1]:.1f}s")
        acknowledge()

        def cases() -> list[dict[str, Any]]:
            return [d for d in c.of(t.dispatch) if d["incident_id"] == a_id]  # noqa: B023

        assert wait_for(cases, WAIT), c.logs()
        case_id = cases()[0]["case_id"]
        produce(c.kafka.bootstrap, t.dispatch_updates, [update(case_id, "accepted")])
        produce(c.kafka.bootstrap, t.dispatch_updates, [update(case_id, "arrived")])
        cleared_at = feeds["cam-a"].absent(4)
        produce(c.kafka.bootstrap, t.dispatch_updates, [update(case_id, "resolved", at=cleared_at)])
        for camera, iid in (("cam-a", a_id), ("cam-b", b_id)):
            assert wait_for(
                lambda: any(a["incident_id"] == iid for a in c.alerts(camera, "closed")),  # noqa: B023
                WAIT,
            ), c.logs()
            done[camera].append(str(iid))
        acknowledge()

    assert len(c.workers) == 1 and len(takeovers) == 2
    print(
        f"takeover times (SIGKILL -> the survivors hold every partition): {[round(s, 1) for s in takeovers]}"
    )
    alerts = c.alerts()
    # one incident per violation; each got its states in order (a redelivery after a kill may
    # repeat a state, never skip one); its last word is closed
    assert {a["incident_id"] for a in alerts} == set(done["cam-a"]) | set(done["cam-b"])
    for iid in done["cam-a"]:
        assert first_seen(alerts, iid) == CLOSED_LOOP, (iid, alert_states(alerts, iid))
    for iid in done["cam-b"]:
        assert first_seen(alerts, iid) == ["open", "warned", "cleared", "closed"], alert_states(alerts, iid)
    for iid in [*done["cam-a"], *done["cam-b"]]:
        assert [a for a in alerts if a["incident_id"] == iid][-1]["state"] == "closed", iid
        commands = {cmd["command_id"] for cmd in c.of(t.loudspeaker) if cmd["incident_id"] == iid}
        assert len(commands) == 1, (iid, commands)  # warned once
    for iid in done["cam-a"]:
        assert len({d["case_id"] for d in c.of(t.dispatch) if d["incident_id"] == iid}) == 1, iid
    assert [d for d in c.of(t.dispatch) if d["incident_id"] in done["cam-b"]] == []
    assert c.of(t.deadletter) == []
