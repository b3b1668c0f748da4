"""The mqtt speaker driver's logic against a fake link: payload, device acks, retries, expiry."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.contract.errors import CommandExpiredError, DriverError
from streams.contract.timeutil import from_iso
from streams.speaker.fakes import FakeEngine, FakeLink
from streams.speaker.mqtt_driver import DeviceAck, MqttDriver, command_payload, parse_ack
from streams.speaker.mqtt_link import LinkError
from streams.speaker.worker import SpeakerWorker

from ..speaker_support import EN, T0, command, speaker

PLAY, ACK = "speakers/spk-a/play", "speakers/spk-a/ack"


@dataclass
class Clock:
    now: float = T0
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s
        if self.on_sleep is not None:
            self.on_sleep()


def driver(link: FakeLink, clock: Clock | None = None, **kw: Any) -> MqttDriver:
    clock = clock or Clock()
    opts: dict[str, Any] = {"ack_topic": ACK, "timeout_s": 0.05, "retries": 2, "backoff_s": 1.0} | kw
    return MqttDriver(link, speaker_id="spk-a", volume=70, topic=PLAY, clock=clock, sleep=clock.sleep, **opts)


def played(body: dict[str, Any], n: int) -> dict[str, Any]:
    return {"command_id": body["command_id"], "status": "played"}


def test_the_payload_carries_the_command_and_the_speakers_volume() -> None:
    cmd = command("c-1", text=EN, lang="en", priority=2)
    body = json.loads(command_payload(cmd, volume=70))
    assert body == {
        "command_id": "c-1",
        "speaker_id": "spk-a",
        "text": EN,
        "lang": "en",
        "priority": 2,
        "volume": 70,
        "not_after": cmd.not_after,
    }
    assert (
        json.loads(command_payload(cmd, volume=5, audio_url="http://gw/a.wav"))["audio_url"]
        == "http://gw/a.wav"
    )
    assert "老王" in command_payload(command("c-2"), volume=1).decode("utf-8")  # UTF-8, not \\u escapes


def test_a_device_that_acks_played_is_played_at_the_first_attempt() -> None:
    link = FakeLink(played)
    drv = driver(link)
    delivered = drv.play(b"", command("c-1"))
    assert (delivered.attempts, delivered.output) == (1, f"mqtt {PLAY}")
    assert [(t, b["command_id"]) for t, b in link.published] == [(PLAY, "c-1")]
    assert link.handlers.keys() == {ACK}
    assert drv.acks.waiting() == 0  # nothing kept once answered


def test_a_silent_device_is_tried_again_with_the_same_id_then_failed() -> None:
    link, clock = FakeLink(), Clock()
    with pytest.raises(DriverError) as info:
        driver(link, clock, retries=2, backoff_s=1.0).play(b"", command("c-1"))
    assert str(info.value) == f"mqtt {PLAY}: no ack from the device in 0.05 s on {ACK} (after 3 attempts)"
    assert [b["command_id"] for _, b in link.published] == ["c-1", "c-1", "c-1"]
    assert clock.slept == [1.0, 2.0]


def test_an_answer_on_the_second_attempt_counts_two_attempts() -> None:
    link = FakeLink(lambda body, n: played(body, n) if n == 1 else None)
    assert driver(link).play(b"", command("c-1")).attempts == 2


def test_a_late_answer_that_comes_during_the_backoff_is_not_sent_again() -> None:
    link, clock = FakeLink(), Clock()
    clock.on_sleep = lambda: link.answer({"command_id": "c-1", "status": "played"})
    assert driver(link, clock).play(b"", command("c-1")).attempts == 1
    assert len(link.published) == 1


def test_a_device_that_answers_failed_fails_with_its_reason_and_no_retry() -> None:
    link = FakeLink(
        lambda body, n: {"command_id": body["command_id"], "status": "failed", "reason": "amp fault"}
    )
    with pytest.raises(DriverError, match=f"the device on {PLAY} answered failed: amp fault"):
        driver(link).play(b"", command("c-1"))
    assert len(link.published) == 1


def test_answers_to_other_commands_and_garbage_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def device(body: dict[str, Any], n: int) -> None:
        link.answer(b"not json")
        link.answer({"status": "played"})
        link.answer({"command_id": "someone-else", "status": "played"})

    link = FakeLink(device)
    drv = driver(link, retries=0)
    with caplog.at_level(logging.WARNING), pytest.raises(DriverError, match="no ack from the device"):
        drv.play(b"", command("c-1"))
    assert "ignoring an answer: not JSON" in caplog.text
    assert "ignoring an answer: no command_id" in caplog.text
    assert drv.acks.waiting() == 0  # the stray answers were not kept


@pytest.mark.parametrize(
    ("raw", "ack"),
    [
        (b'{"command_id": "c", "status": "played"}', DeviceAck("c", "played", "")),
        (
            b'{"command_id": "c", "status": "failed", "reason": "no power"}',
            DeviceAck("c", "failed", "no power"),
        ),
        (
            b'{"command_id": "c", "status": "ok"}',
            DeviceAck("c", "failed", "the device answered status 'ok'; devices answer played or failed"),
        ),
        (b'{"command_id": "c", "status": "failed", "reason": 7}', DeviceAck("c", "failed", "")),
    ],
)
def test_parse_ack(raw: bytes, ack: DeviceAck) -> None:
    assert parse_ack(raw) == ack


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b"\xff", "not JSON"), (b"[1]", "not a JSON object"), (b'{"command_id": ""}', "no command_id")],
)
def test_parse_ack_refuses_what_names_no_command(raw: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_ack(raw)


def test_a_broker_that_does_not_take_the_message_is_tried_again() -> None:
    calls: list[int] = []

    def device(body: dict[str, Any], n: int) -> Any:
        calls.append(n)
        return LinkError("not connected to the MQTT broker") if len(calls) < 3 else played(body, n)

    link = FakeLink(device)
    assert driver(link).play(b"", command("c-1")).attempts == 3
    link = FakeLink(lambda body, n: LinkError("not connected to the MQTT broker"))
    with pytest.raises(DriverError, match="not connected to the MQTT broker \\(after 3 attempts\\)"):
        driver(link).play(b"", command("c-1"))


def test_without_an_ack_topic_the_brokers_word_is_enough() -> None:
    link = FakeLink()
    delivered = driver(link, ack_topic=None).play(b"", command("c-1"))
    assert delivered.output == f"mqtt {PLAY} (taken by the broker; no ack_topic)"
    assert link.handlers == {}


def test_a_command_whose_not_after_passes_while_retrying_expires() -> None:
    link, clock = FakeLink(), Clock()
    cmd = command("c-1", now=T0, ttl_s=1.5)  # the first backoff (1 s) stays inside, the second (2 s) not
    with pytest.raises(CommandExpiredError) as info:
        driver(link, clock).play(b"", cmd)
    assert len(link.published) == 2
    assert "not_after" in str(info.value)
    assert f"no ack from the device in 0.05 s on {ACK}" in str(info.value)
    assert clock.now > from_iso(cmd.not_after)


def test_the_worker_acks_expired_and_skips_rendering_for_a_device_that_speaks() -> None:
    engine, clock = FakeEngine(), Clock()
    spk = speaker("spk-a", driver={"type": "mqtt", "topic": PLAY, "ack_topic": ACK})
    acks: list[Any] = []
    worker = SpeakerWorker(spk, driver(FakeLink(), clock), engine, lambda a, t: acks.append(a), clock)
    ack = worker.handle(command("c-1", now=T0, ttl_s=1.5))
    assert (ack.status, ack.command_id) == ("expired", "c-1")
    assert "not_after" in ack.reason

    link = FakeLink(played)
    worker = SpeakerWorker(spk, driver(link, clock), engine, lambda a, t: acks.append(a), clock)
    ack = worker.handle(command("c-2", now=clock.now))
    assert ack.status == "played"
    assert ack.model_extra is not None
    assert ack.model_extra["audio_source"] == "device"
    assert ack.model_extra["attempts"] == 1
    assert engine.calls == []  # nothing was rendered
    worker.start().stop(timeout_s=5)
    assert link.closed  # the worker closes its driver when it stops


def test_failed_ack_through_the_worker_keeps_the_devices_reason() -> None:
    clock = Clock()
    link = FakeLink(
        lambda body, n: {"command_id": body["command_id"], "status": "failed", "reason": "door open"}
    )
    spk = speaker("spk-a", driver={"type": "mqtt", "topic": PLAY, "ack_topic": ACK})
    ack = SpeakerWorker(spk, driver(link, clock), FakeEngine(), lambda a, t: None, clock).handle(
        command("c-1", now=clock.now)
    )
    assert ack.status == "failed"
    assert ack.reason == f"the device on {PLAY} answered failed: door open"
