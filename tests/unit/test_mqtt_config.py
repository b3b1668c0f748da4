"""The ``mqtt:`` section (errors with their line and the fix), the shared connection settings
(URL, TLS, login from the environment) and the bridge's health and metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import role_metrics
from streams.config import parse_config
from streams.config.mqtt import Mqtt
from streams.contract.errors import MqttError
from streams.mqtt.connection import new_client, parse_url, settings
from streams.role_health import RoleHealth

from ..config_support import problems_for


def sample_with_mqtt(sample: str) -> str:
    """The sample configuration with its commented ``mqtt:`` block taken in."""
    lines = sample.splitlines()
    start = lines.index("# mqtt:")
    end = lines.index("", start)
    block = [line[2:] for line in lines[start:end]]
    return "\n".join([*lines[:start], *block, *lines[end:]]) + "\n"


def test_the_sample_block_is_valid(sample_config_text: str) -> None:
    cfg = parse_config(sample_with_mqtt(sample_config_text))
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1883"
    assert [i.topic for i in cfg.mqtt.inputs] == ["city/sensors/+/pm25", "city/noise/#"]
    assert cfg.mqtt.inputs[0].sensor_id == "pm-{1}"
    assert parse_config(sample_config_text).mqtt.inputs == []  # commented out: no inputs


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("      value: $.pm25 ", "      value: '42' ", "mqtt.inputs[0]", "value: '42' is a constant"),
        ('      sensor_id: "pm-{1}"', '      sensor_id: "pm-{3}"', "mqtt.inputs[0]", "asks for wildcard 3"),
        (
            "    - topic: city/noise/#",
            "    - topic: city/#/noise",
            "mqtt.inputs[1].topic",
            "# must be the last",
        ),
        ("  out_prefix: citywatch ", "  out_prefix: citywatch/# ", "mqtt.out_prefix", "without wildcards"),
        (
            "      sensor_id: $.device",
            "      sensor_id: noise-xh-1",
            "mqtt.inputs[1].sensor_id",
            "noise-xh-01?",
        ),
        (
            "    - topic: city/noise/#",
            "    - topic: city/sensors/+/pm25",
            "mqtt.inputs[1].topic",
            "merge the two",
        ),
        ("  client_id: citywatch-mqtt", "  client_id: x\n  colour: red", "mqtt.colour", "colour"),
    ],
)
def test_mistakes_point_at_the_line(
    sample_config_text: str, old: str, new: str, path: str, words: str
) -> None:
    text = sample_with_mqtt(sample_config_text)
    assert old in text
    problems = problems_for(text.replace(old, new, 1))
    assert any(p.path == path and words in p.message and p.line for p in problems), problems


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("mqtt://broker", ("broker", 1883, False)),
        ("mqtts://broker", ("broker", 8883, True)),
        ("mqtt://10.0.0.5:1884", ("10.0.0.5", 1884, False)),
    ],
)
def test_urls(url: str, parsed: tuple[str, int, bool]) -> None:
    assert parse_url(url) == parsed


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("tcp://broker:1883", "write mqtt://HOST"),
        ("mqtt://user:pw@broker", "set CITYWATCH_MQTT_USERNAME and CITYWATCH_MQTT_PASSWORD"),
        ("mqtt://broker:99999", "mqtts://HOST:8883"),
        ("mqtt://broker/topic", "no path"),
    ],
)
def test_bad_urls(url: str, words: str) -> None:
    with pytest.raises(MqttError) as info:
        parse_url(url)
    assert words in str(info.value)
    assert "pw" not in str(info.value)


def test_url_order_and_login_from_the_environment() -> None:
    cfg = Mqtt(url="mqtt://from-config")
    assert settings(cfg, env={}).host == "from-config"
    assert settings(cfg, env={"CITYWATCH_MQTT": "mqtt://from-env"}).host == "from-env"
    assert settings(cfg, url="mqtts://flag", env={"CITYWATCH_MQTT": "mqtt://from-env"}).tls
    env = {"CITYWATCH_MQTT_USERNAME": "bridge", "CITYWATCH_MQTT_PASSWORD": "s3cret"}
    s = settings(cfg, env=env)
    assert (s.username, s.password) == ("bridge", "s3cret")
    assert "s3cret" not in repr(s) and "s3cret" not in s.shown
    with pytest.raises(MqttError, match="CITYWATCH_MQTT_USERNAME"):
        settings(cfg, env={"CITYWATCH_MQTT_PASSWORD": "x"})


def test_tls_settings(tmp_path: Path) -> None:
    with pytest.raises(MqttError, match=r"mqtt\.ca_file: .* is not a readable file"):
        settings(Mqtt(tls=True, ca_file=str(tmp_path / "missing.pem")), env={})
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(MqttError, match="TLS is off"):
        settings(Mqtt(ca_file=str(ca)), env={})
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        Mqtt(cert_file=str(ca))
    s = settings(Mqtt(tls=True, ca_file=str(ca)), env={})
    assert s.tls and s.port == 1883
    with pytest.raises(MqttError, match="cannot be used"):
        new_client(s, "c", clean=False)


def test_health_is_degraded_while_mqtt_is_down() -> None:
    link = {"ok": False, "connected": False}
    health = RoleHealth("mqtt", "127.0.0.1:1", links={"mqtt": lambda: dict(link)}, clock=lambda: 100.0)
    health.round()
    status, body = health.report()
    assert status == 503 and body["degraded"] == ["mqtt"] and body["mqtt"]["connected"] is False
    link.update(ok=True, connected=True)
    assert health.report()[0] == 200


def test_metrics() -> None:
    stats = {"readings": 3, "published": 8, "deadletters": 2, "reconnects": 1}
    families = {m.name: m for m in role_metrics.mqtt(stats, lambda: True)()}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for m in families.values() for s in m.samples
    }
    assert samples[("citywatch_mqtt_messages_total", (("direction", "in"),))] == 3
    assert samples[("citywatch_mqtt_messages_total", (("direction", "out"),))] == 8
    assert samples[("citywatch_mqtt_reconnects_total", ())] == 1
    assert samples[("citywatch_mqtt_connected", ())] == 1
    assert samples[("citywatch_role_deadletters_total", (("role", "mqtt"),))] == 2
