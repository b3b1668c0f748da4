"""--health-port on the long-running roles, on the embedded broker: /healthz says ok with
Kafka reachable, /metrics counts move as the role works, and /healthz turns 503 when the
broker goes away."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.contract.timeutil import now
from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.dev.demo.scene import asset
from streams.kafka_io import ensure_topics

from ..config_support import streams_site, write_config
from ..conftest import KafkaEnv
from ..speaker_support import command
from ..streams_support import wait_for
from .test_roles_start import env_for, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORT_LINE = re.compile(r"health on http://127\.0\.0\.1:(\d+)/healthz")


def health_port(log: Path, proc: subprocess.Popen[bytes]) -> int:
    found: list[int] = []

    def seen() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        m = PORT_LINE.search(log.read_text(errors="replace"))
        if m:
            found.append(int(m.group(1)))
        return bool(found)

    assert wait_for(seen, 120), log.read_text()[-3000:]
    return found[0]


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    status, body = get(port, "/healthz")
    return status, json.loads(body)


def metric(port: int, name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        got = sample.partition("{")[2].rstrip("}")
        if sample.partition("{")[0] == name and ",".join(sorted(got.split(","))) == want:
            return float(value)
    return 0.0


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def ok_with_kafka(port: int) -> bool:
    status, body = healthz(port)
    return status == 200 and body["kafka"]["reachable"] is True and body["last_activity_at"] is not None


def test_speaker_health_and_commands_played(kafka: KafkaEnv, tmp_path: Path) -> None:
    config = tmp_path / "cameras.yaml"
    config.write_text(
        f"""
version: 1
site: {{name: test district}}
categories:
  out_of_store_business: {{code: "200504", name: 店外经营, labels: [chair]}}
speakers:
  - id: spk-a
    driver: {{type: file, dir: "{tmp_path / "spk-a"}"}}
""",
        encoding="utf-8",
    )
    log = tmp_path / "speaker.log"
    proc = spawn(tmp_path, env_for(kafka), log, "speaker", "--config", str(config), "--health-port", "0")
    try:
        port = health_port(log, proc)
        assert wait_for(lambda: ok_with_kafka(port), 60), healthz(port)
        assert healthz(port)[1]["role"] == "speaker"
        p = KafkaProducer(bootstrap_servers=kafka.bootstrap)
        cmd = command("cmd-health", now=now())
        p.send(kafka.topics.loudspeaker, key=b"spk-a", value=cmd.to_bytes())
        p.flush()
        p.close()

        def acknowledged() -> float:
            return sum(
                metric(port, "citywatch_speaker_commands_total", status=s) for s in ("played", "failed")
            )

        assert wait_for(lambda: acknowledged() == 1, 90), get(port, "/metrics")[1]
        text = get(port, "/metrics")[1]
        assert "process_cpu_seconds_total" in text
        assert 'citywatch_role_kafka_reachable{role="speaker"} 1.0' in text
    finally:
        stop(proc)


def test_capture_counts_frames(kafka: KafkaEnv, tmp_path: Path) -> None:
    district = streams_site()
    for cam in district["cameras"]:
        cam["source"] = str(asset("bus.jpg"))
    config = write_config(tmp_path / "cameras.yaml", district)
    camera = district["cameras"][0]["id"]
    log = tmp_path / "capture.log"
    # --loop: a flag a role shares with faust's own command line, which faust reads at import
    args = ("capture", "--config", str(config), "--camera", camera, "--loop", "--health-port", "0")
    proc = spawn(tmp_path, env_for(kafka), log, *args)
    try:
        port = health_port(log, proc)
        assert wait_for(lambda: ok_with_kafka(port), 60), healthz(port)
        first = metric(port, "citywatch_frames_total", role="capture", camera=camera, stage="queued")
        assert wait_for(
            lambda: (
                metric(port, "citywatch_frames_total", role="capture", camera=camera, stage="queued") > first
            ),
            60,
        ), get(port, "/metrics")[1]
        text = get(port, "/metrics")[1]
        assert 'citywatch_publish_buffer_records{role="capture"}' in text
        assert 'citywatch_frames_dropped_total{role="capture"} 0.0' in text
    finally:
        stop(proc)


def test_store_counts_records_and_is_degraded_without_kafka(kafka: KafkaEnv, tmp_path: Path) -> None:
    topics = Topics("health.citywatch.")
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    try:
        ensure_topics(broker.bootstrap, topics.all(), partitions=2)
        env = {**env_for(kafka), "CITYWATCH_KAFKA": broker.bootstrap, "CITYWATCH_TOPIC_PREFIX": topics.prefix}
        log = tmp_path / "store.log"
        db = f"sqlite:///{tmp_path / 'cases.db'}"
        proc = spawn(tmp_path, env, log, "store", "--db", db, "--health-port", "0")
        try:
            port = health_port(log, proc)
            assert wait_for(lambda: ok_with_kafka(port), 60), healthz(port)
            p = KafkaProducer(bootstrap_servers=broker.bootstrap)
            p.send(topics.alerts, key=b"inc-1", value=b"not json")
            p.flush()
            p.close()
            assert wait_for(
                lambda: metric(port, "citywatch_role_deadletters_total", role="store") == 1, 60
            ), get(port, "/metrics")[1]
            assert metric(port, "citywatch_store_records_total", outcome="read") == 1
            broker.stop()
            assert wait_for(lambda: healthz(port)[0] == 503, 60), healthz(port)
            status, body = healthz(port)
            assert status == 503 and body["status"] == "degraded" and "kafka" in body["degraded"], body
            assert body["kafka"]["reachable"] is False
        finally:
            stop(proc)
    finally:
        broker.stop()


@pytest.mark.model
def test_edge_counts_inferences_and_inference_time(kafka: KafkaEnv, tmp_path: Path) -> None:
    district = streams_site()
    for cam in district["cameras"]:
        cam["source"] = str(asset("bus.jpg"))
    district["evidence"] = {"dir": str(tmp_path / "evidence")}
    config = write_config(tmp_path / "cameras.yaml", district)
    camera = district["cameras"][0]["id"]
    log = tmp_path / "edge.log"
    args = ("edge", "--config", str(config), "--camera", camera, "--loop", "--health-port", "0")
    proc = spawn(tmp_path, env_for(kafka), log, *args)
    try:
        port = health_port(log, proc)
        assert wait_for(lambda: ok_with_kafka(port), 60), healthz(port)
        assert wait_for(
            lambda: metric(port, "citywatch_frames_total", role="edge", camera=camera, stage="inferred") >= 1,
            120,
        ), get(port, "/metrics")[1]
        # a frame is counted as inferred when admitted, its inference time once the batch ran
        assert wait_for(lambda: metric(port, "citywatch_inference_seconds_total", role="edge") > 0, 60)
    finally:
        stop(proc)
