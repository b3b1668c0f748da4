"""The worker outlives its broker: /healthz says degraded (503) while Kafka is gone, and
after the embedded broker comes back empty (memory storage: every topic gone) the
worker recreates the topics, says what it lost, and serves a new scenario."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics

from ..config_support import PM_A, streams_site, write_config
from ..feeds_support import sensor_reading
from ..streams_support import Collector, Feed, start_worker, stop, wait_for
from ..web_support import http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "restart-admin-token-0123456789"  # noqa: S105 - a test token
JOIN_TIMEOUT = 90  # a group join waits for the rebalance timeout
BACK_TIMEOUT = 90  # the worker must serve again within 90 s of the broker's return (a group join included)
SPEAK = ["--speaker", "spk-a", "--text", "请注意"]


def healthz(port: int) -> tuple[int | None, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None, {}


def post(port: int, path: str, body: Any) -> tuple[int, Any]:
    return http("POST", f"http://127.0.0.1:{port}{path}", token=TOKEN, body=body, timeout=30)


def get(port: int, path: str) -> str:
    return str(http("GET", f"http://127.0.0.1:{port}{path}", token=TOKEN)[1] or "")


def warned(collector: Collector, topic: str, camera: str) -> bool:
    return any(a["camera_id"] == camera and a["state"] == "warned" for a in collector.values(topic))


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port=free_port())
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.parametrize("recreated_by_broker", [False, True], ids=["bare-broker", "citywatch-broker"])
def test_worker_survives_a_broker_restart_that_lost_every_topic(
    own_broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recreated_by_broker: bool
) -> None:
    topics = Topics(f"r{uuid.uuid4().hex[:8]}.citywatch.")
    monkeypatch.setenv("CITYWATCH_TOPIC_PREFIX", topics.prefix)
    monkeypatch.setenv("CITYWATCH_KAFKA", own_broker.bootstrap)
    own_broker.start()
    ensure_topics(own_broker.bootstrap, topics.all(), partitions=4)
    env = dict(os.environ)
    config = write_config(tmp_path / "streams.yaml", streams_site() | {"sensors": [PM_A]})
    web_port = free_port()
    log = tmp_path / "worker.log"

    def run_worker() -> Any:
        return start_worker(
            config, env, tmp_path / "faust", log, web_port=web_port, tokens=f"{TOKEN}=admin@hq"
        )

    worker = run_worker()
    try:
        assert wait_for(lambda: healthz(web_port)[0] == 200, JOIN_TIMEOUT), log.read_text()[-3000:]
        # state in the tables, then a worker restart: it reads that state back from the changelogs
        with Collector(own_broker.bootstrap, [topics.alerts]) as before:
            Feed(own_broker.bootstrap, topics.detections, "cam-a").present("storefront", "bench", 6)
            assert wait_for(lambda: warned(before, topics.alerts, "cam-a"), JOIN_TIMEOUT), log.read_text()[
                -3000:
            ]
        stop(worker)
        worker = run_worker()
        # the restarted worker has looked at the broker (a probe answered): it knows its topics
        assert wait_for(
            lambda: healthz(web_port)[1].get("kafka", {}).get("reachable") is True, JOIN_TIMEOUT
        ), log.read_text()[-3000:]
        _, body = healthz(web_port)
        assert body["kafka"]["lost"] == [], body  # a worker restart loses nothing
        assert "broker lost its topics" not in log.read_text()

        # cam-a keeps sending up to the broker's end: the worker has records in flight and offsets
        # to commit when it goes (a commit then waits through the outage; fetched records are
        # thrown away at the rebalance that follows)
        busy = Feed(own_broker.bootstrap, topics.detections, "cam-a")
        for _ in range(8):
            busy.present("storefront", "bench", 0.5)
            time.sleep(0.1)
        own_broker.stop()
        assert wait_for(lambda: healthz(web_port)[0] == 503, 30), log.read_text()[-3000:]
        _, body = healthz(web_port)
        assert body["status"] == "degraded" and body["kafka"]["reachable"] is False, body
        # nothing is acknowledged while the broker is gone: 503 with the reason, never 202
        reading = sensor_reading("pm-a", "pm25", 30.0, "µg/m³", time.time())
        status, answer = post(web_port, "/api/sensor-readings", [reading])
        assert status == 503 and "not accepted" in answer["error"], answer
        status, answer = post(web_port, "/api/broadcasts", {"speaker_id": "spk-a", "text": "请注意"})
        assert status == 503 and "not accepted" in answer["error"], answer
        cli = subprocess.run(
            [sys.executable, "-m", "streams.cli", "broadcast", "--config", str(config), *SPEAK],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 1 and "nothing was sent" in cli.stderr, cli.stderr[-2000:]
        assert worker.poll() is None

        own_broker.start()  # the same port, memory storage: no topics at all
        back = time.monotonic()
        if recreated_by_broker:  # `citywatch broker` creates the contract topics (not the changelogs)
            ensure_topics(own_broker.bootstrap, topics.all(), partitions=4)
        assert wait_for(
            lambda: healthz(web_port)[0] == 200 and healthz(web_port)[1]["kafka"]["lost"], BACK_TIMEOUT
        ), log.read_text()[-3000:]
        print(f"healthz ok, lost state reported: {time.monotonic() - back:.1f}s after the broker's return")
        _, body = healthz(web_port)
        assert body["status"] == "ok" and body["kafka"]["reachable"] is True, body
        assert "broker lost its topics" in body["kafka"]["lost"][-1], body
        assert "broker lost its topics" in log.read_text()

        # a new scenario after the restart: detections -> violation -> warned alert
        with Collector(own_broker.bootstrap, [topics.alerts]) as after:
            Feed(own_broker.bootstrap, topics.detections, "cam-b").present("kerb", "car", 6)
            assert wait_for(lambda: warned(after, topics.alerts, "cam-b"), BACK_TIMEOUT), log.read_text()[
                -12000:
            ]
        print(f"new scenario's warned alert {time.monotonic() - back:.1f}s after the broker's return")
        assert wait_for(lambda: "cam-b" in get(web_port, "/api/incidents"), BACK_TIMEOUT)  # on the board
        assert worker.poll() is None, log.read_text()[-3000:]
        assert "ConsistencyError" not in log.read_text()
    finally:
        stop(worker)
