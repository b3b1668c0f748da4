"""`citywatch speaker` with mqtt speakers, on the embedded Kafka broker and a real MQTT broker:
a loudspeaker command on Kafka -> the device's MQTT topic -> the device's ack -> the ack on Kafka.

The MQTT broker is Mosquitto at 127.0.0.1:1883 (or CITYWATCH_MQTT); each test uses topics of its
own. The devices are paho clients in the test: one that plays, one that stays silent, one that
answers failed, and one that fetches the WAV from the gateway before it answers.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from kafka import KafkaProducer
from paho.mqtt.enums import CallbackAPIVersion

from streams.config.mqtt import Mqtt
from streams.contract.records import LoudspeakerAck, decode
from streams.contract.timeutil import now
from streams.kafka_io import read_topic
from streams.speaker.mqtt_link import LinkError, PahoLink, broker_settings

from ..conftest import KafkaEnv
from ..speaker_support import EN, ZH, command, wav_facts
from ..tls_support import make_pki

pytestmark = pytest.mark.integration

BROKER = os.environ.get("CITYWATCH_MQTT", "mqtt://127.0.0.1:1883")


def _broker() -> tuple[str, int]:
    parts = urllib.parse.urlsplit(BROKER)
    return parts.hostname or "127.0.0.1", parts.port or 1883


@dataclass
class Devices:
    """Fake speakers on one MQTT connection: each answers its play topic as its name says."""

    prefix: str
    client: Any = None
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fetched: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        speaker = msg.topic.split("/")[-2]
        body = json.loads(msg.payload)
        with self.lock:
            self.received.setdefault(speaker, []).append(body)
        answer: dict[str, Any] = {"command_id": body["command_id"], "status": "played"}
        if speaker == "spk-silent":
            return
        if speaker == "spk-bad":
            answer = {"command_id": body["command_id"], "status": "failed", "reason": "amplifier fault"}
        if "audio_url" in body:
            with urllib.request.urlopen(body["audio_url"], timeout=10) as resp:  # noqa: S310 - the gateway's
                self.fetched[body["command_id"]] = resp.read()
        client.publish(f"{self.prefix}/{speaker}/ack", json.dumps(answer), qos=1)


@pytest.fixture
def devices() -> Iterator[Devices]:
    host, port = _broker()
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {BROKER} ({exc}); start mosquitto or set CITYWATCH_MQTT")
    devs = Devices(f"citywatch-test/{uuid.uuid4().hex[:10]}")
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{uuid.uuid4().hex[:8]}")
    client.on_message = devs.on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{devs.prefix}/+/play", qos=1)
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.connect(host, port)
    client.loop_start()
    devs.client = client
    try:
        assert subscribed.wait(10), f"the test device could not subscribe on {BROKER}"
        yield devs
    finally:
        client.disconnect()
        client.loop_stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mqtt_speaker(prefix: str, speaker_id: str, extra: str = "") -> str:
    return (
        f"  - id: {speaker_id}\n    volume: 65\n"
        f"    driver: {{type: mqtt, topic: '{prefix}/{speaker_id}/play', "
        f"ack_topic: '{prefix}/{speaker_id}/ack', "
        f"timeout_s: 5, retries: 0{extra}}}\n"
    )


def run_gateway(
    kafka: KafkaEnv, tmp_path: Path, speakers: str, commands: list[Any]
) -> dict[str, LoudspeakerAck]:
    cfg = tmp_path / "cameras.yaml"
    cfg.write_text(
        "version: 1\nsite: {name: test district}\n"
        'categories:\n  out_of_store_business: {code: "200504", name: 店外经营, labels: [chair]}\n'
        f"mqtt: {{url: '{BROKER}', client_id: citywatch-test}}\nspeakers:\n{speakers}",
        encoding="utf-8",
    )
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for cmd in commands:
        producer.send(kafka.topics.loudspeaker, key=cmd.speaker_id.encode(), value=cmd.to_bytes())
    producer.flush()
    producer.close()
    group = f"speaker-{uuid.uuid4().hex[:6]}"
    argv = [sys.executable, "-m", "streams.cli", "speaker", "--config", str(cfg), "--group", group]
    proc = subprocess.Popen(
        [*argv, "--duration", "90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kafka.env(),
    )
    try:
        msgs = list(
            read_topic(
                kafka.bootstrap,
                kafka.topics.loudspeaker_acks,
                from_beginning=True,
                max_records=len(commands),
                timeout_s=60,
            )
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    acks = [decode(LoudspeakerAck, m.value or b"") for m in msgs]
    assert len(acks) == len(commands), out + err
    return {a.command_id: a for a in acks}


def test_commands_reach_mqtt_devices_and_their_answers_come_back_as_acks(
    kafka: KafkaEnv, devices: Devices, tmp_path: Path
) -> None:
    p = devices.prefix
    speakers = (
        mqtt_speaker(p, "spk-ok")
        + mqtt_speaker(p, "spk-bad")
        + mqtt_speaker(p, "spk-silent").replace(
            "timeout_s: 5, retries: 0", "timeout_s: 0.5, retries: 1, backoff_s: 0.2"
        )
    )
    t = now()
    cmds = [
        command("m-ok", "spk-ok", text=EN, lang="en", now=t, priority=3),
        command("m-bad", "spk-bad", now=t),
        command("m-silent", "spk-silent", now=t),
    ]
    acks = run_gateway(kafka, tmp_path, speakers, cmds)

    ok = acks["m-ok"]
    assert (ok.status, ok.speaker_id, ok.incident_id) == ("played", "spk-ok", "inc-m-ok")
    assert ok.model_extra is not None
    assert ok.model_extra["output"] == f"mqtt {p}/spk-ok/play"
    assert (ok.model_extra["attempts"], ok.model_extra["audio_source"]) == (1, "device")
    [sent] = devices.received["spk-ok"]
    assert sent == {
        "command_id": "m-ok",
        "speaker_id": "spk-ok",
        "text": EN,
        "lang": "en",
        "priority": 3,
        "volume": 65,
        "not_after": cmds[0].not_after,
    }

    bad = acks["m-bad"]
    assert (bad.status, bad.reason) == (
        "failed",
        f"the device on {p}/spk-bad/play answered failed: amplifier fault",
    )
    assert [b["text"] for b in devices.received["spk-bad"]] == [ZH]  # a device's failure is not retried

    silent = acks["m-silent"]
    assert silent.status == "failed"
    assert silent.reason == (
        f"mqtt {p}/spk-silent/play: no ack from the device in 0.5 s on {p}/spk-silent/ack (after 2 attempts)"
    )
    assert [b["command_id"] for b in devices.received["spk-silent"]] == ["m-silent", "m-silent"]


@pytest.mark.sysdeps("espeak-ng")
def test_audio_url_devices_fetch_the_rendered_wav_from_the_gateway(
    kafka: KafkaEnv, devices: Devices, tmp_path: Path
) -> None:
    port = free_port()
    extra = (
        f", payload: audio_url, audio_base_url: 'http://127.0.0.1:{port}/audio/', "
        f"audio_dir: '{tmp_path / 'audio'}', audio_port: {port}"
    )
    t = now()
    acks = run_gateway(
        kafka, tmp_path, mqtt_speaker(devices.prefix, "spk-url", extra), [command("m-url", "spk-url", now=t)]
    )
    ack = acks["m-url"]
    assert ack.status == "played", ack.reason
    [sent] = devices.received["spk-url"]
    assert sent["audio_url"].startswith(f"http://127.0.0.1:{port}/audio/") and sent["audio_url"].endswith(
        "-m-url.wav"
    )
    wav = devices.fetched["m-url"]
    [on_disk] = (tmp_path / "audio").glob("*.wav")
    assert on_disk.read_bytes() == wav  # the device got the file the gateway rendered
    rate, duration, rms = wav_facts(on_disk)
    assert (rate, duration > 2.0, rms > 0.01) == (22050, True, True)
    assert ack.model_extra is not None
    assert ack.model_extra["audio_source"] == "tts:cmn"


@dataclass(frozen=True)
class PrivateBroker:
    url: str
    ca: Path
    other_ca: Path


@pytest.fixture
def tls_mosquitto(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A Mosquitto of the test's own: TLS only, no anonymous clients, user gw / s3cret."""
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    pki = make_pki(tmp_path / "pki")
    passwd = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwd), "gw", "s3cret"], check=True, capture_output=True
    )
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\ncafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        f"allow_anonymous false\npassword_file {passwd}\npersistence false\nlog_dest stderr\n"
        f"user {getpass.getuser()}\n",  # run as root, mosquitto would become a user that cannot read tmp_path
        encoding="utf-8",
    )
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                pytest.fail(f"mosquitto did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                threading.Event().wait(0.1)
        yield PrivateBroker(f"mqtts://127.0.0.1:{port}", pki.ca, pki.other_ca)
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_link_speaks_tls_with_the_credentials_of_the_environment(tls_mosquitto: PrivateBroker) -> None:
    creds = {"CITYWATCH_MQTT_USERNAME": "gw", "CITYWATCH_MQTT_PASSWORD": "s3cret"}
    link = PahoLink(broker_settings(Mqtt(url=tls_mosquitto.url, ca_file=str(tls_mosquitto.ca)), creds), "t")
    got: list[bytes] = []
    arrived = threading.Event()
    link.subscribe("loop/back", lambda raw: (got.append(raw), arrived.set()))
    try:
        link.publish("loop/back", b'{"hello": 1}', timeout_s=10)
        assert arrived.wait(10)
        assert got == [b'{"hello": 1}']
    finally:
        link.close()

    wrong = PahoLink(
        broker_settings(
            Mqtt(url=tls_mosquitto.url, ca_file=str(tls_mosquitto.ca)),
            {**creds, "CITYWATCH_MQTT_PASSWORD": "x"},
        ),
        "t",
    )
    try:
        with pytest.raises(LinkError) as info:
            wrong.publish("loop/back", b"{}", timeout_s=3)
    finally:
        wrong.close()
    assert "the broker refused the connection" in str(info.value)
    assert "check CITYWATCH_MQTT_USERNAME / CITYWATCH_MQTT_PASSWORD" in str(info.value)

    untrusted = PahoLink(
        broker_settings(Mqtt(url=tls_mosquitto.url, ca_file=str(tls_mosquitto.other_ca)), creds), "t"
    )
    try:
        with pytest.raises(LinkError) as info:
            untrusted.publish("loop/back", b"{}", timeout_s=3)
    finally:
        untrusted.close()
    assert str(info.value).startswith(
        f"not connected to the MQTT broker {tls_mosquitto.url} after 3 s: cannot"
    )
    assert "is its certificate signed by mqtt.ca_file?" in str(info.value)
