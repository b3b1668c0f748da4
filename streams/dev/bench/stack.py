"""What the end-to-end benchmarks share: the roles as processes on the embedded broker,
a consumer that watches their topics, and the latency of an incident hop by hop.

An incident's latency runs from the capture of the frame at which its dwell is
satisfied (the ``started`` violation names that frame) to the loudspeaker command
on its topic, split by the records' own times and the broker's record timestamps:

    capture -> detected (includes inference) -> detections topic -> rules and
    incidents, one step (alert) -> loudspeaker (command)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafka import KafkaConsumer

    from streams.contract.topics import Topics


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile as the nearest of the values (NaN for none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


Seen = dict[str, tuple[dict[str, Any], float]]  # key -> (record, broker timestamp in seconds)
WATCHED = ("detections", "violations", "alerts", "loudspeaker", "dispatch", "broadcast-decisions")


@dataclass
class Observed:
    """What a bench read from the watched topics, by incident (detections by camera and seq)."""

    dets: dict[tuple[str, int], tuple[dict[str, Any], float]] = field(default_factory=dict)
    started: Seen = field(default_factory=dict)  # incident id -> (started violation, broker ts)
    opened: dict[str, float] = field(default_factory=dict)
    commands: dict[str, float] = field(default_factory=dict)
    cases: Seen = field(default_factory=dict)
    # incidents whose warning first waited for its speaker to finish another (policy "queued")
    queued: set[str] = field(default_factory=set)
    # incidents whose warning the policy did not send at all (policy "suppressed": a repeat
    # within its cool-down, quiet hours, the speaker's hourly budget)
    suppressed: set[str] = field(default_factory=set)

    def add(self, suffix: str, v: dict[str, Any], ts: float) -> None:
        from streams.contract.ids import make_id

        if suffix == "detections":
            self.dets[(v["camera_id"], int(v["seq"]))] = (v, ts)
        elif suffix == "violations" and v["state"] == "started":
            iid = make_id("inc", v["camera_id"], v["zone_id"], v["category"], v["since"])
            self.started[iid] = (v, ts)
        elif suffix == "alerts" and v["state"] == "open":
            self.opened.setdefault(v["incident_id"], ts)
        elif suffix == "loudspeaker" and v.get("incident_id"):
            self.commands.setdefault(v["incident_id"], ts)
        elif suffix == "dispatch":
            self.cases.setdefault(v["incident_id"], (v, ts))
        elif suffix == "broadcast-decisions" and v.get("incident_id") and v["decision"] == "queued":
            self.queued.add(v["incident_id"])
        elif suffix == "broadcast-decisions" and v.get("incident_id") and v["decision"] == "suppressed":
            self.suppressed.add(v["incident_id"])

    def read(self, consumer: KafkaConsumer, topics: Topics, timeout_ms: int = 200) -> None:
        """One poll of the watching consumer into these records."""
        import json

        for records in consumer.poll(timeout_ms=timeout_ms).values():
            for r in records:
                self.add(r.topic.removeprefix(topics.prefix), json.loads(r.value), r.timestamp / 1000.0)

    def hops(self, iid: str) -> dict[str, float] | None:
        """The incident's per-hop milliseconds, or None while a record of it is missing."""
        from streams.contract.timeutil import from_iso

        if iid not in self.started or iid not in self.opened or iid not in self.commands:
            return None
        v, _ = self.started[iid]
        det = self.dets.get((v["camera_id"], int(v.get("seq", -1))))
        if det is None:
            return None
        d, dts = det
        opened, command = self.opened[iid], self.commands[iid]
        cap = from_iso(d["captured_at"])
        detected = from_iso(d["detected_at"])
        total = (command - cap) * 1000
        inference = float(d.get("inference_ms") or 0.0)
        return {
            "total": total,
            "inference": inference,
            "overhead": total - inference,
            "detect": (detected - cap) * 1000,
            "publish": (dts - detected) * 1000,
            "incidents": (opened - dts) * 1000,
            "loudspeaker": (command - opened) * 1000,
        }


def role_env(bootstrap: str, topics: Topics) -> dict[str, str]:
    return {
        **os.environ,
        "CITYWATCH_KAFKA": bootstrap,
        "CITYWATCH_TOPIC_PREFIX": topics.prefix,
        "YOLO_OFFLINE": "1",
    }


def start_role(tmp: Path, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``citywatch ARGV`` as a process of its own, its output in ``tmp/<role>.log``."""
    log = (tmp / f"{argv[0]}.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "streams.cli", "--log-level", "WARNING", *argv],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def worker_argv(cfg_path: Path, tmp: Path) -> list[str]:
    return ["worker", "--config", str(cfg_path), "--no-web", "--datadir", str(tmp / "faust")]


def stop_roles(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def watching_consumer(bootstrap: str, topics: Topics) -> KafkaConsumer:
    from streams.kafka_io import assign_all, standalone_consumer

    consumer = standalone_consumer(bootstrap, "citywatch-bench", fetch_max_wait_ms=50)
    assign_all(consumer, [topics.name(s) for s in WATCHED], from_beginning=True)
    return consumer


BENCH_YAML = """\
version: 1
site: {{name: {site}, timezone: Asia/Shanghai}}
model: {model}
evidence: {{dir: {var}/evidence, retention_days: 1, max_mb: 200}}
kafka: {{partitions: 4}}
categories:
{categories}
  camera_offline: {{code: "900101", name: 摄像头离线, warn: false, dispatch: false}}
units: [{{id: unit-1, level: street}}]
grids: [{{id: grid-1, unit: unit-1}}]
health: {{degraded_for_s: 3600, status_timeout_s: 3600, blip_s: 3600}}
speakers:
{speakers}
cameras:
{cameras}
"""


def bench_yaml(
    var: Path, *, site: str, model: str, categories: str, cameras: dict[str, tuple[str, str]]
) -> str:
    """A bench's cameras.yaml under ``var``: ``model`` (a YAML flow mapping), ``categories``
    (YAML lines under ``categories:``), and for each camera id its source URL and the rest of
    its flow mapping (detect_fps, zones...). Each camera has a speaker of its own (file driver,
    no rate limit); camera health never holds an incident during a run."""
    speakers = []
    lines = []
    for cam, (url, rest) in cameras.items():
        speakers.append(
            f"  - {{id: spk-{cam}, min_interval_s: 0, max_per_hour: 100000, chime: false, "
            f"driver: {{type: file, dir: '{var.as_posix()}/speaker'}}}}"
        )
        lines.append(
            f"  - {{id: {cam}, source: '{url}', location: {{address: bench {cam}}}, grid: grid-1, "
            f"speaker: spk-{cam}, {rest}}}"
        )
    return BENCH_YAML.format(
        site=site,
        model=model,
        var=var.as_posix(),
        categories=categories.rstrip("\n"),
        speakers="\n".join(speakers),
        cameras="\n".join(lines),
    )
