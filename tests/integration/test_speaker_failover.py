"""Two `citywatch speaker` gateways in one group; one is killed (SIGKILL) while it still holds
queued commands. The survivor takes over its partitions: every command ends played and
acknowledged, no process plays a command twice, and the survivor plays again only what the
killed gateway had not committed (committed means acknowledged). When the survivor stops, the
group has committed every command, those of the partitions it kept through the rebalance too."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.partitioner.default import murmur2

from streams.contract.records import LoudspeakerAck, decode
from streams.contract.timeutil import from_iso, now
from streams.kafka_io import Message, read_topic

from ..conftest import KafkaEnv
from ..speaker_support import command
from ..streams_support import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.sysdeps("espeak-ng"),
    pytest.mark.timeout(300),
]

PARTITIONS = 4  # the `kafka` fixture's
SPEAKERS = [f"spk-{n}" for n in range(1, 9)]  # murmur2 puts them on all four partitions
PER_SPEAKER = 10
PLAY_S = 5  # per command: queues are still full at the takeover, on a loaded machine too
KILL_AFTER = 9  # WAV files played by the gateway to be killed: its first round is committed by then
JOIN_TIMEOUT = 90  # a group join waits for the rebalance timeout
TAKEOVER_TIMEOUT = 120  # the broker notices the dead member after the session timeout (10 s)


def partition_of(key: str) -> int:
    """The partition the default (murmur2) partitioner gives ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


@dataclass
class RunningGateway:
    """One `citywatch speaker` subprocess, its WAV directory and its timestamped log lines."""

    name: str
    proc: subprocess.Popen[str]
    wav_dir: Path
    lines: list[tuple[float, str]] = field(default_factory=list)

    def follow(self) -> None:
        """Collect stderr lines until the process closes it."""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append((time.time(), line.rstrip()))

    def log(self, last: int = 80) -> str:
        """Its last log lines, for a failure's message."""
        return "\n".join(line for _, line in self.lines[-last:])

    def assigned(self, since: float = 0.0) -> set[int] | None:
        """The partitions of its latest assignment after ``since`` (None: none logged)."""
        latest = [line for at, line in self.lines if at >= since and ": assigned" in line]
        if not latest:
            return None
        return {int(p) for p in re.findall(r"loudspeaker\[(\d+)\]", latest[-1])}

    def played(self, before: float | None = None) -> dict[str, int]:
        """How many WAV files it played per command id (those written before ``before``)."""
        counts: dict[str, int] = {}
        for wav in self.wav_dir.rglob("*.wav"):
            if before is None or wav.stat().st_mtime < before:
                cid = wav.stem.split("-", 1)[1]
                counts[cid] = counts.get(cid, 0) + 1
        return counts


def write_config(tmp_path: Path, name: str) -> Path:
    """A configuration whose loudspeakers keep each WAV under a directory of this gateway's own
    (``<ns>-<command id>.wav``), then take ``PLAY_S`` seconds to play it."""
    script = f'cp "$1" "$2/$(date +%s%N)-$(basename "$1")" && sleep {PLAY_S}'
    speakers = []
    for spk in SPEAKERS:
        (tmp_path / name / spk).mkdir(parents=True)
        argv = ["sh", "-c", script, "play", "{file}", str(tmp_path / name / spk)]
        driver = f"{{type: command, command: {json.dumps(argv)}, retries: 0}}"
        speakers.append(f"  - {{id: {spk}, chime: false, driver: {driver}}}")
    speakers_yaml = "\n".join(speakers)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""
version: 1
site: {{name: test district}}
categories:
  out_of_store_business: {{code: "200504", name: 店外经营, labels: [chair]}}
speakers:
{speakers_yaml}
""",
        encoding="utf-8",
    )
    return path


def start(kafka: KafkaEnv, tmp_path: Path, name: str, group: str) -> RunningGateway:
    cfg = write_config(tmp_path, name)
    argv = [sys.executable, "-m", "streams.cli", "speaker", "--config", str(cfg), "--group", group]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kafka.env())
    gateway = RunningGateway(name, proc, tmp_path / name)
    threading.Thread(target=gateway.follow, daemon=True).start()
    return gateway


def acks(kafka: KafkaEnv) -> list[tuple[Message, LoudspeakerAck]]:
    records = read_topic(kafka.bootstrap, kafka.topics.loudspeaker_acks, from_beginning=True, timeout_s=1)
    return [(m, decode(LoudspeakerAck, m.value or b"")) for m in records]


def committed(kafka: KafkaEnv, group: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {tp.partition: o.offset for tp, o in offsets.items()}


def test_survivor_takes_over_a_killed_gateways_queued_commands(kafka: KafkaEnv, tmp_path: Path) -> None:
    assert {partition_of(s) for s in SPEAKERS} == set(range(PARTITIONS))
    group = f"speaker-{uuid.uuid4().hex[:6]}"
    first = start(kafka, tmp_path, "gw-a", group)
    assert wait_for(lambda: first.assigned() == set(range(PARTITIONS)), JOIN_TIMEOUT), first.lines
    second = start(kafka, tmp_path, "gw-b", group)
    gateways = [first, second]
    try:
        joined = time.time()

        def split() -> bool:
            a, b = first.assigned(joined), second.assigned(joined)
            return bool(a and b and a | b == set(range(PARTITIONS)) and not a & b)

        assert wait_for(split, JOIN_TIMEOUT), (first.lines, second.lines)

        t = now()
        ids: dict[str, tuple[int, int]] = {}  # command id -> (partition, offset)
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
        futures = {}
        for n in range(PER_SPEAKER):
            for spk in SPEAKERS:
                cid = f"{spk}-c{n}"
                value = command(cid, spk, now=t, ttl_s=3600).to_bytes()
                futures[cid] = producer.send(kafka.topics.loudspeaker, key=spk.encode(), value=value)
        producer.flush()
        producer.close()
        for cid, future in futures.items():
            meta = future.get(timeout=10)
            ids[cid] = (meta.partition, meta.offset)

        victim, survivor = second, first
        victim_parts = victim.assigned(joined) or set()
        mine = {cid for cid, (p, _) in ids.items() if p in victim_parts}
        # kill it once it has played a few: the rest of its commands are still queued
        assert wait_for(lambda: len(victim.played()) >= KILL_AFTER, JOIN_TIMEOUT, 0.05), victim.lines
        victim.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.proc.wait(10)
        last_commit = committed(kafka, group)  # the victim's final commits: the survivor has not rejoined yet
        assert len(victim.played()) < len(mine), "the victim had nothing queued any more"
        assert any(ids[cid][1] < last_commit.get(ids[cid][0], 0) for cid in mine), last_commit

        def all_played() -> bool:
            return {a.command_id for _, a in acks(kafka) if a.status == "played"} == set(ids)

        assert wait_for(all_played, TAKEOVER_TIMEOUT), survivor.log()
        assert survivor.assigned(killed_at) == set(range(PARTITIONS))
        survivor.proc.send_signal(signal.SIGTERM)
        out, _ = survivor.proc.communicate(timeout=60)
    finally:
        for gw in gateways:
            if gw.proc.poll() is None:
                gw.proc.kill()
                gw.proc.communicate()
    assert survivor.proc.returncode == 0, survivor.log()
    # the survivor committed everything it acknowledged, its own partitions too: nothing left to redeliver
    ends: dict[int, int] = {}
    for partition, offset in ids.values():
        ends[partition] = max(ends.get(partition, -1), offset + 1)
    assert committed(kafka, group) == ends

    records = acks(kafka)
    assert {a.status for _, a in records} == {"played"}
    by_survivor, by_victim = survivor.played(), victim.played()
    # once per process lifetime: no command played twice, nor acknowledged twice, by one process
    assert max(by_survivor.values()) == 1 and max(by_victim.values()) == 1
    assert set(by_survivor) | set(by_victim) == set(ids)
    acked = Counter((a.command_id, player(a)) for _, a in records)
    assert max(acked.values()) == 1
    assert {cid for cid, who in acked if who == "gw-a"} == set(by_survivor)
    acked_by_victim = {cid for cid, who in acked if who == "gw-b"}
    again = set(by_survivor) & set(by_victim)
    for cid in again:  # played again only where the victim had not committed it
        partition, offset = ids[cid]
        assert offset >= last_commit.get(partition, 0), (cid, last_commit)
    for cid in mine:  # what the victim committed it had acknowledged; the rest the survivor played
        partition, offset = ids[cid]
        if offset < last_commit.get(partition, 0):
            assert cid in acked_by_victim and cid not in by_survivor, cid
        else:
            assert cid in by_survivor, cid

    # the takeover's rebalance came while the survivor still had its own commands queued
    taken_at = min(at for at, line in survivor.lines if at >= killed_at and ": assigned" in line)
    own = set(ids) - mine
    assert len(set(survivor.played(before=taken_at)) & own) < len(own)

    taken_over = [(m, a) for m, a in records if a.command_id in mine and player(a) == "gw-a"]
    started_s = min(from_iso(a.started_at) for _, a in taken_over) - killed_at
    acked_s = min(m.timestamp_ms / 1000 for m, _ in taken_over) - killed_at
    print(
        f"\nspeaker fail-over: {len(ids)} commands, victim played {len(by_victim)} "
        f"({len(acked_by_victim)} acknowledged) of its {len(mine)}, survivor played "
        f"{len(set(by_survivor) & mine)} of them ({len(again)} again); "
        f"takeover: SIGKILL -> the survivor starts playing them {started_s:.1f} s, "
        f"-> its first ack {acked_s:.1f} s (each play takes {PLAY_S} s)"
    )
    assert "played=" in out


def player(ack: LoudspeakerAck) -> str:
    """Which gateway played an ack's command: its WAV directory is in the driver's output."""
    output = str((ack.model_extra or {}).get("output", ""))
    return next(name for name in ("gw-a", "gw-b") if f"/{name}/" in output)
