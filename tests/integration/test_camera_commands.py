"""'This zone is clean now' end to end on the embedded broker: the web API (an operator's
token, the real route) and ``citywatch zone recapture`` publish a camera command, and a
detector's command listener (its kafka-python consumer, inbox and handler) re-captures the
background of that zone on a real camera pipeline whose background model is a fake. A
malformed command is dead-lettered; a stale one is ignored; the other camera is untouched."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from detectors.camera_commands import APPLIED, STALE, CommandInbox, CommandListener
from detectors.pipeline import CameraPipeline
from detectors.publish import KafkaPublisher
from streams.config import Config
from streams.contract.records import DeadLetter, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.kafka_io import read_topic

from ..config_support import parse, web_site, write_config
from ..conftest import KafkaEnv
from ..streams_support import citywatch, produce, wait_for
from ..web_support import bearer, make_state, run_client

pytestmark = [pytest.mark.integration]

WAIT_S = 30
OLD = {
    "v": 1,
    "command_id": "camcmd-old",
    "camera_id": "cam-b",
    "zone_id": "pile",
    "action": "recapture_background",
    "requested_by": "zhang",
    "reason": "",
}


@dataclass
class FakeBackground:
    calls: list[tuple[str | None, float]] = field(default_factory=list)

    def recapture(self, zone_id: str | None, at: float) -> None:
        self.calls.append((zone_id, at))


class StillTracker:
    def update(self, boxes: Any) -> list[int | None]:
        return [None] * len(boxes)


class KafkaJsonPublisher:
    """The web's publisher on kafka-python: each record acknowledged before the answer."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)

    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None:
        self.producer.send(topic, key=key.encode(), value=json.dumps(value).encode()).get(timeout=10)


@dataclass
class Detector:
    """A detector process's side: one pipeline per camera, the listener, its inbox."""

    cfg: Config
    listener: CommandListener
    backgrounds: dict[str, FakeBackground]
    pipelines: dict[str, CameraPipeline]

    def drain_until(self, done: Any) -> bool:
        """Drain the inbox as the role's loop does, until ``done()``."""

        def step() -> bool:
            self.listener.inbox.drain(self.pipelines, time.time())
            return bool(done())

        return wait_for(step, WAIT_S, 0.05)


@pytest.fixture
def detector(kafka: KafkaEnv, tmp_path: Path) -> Iterator[Detector]:
    cfg = parse(web_site(tmp_path / "evidence"))
    backgrounds = {c.id: FakeBackground() for c in cfg.cameras}
    pipelines = {}
    for cam in cfg.cameras:
        pipelines[cam.id] = CameraPipeline(cam, cfg, StillTracker(), model_name="yolo11n")
        pipelines[cam.id].static = backgrounds[cam.id]
    publisher = KafkaPublisher(kafka.bootstrap)
    listener = CommandListener(
        kafka.bootstrap, kafka.topics.camera_commands, kafka.topics.deadletter, CommandInbox(), publisher,
        role="edge",
    ).start()  # fmt: skip
    try:
        assert listener.ready.wait(WAIT_S), "the command listener never got its partitions"
        yield Detector(cfg, listener, backgrounds, pipelines)
    finally:
        listener.close()
        publisher.flush(5)
        publisher.close()


def test_the_board_api_has_the_detector_recapture_the_zone(
    kafka: KafkaEnv, detector: Detector, tmp_path: Path
) -> None:
    state = make_state(tmp_path)
    state.topics = kafka.topics
    state.publisher = KafkaJsonPublisher(kafka.bootstrap)

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post(
            "/api/cameras/cam-b/zones/pile/background", json={"reason": "swept"}, headers=bearer("operator")
        )
        return res.status, await res.json()

    status, sent = run_client(state, scenario)
    assert status == 202, sent
    cam_b = detector.backgrounds["cam-b"]
    assert detector.drain_until(lambda: cam_b.calls)
    assert cam_b.calls == [("pile", from_iso(sent["requested_at"]))]
    assert detector.backgrounds["cam-a"].calls == []
    assert detector.listener.inbox.handler.counts[("cam-b", APPLIED)] == 1


def test_the_cli_recaptures_every_zone_and_bad_or_old_commands_are_not_applied(
    kafka: KafkaEnv, detector: Detector, tmp_path: Path
) -> None:
    topic = kafka.topics.camera_commands
    old = {**OLD, "requested_at": to_iso(time.time() - 1200)}
    produce(kafka.bootstrap, topic, [("cam-b", b'{"v": 1, "camera_id": "cam-b"}'), ("cam-b", old)])
    config = write_config(tmp_path / "cameras.yaml", web_site(tmp_path / "evidence"))
    done = citywatch(
        kafka.env(), "zone", "recapture", "--config", str(config), "--camera", "cam-b", "--by", "li"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cam-b / every zone with a background, by li" in done.stdout
    cam_b = detector.backgrounds["cam-b"]
    assert detector.drain_until(lambda: cam_b.calls)
    assert [zone for zone, _ in cam_b.calls] == [None]
    counts = detector.listener.inbox.handler.counts
    assert (counts[("cam-b", STALE)], counts[("cam-b", APPLIED)]) == (1, 1)
    letters = [
        decode(DeadLetter, m.value)
        for m in read_topic(kafka.bootstrap, kafka.topics.deadletter, from_beginning=True, timeout_s=5)
    ]
    assert [(d.topic, d.error.split(":")[0]) for d in letters] == [(topic, "CameraCommand")]

    # a zone without a static-object category: refused before anything is sent
    refused = citywatch(
        kafka.env(), "zone", "recapture", "--config", str(config), "--camera", "cam-b", "--zone", "kerb"
    )
    assert refused.returncode == 1
    assert "zone kerb of camera cam-b has no reference background to re-capture" in refused.stderr


@pytest.mark.model
@pytest.mark.slow
def test_the_real_edge_role_reads_the_command_of_its_camera(kafka: KafkaEnv, tmp_path: Path) -> None:
    """``citywatch edge`` with the real model: it reads the command its camera gets, has the
    zone's static-object background taken again and counts it (``applied``); a command for a
    camera it does not read is counted ``not_here``."""
    from streams.dev.demo.scene import asset

    from .test_role_health import get, health_port, metric, stop
    from .test_roles_start import env_for, spawn

    district = web_site(tmp_path / "evidence")
    for cam in district["cameras"]:
        cam["source"] = str(asset("bus.jpg"))
    config = write_config(tmp_path / "cameras.yaml", district)
    log = tmp_path / "edge.log"
    args = ("edge", "--config", str(config), "--camera", "cam-b", "--loop", "--health-port", "0")
    proc = spawn(tmp_path, env_for(kafka), log, *args)
    try:
        port = health_port(log, proc)
        assert wait_for(lambda: "edge: reading camera commands from" in log.read_text(), 120), log.read_text()
        # a command for a camera this edge does not read (sent raw: the CLI refuses cam-a, which
        # has no background zone), then the command of its own camera, through the CLI
        other = {**OLD, "command_id": "camcmd-a", "camera_id": "cam-a", "requested_at": to_iso(time.time())}
        produce(kafka.bootstrap, kafka.topics.camera_commands, [("cam-a", other)])
        sent = citywatch(
            kafka.env(), "zone", "recapture", "--config", str(config), "--camera", "cam-b", "--zone", "pile"
        )
        assert sent.returncode == 0, sent.stderr[-2000:]

        def counted(camera: str, outcome: str) -> float:
            return metric(
                port, "citywatch_camera_commands_total", role="edge", camera=camera, outcome=outcome
            )

        assert wait_for(lambda: counted("cam-b", "applied") == 1, 60), get(port, "/metrics")[1]
        assert wait_for(lambda: counted("", "not_here") == 1, 30), get(port, "/metrics")[1]
        text = log.read_text()
        assert "cam-b: " in text and "re-capturing the background of zone pile" in text
    finally:
        stop(proc)
