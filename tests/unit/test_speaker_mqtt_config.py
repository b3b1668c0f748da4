"""The mqtt speaker's settings: `citywatch check` findings, the broker from the environment,
and the audio files of ``payload: audio_url`` (written, served, bounded)."""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streams.config import parse_config
from streams.config.models import Speaker
from streams.config.mqtt import Mqtt
from streams.contract.errors import ConfigError, DriverError
from streams.speaker.chime import chime
from streams.speaker.drivers import make_driver
from streams.speaker.fakes import FakeLink
from streams.speaker.mqtt_driver import AudioShelf, MqttDriver, make_mqtt_driver, serve_audio
from streams.speaker.mqtt_link import LinkError, PahoLink, broker_settings

from ..speaker_support import command
from .test_speaker_config import with_speaker_lines
from .test_speaker_mqtt import played

MQTT = "    driver: {type: mqtt, topic: speakers/spk-hp-01/play, ack_topic: speakers/spk-hp-01/ack"
WAV = chime(22050).to_wav()


def test_mqtt_keys_parse(sample_config_text: str) -> None:
    text = with_speaker_lines(sample_config_text, MQTT + ", timeout_s: 4, retries: 1}\n")
    cfg = parse_config(text + "mqtt: {url: 'mqtts://broker.city:8884', client_id: cw, ca_file: ca.pem}\n")
    drv = cfg.speaker("spk-hp-01").driver
    assert (drv.type, drv.topic, drv.ack_topic, drv.payload) == (
        "mqtt",
        "speakers/spk-hp-01/play",
        "speakers/spk-hp-01/ack",
        "command",
    )
    assert (cfg.mqtt.url, cfg.mqtt.client_id, cfg.mqtt.ca_file) == (
        "mqtts://broker.city:8884",
        "cw",
        "ca.pem",
    )
    assert parse_config(sample_config_text).mqtt.url == "mqtt://127.0.0.1:1883"


@pytest.mark.parametrize(
    ("lines", "path", "words"),
    [
        ("    driver: {type: mqtt}\n", "speakers[0].driver.topic", "give it the topic: its commands"),
        (MQTT.replace("play", "+") + "}\n", "speakers[0].driver.topic", "has a wildcard (+ or #)"),
        (MQTT.replace("/ack", "/#") + "}\n", "speakers[0].driver.ack_topic", "has a wildcard (+ or #)"),
        ("    driver: {type: mqtt, topic: $SYS/x}\n", "speakers[0].driver.topic", "starts with '$'"),
        (
            "    driver: {type: mqtt, topic: a/b, ack_topic: a/b}\n",
            "speakers[0].driver.ack_topic",
            "a topic of its own",
        ),
        (MQTT + ", payload: audio_url}\n", "speakers[0].driver.audio_base_url", "give audio_base_url:"),
        (
            MQTT + ", payload: audio_url, audio_base_url: gw/a}\n",
            "speakers[0].driver.audio_base_url",
            "http(s)",
        ),
        (MQTT + ", payload: wav}\n", "speakers[0].driver.payload", "'command' or 'audio_url'"),
        (MQTT + ", audio_port: 0}\n", "speakers[0].driver.audio_port", "greater than or equal to 1"),
    ],
)
def test_mqtt_driver_problems_name_the_fix(
    sample_config_text: str, lines: str, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(with_speaker_lines(sample_config_text, lines), "cameras.yaml")
    [problem] = info.value.problems
    assert problem.path == path
    assert words in problem.message
    assert problem.line is not None


def test_two_speakers_may_not_serve_audio_on_one_port(sample_config_text: str) -> None:
    audio = ", payload: audio_url, audio_base_url: 'http://gw:8099/', audio_port: 8099}\n"
    text = with_speaker_lines(sample_config_text, MQTT + audio)
    text = text.replace(
        "    driver: {type: file, dir: var/speaker/spk-hp-02}\n", MQTT.replace("01", "02") + audio
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cameras.yaml")
    [problem] = info.value.problems
    assert problem.path == "speakers[1].driver.audio_port"
    assert "speaker spk-hp-02 serves its audio on port 8099, as speaker spk-hp-01 does" in problem.message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://broker:1883", "must start with mqtt:// (plain) or mqtts:// (TLS)"),
        ("mqtt://", "names no host"),
        ("mqtt://u:pw@broker", "CITYWATCH_MQTT_USERNAME"),
        ("mqtt://broker:port", "is not a URL"),
    ],
)
def test_a_bad_broker_url_is_refused(sample_config_text: str, url: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(sample_config_text + f"mqtt: {{url: '{url}'}}\n", "cameras.yaml")
    [problem] = info.value.problems
    assert problem.path == "mqtt.url"
    assert words in problem.message


def test_the_environment_names_the_broker_and_the_credentials() -> None:
    plain = broker_settings(Mqtt(), {})
    assert (plain.host, plain.port, plain.tls, plain.username, plain.password) == (
        "127.0.0.1",
        1883,
        False,
        None,
        None,
    )
    env = {
        "CITYWATCH_MQTT": "mqtts://mq.city",
        "CITYWATCH_MQTT_USERNAME": "gw",
        "CITYWATCH_MQTT_PASSWORD": "s3cret",
    }
    tls = broker_settings(Mqtt(url="mqtt://ignored:1883", ca_file="ca.pem", client_id="cw"), env)
    assert (tls.host, tls.port, tls.tls, tls.tls_ca, tls.client_id) == ("mq.city", 8883, True, "ca.pem", "cw")
    assert (tls.username, tls.password) == ("gw", "s3cret")
    assert broker_settings(Mqtt(), {"CITYWATCH_MQTT_PASSWORD": "x"}).password is None  # no user, no password
    with pytest.raises(DriverError, match="CITYWATCH_MQTT: 'tcp://x' must start with mqtt://"):
        broker_settings(Mqtt(), {"CITYWATCH_MQTT": "tcp://x"})


def test_make_driver_builds_the_mqtt_driver_and_refuses_a_bad_section() -> None:
    spk = Speaker(id="spk-a", volume=40, driver={"type": "mqtt", "topic": "s/a/play", "ack_topic": "s/a/ack"})
    drv = make_driver(spk)
    assert isinstance(drv, MqttDriver)
    assert (drv.topic, drv.ack_topic, drv.volume, drv.wants_audio) == ("s/a/play", "s/a/ack", 40, False)
    drv.close()  # never connected: nothing to undo
    bad = Speaker(id="spk-a", driver={"type": "mqtt", "topic": "s/+/play"})
    with pytest.raises(DriverError, match=re.escape("speaker spk-a driver.topic 's/+/play' has a wildcard")):
        make_driver(bad)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_audio_url_writes_the_wav_and_serves_it_without_a_listing(tmp_path: Path) -> None:
    port = free_port()
    spk = Speaker(
        id="spk-a",
        driver={
            "type": "mqtt",
            "topic": "s/a/play",
            "ack_topic": "s/a/ack",
            "payload": "audio_url",
            "audio_base_url": f"http://127.0.0.1:{port}/audio",
            "audio_dir": str(tmp_path / "audio"),
            "audio_port": port,
        },
    )
    link = FakeLink(played)
    drv = make_mqtt_driver(spk, Mqtt(), link)
    try:
        assert drv.wants_audio
        delivered = drv.play(WAV, command("c 1/x", now=time.time()))
        [(_, body)] = link.published
        url = body["audio_url"]
        assert url.startswith(f"http://127.0.0.1:{port}/audio/") and url.endswith("-c_1_x.wav")
        assert delivered.output == f"mqtt s/a/play ({url})"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local test server
            assert resp.read() == WAV
        name = url.rsplit("/", 1)[1]
        for path in ("/audio/", "/audio/../", "/audio/nothing.wav", f"/{name}", f"/other/{name}"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            assert info.value.code == 404
        with pytest.raises(DriverError, match=f"cannot serve the audio on port {port}"):
            serve_audio(tmp_path / "other", port)
    finally:
        drv.close()
    assert link.closed


def test_the_audio_directory_keeps_only_the_newest_files(tmp_path: Path) -> None:
    (tmp_path / "20250101T000000-from-an-earlier-run.wav").write_bytes(WAV)
    shelf = AudioShelf(tmp_path, "http://gw/audio", keep=3)
    urls = [shelf.put(WAV, command(f"c-{i}")) for i in range(5)]
    assert urls[0].startswith("http://gw/audio/") and urls[0].endswith("-c-0.wav")
    kept = sorted(p.name.split("-", 1)[1] for p in tmp_path.glob("*.wav"))
    assert kept == ["c-2.wav", "c-3.wav", "c-4.wav"]


def test_a_link_to_a_port_where_no_broker_listens_says_so() -> None:
    port = free_port()
    link = PahoLink(broker_settings(Mqtt(url=f"mqtt://127.0.0.1:{port}"), {}), "t")
    try:
        with pytest.raises(LinkError) as info:
            link.publish("a/b", b"{}", timeout_s=2)
    finally:
        link.close()
    assert str(info.value).startswith(f"not connected to the MQTT broker mqtt://127.0.0.1:{port} after 2 s: ")
    assert f"cannot connect to 127.0.0.1:{port} (is the broker running?)" in str(info.value)
