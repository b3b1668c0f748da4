"""The detector's side of operators' camera commands, without a broker: a real camera pipeline
with a fake background model, the handler's outcomes (applied, not here, no background, stale,
redelivered), its bounds, the inbox the loop drains, the listener's boundary (a malformed record
is dead-lettered) and the metric."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from detectors.camera_commands import (
    APPLIED,
    DUPLICATE,
    NO_BACKGROUND,
    NOT_HERE,
    STALE,
    CommandHandler,
    CommandInbox,
    CommandListener,
)
from detectors.detect import run_detect
from detectors.pipeline import CameraPipeline, DetectionLoop, RunLimits, StatusReporter, run_edge
from streams import role_metrics
from streams.config import parse_config
from streams.contract.records import CameraCommand, DeadLetter, decode
from streams.contract.timeutil import from_iso, to_iso
from streams.contract.topics import Topics

from .test_pipeline import CONFIG, StaticTracker

T0 = from_iso("2026-05-26T02:14:03.120Z")


@dataclass
class FakeBackground:
    calls: list[tuple[str | None, float]] = field(default_factory=list)

    def recapture(self, zone_id: str | None, at: float) -> None:
        self.calls.append((zone_id, at))


class Broken:
    def recapture_background(self, zone_id: str | None, at: float) -> bool:
        raise RuntimeError("background model fell over")


def pipeline(static: FakeBackground | None) -> CameraPipeline:
    cfg = parse_config(CONFIG)
    pipe = CameraPipeline(cfg.cameras[0], cfg, StaticTracker(), model_name="yolo11n")
    pipe.static = static
    return pipe


def cmd(n: int = 1, *, camera: str = "cam-1", zone: str | None = "walkway", at: float = T0) -> CameraCommand:
    return CameraCommand(
        command_id=f"camcmd-{n}",
        camera_id=camera,
        zone_id=zone,
        action="recapture_background",
        requested_by="zhang",
        reason="swept",
        requested_at=to_iso(at),
    )


def test_a_pipeline_recaptures_only_with_a_background_model() -> None:
    background = FakeBackground()
    assert pipeline(background).recapture_background("walkway", T0) is True
    assert pipeline(background).recapture_background(None, T0 + 1) is True
    assert background.calls == [("walkway", T0), (None, T0 + 1)]
    assert pipeline(None).recapture_background("walkway", T0) is False


CASES: list[tuple[str, CameraCommand, float, bool, str, list[tuple[str | None, float]]]] = [
    ("applied with its zone and time", cmd(), T0 + 2, True, APPLIED, [("walkway", T0)]),
    ("every zone", cmd(zone=None), T0 + 2, True, APPLIED, [(None, T0)]),
    ("just inside the age limit", cmd(), T0 + 600, True, APPLIED, [("walkway", T0)]),
    ("too old", cmd(), T0 + 601, True, STALE, []),
    ("a camera of another process", cmd(camera="cam-9"), T0 + 2, True, NOT_HERE, []),
    ("no background model", cmd(), T0 + 2, False, NO_BACKGROUND, []),
]


@pytest.mark.parametrize(
    ("case", "command", "now", "has_model", "outcome", "calls"), CASES, ids=[c[0] for c in CASES]
)
def test_the_handler_applies_a_command_to_its_camera_only_while_fresh(
    case: str,
    command: CameraCommand,
    now: float,
    has_model: bool,
    outcome: str,
    calls: list[tuple[str | None, float]],
) -> None:
    background = FakeBackground()
    handler = CommandHandler()
    pipes = {"cam-1": pipeline(background if has_model else None)}
    assert handler.handle(command, pipes, now) == outcome
    assert background.calls == calls
    camera = "" if outcome == NOT_HERE else "cam-1"
    assert dict(handler.counts) == {(camera, outcome): 1}


def test_a_redelivered_command_is_applied_once_and_the_memory_of_ids_is_bounded() -> None:
    background = FakeBackground()
    handler = CommandHandler(max_seen=2)
    pipes = {"cam-1": pipeline(background)}
    outcomes = [handler.handle(cmd(n), pipes, T0) for n in (1, 1, 2, 3, 1)]
    # id 1 was forgotten once ids 2 and 3 came (at most 2 kept), so it counts as new again
    assert outcomes == [APPLIED, DUPLICATE, APPLIED, APPLIED, APPLIED]
    assert len(background.calls) == 4
    assert handler.counts[("cam-1", DUPLICATE)] == 1


def test_the_inbox_is_bounded_and_a_failing_pipeline_does_not_stop_the_drain() -> None:
    inbox = CommandInbox(max_size=2)
    assert inbox.put(cmd(1, camera="cam-x")) and inbox.put(cmd(2))
    assert not inbox.put(cmd(3))
    assert inbox.dropped == 1
    background = FakeBackground()
    assert inbox.drain({"cam-x": Broken(), "cam-1": pipeline(background)}, T0 + 1) == 2
    assert background.calls == [("walkway", T0)]
    assert inbox.drain({}, T0 + 1) == 0


@dataclass
class Rec:
    value: bytes | None
    key: bytes | None = b"cam-1"
    topic: str = "t.camera-commands"
    partition: int = 2
    offset: int = 7


@dataclass
class FakePublisher:
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)

    def send(self, topic: str, key: str, value: bytes, headers: Any = None, on_ack: Any = None) -> None:
        self.sent.append((topic, key, value))


def listener(publisher: FakePublisher, inbox: CommandInbox) -> CommandListener:
    return CommandListener("unused:9092", "t.camera-commands", "t.deadletter", inbox, publisher, role="edge")


@pytest.mark.parametrize(
    "raw", [b"not json", b"{}", json.dumps({**cmd().to_dict(), "action": "reboot"}).encode(), None]
)
def test_the_listener_dead_letters_a_malformed_command_and_passes_a_good_one(raw: bytes | None) -> None:
    publisher, inbox = FakePublisher(), CommandInbox()
    lst = listener(publisher, inbox)
    lst._take(Rec(raw))
    lst._take(Rec(cmd().to_bytes()))
    [(topic, key, value)] = publisher.sent
    letter = decode(DeadLetter, value)
    assert (topic, key) == ("t.deadletter", "t.camera-commands")
    assert (letter.topic, letter.partition, letter.offset) == ("t.camera-commands", 2, 7)
    assert "CameraCommand" in letter.error
    assert lst.deadletters == 1
    background = FakeBackground()
    assert inbox.drain({"cam-1": pipeline(background)}, T0) == 1
    assert background.calls == [("walkway", T0)]


class FakeConsumer:
    """Hands out its records on the first poll, then nothing."""

    def __init__(self, records: list[Rec]) -> None:
        self.records = records
        self.closed = False

    def poll(self, timeout_ms: int) -> dict[str, list[Rec]]:
        out, self.records = self.records, []
        return {"tp": out} if out else {}

    def close(self) -> None:
        self.closed = True


def test_the_listener_thread_fills_the_inbox_and_closes_its_consumer() -> None:
    consumer = FakeConsumer([Rec(cmd(1).to_bytes()), Rec(cmd(2, zone=None).to_bytes())])
    inbox = CommandInbox()
    lst = CommandListener(
        "unused:9092", "t.camera-commands", "t.deadletter", inbox, FakePublisher(), role="edge",
        consumer_factory=lambda: consumer,
    )  # fmt: skip
    lst.start()
    assert lst.ready.wait(5)
    background = FakeBackground()
    handled = 0
    for _ in range(500):  # until both arrived (each drain takes what is there)
        handled += inbox.drain({"cam-1": pipeline(background)}, T0)
        if handled == 2:
            break
        lst.stop.wait(0.01)
    lst.close()
    assert background.calls == [("walkway", T0), (None, T0)]
    assert consumer.closed


def test_the_metric_counts_commands_by_camera_and_outcome() -> None:
    handler = CommandHandler()
    pipes = {"cam-1": pipeline(FakeBackground())}
    handler.handle(cmd(1), pipes, T0)
    handler.handle(cmd(2, camera="cam-9"), pipes, T0)
    collect = role_metrics.detector("edge", lambda: {}, FakePublisherStats(), commands=lambda: handler.counts)
    [family] = [m for m in collect() if m.name == "citywatch_camera_commands"]
    got = {
        (s.labels["camera"], s.labels["outcome"]): s.value
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert got == {("cam-1", APPLIED): 1.0, ("", NOT_HERE): 1.0}


class FakePublisherStats:
    buffered = 0
    dropped = 0


class NoDetector:
    name = "none"

    def detect(self, images: Any) -> Any:
        raise AssertionError("no frame should reach the model here")


class Rounds:
    """RunLimits' heartbeat: stops the loop after ``n`` rounds."""

    def __init__(self, limits: RunLimits, n: int) -> None:
        self.limits, self.left = limits, n

    def __call__(self) -> None:
        self.left -= 1
        if self.left < 0:
            self.limits.stop.set()


def test_the_edge_and_detect_loops_apply_waiting_commands_between_rounds() -> None:
    topics = Topics("t.")
    for role in ("edge", "detect"):
        background = FakeBackground()
        loop = DetectionLoop({"cam-1": pipeline(background)}, NoDetector(), FakePublisher(), topics)  # type: ignore[arg-type]
        inbox = CommandInbox()
        sent = from_iso(to_iso(time.time()))  # the loops judge a command's age by the wall clock
        inbox.put(cmd(1, at=sent))
        limits = RunLimits()
        limits.on_round = Rounds(limits, 2)
        if role == "edge":  # no camera readers: one round, then every source has ended
            status = StatusReporter({}, FakePublisher(), topics, health=lambda: None)  # type: ignore[arg-type,return-value]
            run_edge({}, loop, status, limits, threading.Event(), 1, inbox)
        else:
            run_detect(FakeConsumer([]), lambda camera_id: None, loop, limits, 1, inbox)
        assert background.calls == [("walkway", sent)], role
        assert inbox.handler.counts[("cam-1", APPLIED)] == 1
