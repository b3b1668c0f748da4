"""``citywatch mqtt`` against the real Mosquitto on 127.0.0.1:1883 and the embedded Kafka broker:
readings in (and refused ones dead-lettered with their MQTT topic), alerts and cases out
(retained ones seen by a late subscriber), and a bridge killed mid-stream losing nothing."""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from streams.contract.timeutil import to_iso

from ..conftest import SAMPLE_CONFIG, KafkaEnv
from ..store_support import alert, dispatch
from ..streams_support import Collector, produce, wait_for
from .test_role_health import health_port, healthz, metric
from .test_roles_start import env_for, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MOSQUITTO = ("127.0.0.1", 1883)
SESSION = f"cwtest-{uuid.uuid4().hex[:8]}"  # MQTT topics and client ids of this test session


@pytest.fixture(scope="module")
def mosquitto() -> None:
    try:
        with socket.create_connection(MOSQUITTO, timeout=2):
            pass
    except OSError as exc:
        pytest.skip(f"no MQTT broker on {MOSQUITTO[0]}:{MOSQUITTO[1]} ({exc}): start mosquitto to run these")


@pytest.fixture
def prefix(mosquitto: None) -> str:
    """MQTT topics of one test: nothing another test (or helper) publishes reaches them."""
    return f"{SESSION}/{uuid.uuid4().hex[:6]}"


def config(path: Path, prefix: str) -> Path:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["mqtt"] = {
        "url": "mqtt://127.0.0.1:1883",
        "client_id": f"{prefix.replace('/', '-')}-bridge",
        "out_prefix": f"{prefix}/out",
        "inputs": [
            {
                "topic": f"{prefix}/sensors/+/pm25",
                "sensor_id": "{1}",
                "value": "$.pm25",
                "measured_at": "$.ts",
            },
            {"topic": f"{prefix}/raw/#", "sensor_id": "{1}", "value": "$"},
        ],
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start_bridge(cfg: Path, kafka: KafkaEnv, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    proc = spawn(cfg.parent, env_for(kafka), log, "mqtt", "--config", str(cfg), "--health-port", "0")
    port = health_port(log, proc)
    assert wait_for(lambda: healthz(port)[0] == 200, 60), (healthz(port), log.read_text()[-3000:])
    return proc, port


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(30)


class Mqtt:
    """A test's own MQTT client: publishes QoS 1 (waiting for the broker), records what it receives."""

    def __init__(self, name: str, subscribe: str | None = None) -> None:
        self.received: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{SESSION}-{name}-{uuid.uuid4().hex[:4]}"
        )
        self.client.on_message = self._on_message
        self.client.connect(*MOSQUITTO)
        self.client.loop_start()
        if subscribe is not None:
            info = self.client.subscribe(subscribe, qos=1)
            assert info[0] == paho.MQTT_ERR_SUCCESS

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.received.append(message)

    def messages(self, topic: str | None = None) -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.received if topic is None or m.topic == topic]

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), topic

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[Mqtt]]:
    made: list[Mqtt] = []
    yield made
    for c in made:
        c.close()


def letters(collected: Collector, kafka: KafkaEnv) -> list[dict[str, Any]]:
    return collected.values(kafka.topics.deadletter)


def test_readings_in_and_refused_ones_dead_lettered(
    kafka: KafkaEnv, prefix: str, tmp_path: Path, clients: list[Mqtt]
) -> None:
    cfg = config(tmp_path / "cameras.yaml", prefix)
    log = tmp_path / "mqtt.log"
    proc, port = start_bridge(cfg, kafka, log)
    pub = Mqtt("pub")
    clients.append(pub)
    try:
        with Collector(kafka.bootstrap, [kafka.topics.sensor_readings, kafka.topics.deadletter]) as seen:
            t = to_iso(time.time() - 5)
            pub.publish(f"{prefix}/sensors/pm-hp-01/pm25", json.dumps({"pm25": 87.5, "ts": t}))
            subprocess.run(  # a device using the command-line client: a bare number
                [
                    "mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-q",
                    "1",
                    "-t",
                    f"{prefix}/raw/noise-xh-01",
                    "-m",
                    "61.5",
                ],
                check=True,
                timeout=30,
            )
            pub.publish(f"{prefix}/sensors/pm-nowhere/pm25", json.dumps({"pm25": 1, "ts": t}))
            pub.publish(f"{prefix}/sensors/pm-hp-01/pm25", b"\xffnot json")
            pub.publish(f"{prefix}/sensors/pm-hp-01/pm25", json.dumps({"pm10": 3, "ts": t}))
            pub.publish(f"{prefix}/sensors/pm-hp-01/pm25", json.dumps({"pm25": "high", "ts": t}))

            assert wait_for(lambda: len(seen.values(kafka.topics.sensor_readings)) >= 2, 60), log.read_text()[
                -3000:
            ]
            assert wait_for(lambda: len(letters(seen, kafka)) >= 4, 60), log.read_text()[-3000:]
            readings = {r["sensor_id"]: r for r in seen.values(kafka.topics.sensor_readings)}
            assert readings["pm-hp-01"]["value"] == 87.5
            assert readings["pm-hp-01"]["measured_at"] == t
            assert (readings["pm-hp-01"]["kind"], readings["pm-hp-01"]["unit"]) == ("pm25", "µg/m³")
            assert readings["pm-hp-01"]["_key"] == "pm-hp-01"
            assert (readings["noise-xh-01"]["value"], readings["noise-xh-01"]["kind"]) == (61.5, "noise")
            assert len(seen.values(kafka.topics.sensor_readings)) == 2
            by_reason = {letter["error"]: letter for letter in letters(seen, kafka)}
            assert len(by_reason) == 4
            errors = " | ".join(by_reason)
            assert "'pm-nowhere' is not in cameras.yaml" in errors
            assert "not UTF-8 JSON" in errors
            assert "the payload has no $.pm25" in errors
            assert "field 'value': Input should be a valid number" in errors
            for letter in letters(seen, kafka):
                assert letter["mqtt_topic"].startswith(f"{prefix}/sensors/")
                assert letter["topic"] == f"mqtt:{letter['mqtt_topic']}"
                assert letter["_key"] == letter["topic"]
        assert metric(port, "citywatch_mqtt_messages_total", direction="in") == 2
        assert metric(port, "citywatch_role_deadletters_total", role="mqtt") == 4
        assert metric(port, "citywatch_mqtt_connected") == 1
        status, body = healthz(port)
        assert status == 200 and body["mqtt"]["connected"] is True, body
    finally:
        stop(proc)


def test_alerts_and_cases_out_retained_for_late_subscribers(
    kafka: KafkaEnv, prefix: str, tmp_path: Path, clients: list[Mqtt]
) -> None:
    cfg = config(tmp_path / "cameras.yaml", prefix)
    log = tmp_path / "mqtt.log"
    early = Mqtt("early", subscribe=f"{prefix}/out/#")
    clients.append(early)
    proc, port = start_bridge(cfg, kafka, log)
    try:
        produce(kafka.bootstrap, kafka.topics.alerts, [(f"inc-{i}", alert(i, 2).to_dict()) for i in (1, 2)])
        produce(kafka.bootstrap, kafka.topics.alerts, [("inc-x", b"{not an alert")])
        produce(kafka.bootstrap, kafka.topics.dispatch, [("case-1", dispatch(1, unit="unit-hp-1").to_dict())])
        events = f"{prefix}/out/alerts/cam-a/events"
        assert wait_for(lambda: len(early.messages(events)) >= 2, 60), log.read_text()[-3000:]
        assert wait_for(lambda: len(early.messages(f"{prefix}/out/cases/unit-hp-1")) >= 1, 60)
        got = sorted(json.loads(m.payload)["incident_id"] for m in early.messages(events))
        assert got == ["inc-1", "inc-2"]
        assert all(m.qos == 1 and not m.retain for m in early.messages(events))
        case = json.loads(early.messages(f"{prefix}/out/cases/unit-hp-1/events")[0].payload)
        assert case == dispatch(1, unit="unit-hp-1").to_dict()

        late = Mqtt("late", subscribe=f"{prefix}/out/+/+")  # connects after: the retained state only
        clients.append(late)
        assert wait_for(lambda: len(late.messages()) >= 2, 30)
        retained = {m.topic: m for m in late.messages()}
        assert set(retained) == {f"{prefix}/out/alerts/cam-a", f"{prefix}/out/cases/unit-hp-1"}
        assert all(m.retain for m in retained.values())
        latest = json.loads(retained[f"{prefix}/out/alerts/cam-a"].payload)
        assert latest["incident_id"] in ("inc-1", "inc-2") and latest["revision"] == 2
        assert wait_for(lambda: metric(port, "citywatch_role_deadletters_total", role="mqtt") == 1, 30)
        assert metric(port, "citywatch_mqtt_messages_total", direction="out") == 6
    finally:
        stop(proc)
        for topic in (f"{prefix}/out/alerts/cam-a", f"{prefix}/out/cases/unit-hp-1"):
            early.publish(topic, b"", retain=True)  # the broker forgets the test's retained messages


def test_killed_bridge_loses_no_reading_and_no_alert(
    kafka: KafkaEnv, prefix: str, tmp_path: Path, clients: list[Mqtt]
) -> None:
    cfg = config(tmp_path / "cameras.yaml", prefix)
    log = tmp_path / "mqtt.log"
    watcher = Mqtt("watcher", subscribe=f"{prefix}/out/alerts/+/events")
    pub = Mqtt("pub")
    clients.extend([watcher, pub])
    proc, _ = start_bridge(cfg, kafka, log)
    count = 120
    t0 = time.time() - 600
    stamps = [to_iso(t0 + i) for i in range(count)]
    kill_at = threading.Event()

    def feed() -> None:
        for i, ts in enumerate(stamps):
            pub.publish(f"{prefix}/sensors/pm-hp-01/pm25", json.dumps({"pm25": float(i), "ts": ts}))
            produce(kafka.bootstrap, kafka.topics.alerts, [(f"inc-{i}", alert(i, 1).to_dict())])
            if i == count // 3:
                kill_at.set()
            time.sleep(0.02)

    with Collector(kafka.bootstrap, [kafka.topics.sensor_readings]) as seen:
        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            assert kill_at.wait(60)
            stop(proc, signal.SIGKILL)  # mid-stream: no goodbye to either broker
            time.sleep(1)  # readings and alerts keep coming while it is down
            proc, _ = start_bridge(cfg, kafka, tmp_path / "mqtt-2.log")
        finally:
            feeder.join(120)

        def complete() -> bool:
            return {r["measured_at"] for r in seen.values(kafka.topics.sensor_readings)} >= set(stamps)

        try:
            assert wait_for(complete, 120), (
                log.read_text()[-2000:],
                (tmp_path / "mqtt-2.log").read_text()[-2000:],
            )
            wanted = {f"inc-{i}" for i in range(count)}
            assert wait_for(
                lambda: {json.loads(m.payload)["incident_id"] for m in watcher.messages()} >= wanted, 120
            )
            readings = seen.values(kafka.topics.sensor_readings)
            # duplicates only of readings Kafka took before the kill but whose PUBACK the broker never got;
            # each is the same reading (sensor_id, measured_at, value) again
            for r in readings:
                assert r["value"] == float(stamps.index(r["measured_at"]))
            print(
                f"{len(readings)} readings on Kafka for {count} published ({len(readings) - count} repeated)"
            )
        finally:
            stop(proc)


def private_mosquitto(workdir: Path, port: int, pki: Any) -> subprocess.Popen[bytes]:
    """A Mosquitto of the test's own: TLS with the test CA, login required, nothing persisted."""
    passwd = workdir / "passwd"
    if not passwd.exists():
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(passwd), "bridge", "s3cret"], check=True, timeout=30
        )
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\ncafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        f"allow_anonymous false\npassword_file {passwd}\npersistence false\n"
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"  # as root: not the "mosquitto" user, locked out
    )
    with (workdir / "mosquitto.log").open("ab") as log:
        proc = subprocess.Popen(
            ["/usr/sbin/mosquitto", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )

    def listening() -> bool:
        assert proc.poll() is None, (workdir / "mosquitto.log").read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    assert wait_for(listening, 30)
    return proc


def tls_client(name: str, port: int, ca: Path, subscribe: str | None = None) -> Mqtt:
    client = Mqtt.__new__(Mqtt)
    client.received, client._lock = [], threading.Lock()
    client.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{SESSION}-{name}")
    client.client.on_message = client._on_message
    client.client.tls_set(ca_certs=str(ca))
    client.client.username_pw_set("bridge", "s3cret")
    client.client.connect("127.0.0.1", port)
    client.client.loop_start()
    if subscribe is not None:
        client.client.subscribe(subscribe, qos=1)
    return client


@pytest.mark.sysdeps("openssl", "mosquitto_passwd")
def test_tls_login_and_a_broker_outage(
    kafka: KafkaEnv, prefix: str, tmp_path: Path, clients: list[Mqtt]
) -> None:
    from streams.dev.broker import free_port

    from ..tls_support import make_pki

    pki = make_pki(tmp_path / "pki")
    port = free_port()
    broker = private_mosquitto(tmp_path, port, pki)
    cfg = config(tmp_path / "cameras.yaml", prefix)
    data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    data["mqtt"].update(url=f"mqtt://127.0.0.1:{port}", tls=True, ca_file=str(pki.ca))
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**env_for(kafka), "CITYWATCH_MQTT_USERNAME": "bridge"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # a wrong password: the broker refuses, /healthz says so, the bridge keeps trying
        wrong = spawn(tmp_path, {**env, "CITYWATCH_MQTT_PASSWORD": "wrong"}, tmp_path / "wrong.log",
                      "mqtt", "--config", str(cfg), "--health-port", "0", "--group", "wrong")  # fmt: skip
        procs.append(wrong)
        wrong_port = health_port(tmp_path / "wrong.log", wrong)

        def refused() -> bool:
            status, body = healthz(wrong_port)
            return (
                status == 503
                and "mqtt" in body["degraded"]
                and "refused" in str(body["mqtt"]["last_error"])
                and "CITYWATCH_MQTT_PASSWORD" in str(body["mqtt"]["last_error"])
            )

        assert wait_for(refused, 60), healthz(wrong_port)
        stop(wrong)

        log = tmp_path / "mqtt.log"
        proc = spawn(tmp_path, {**env, "CITYWATCH_MQTT_PASSWORD": "s3cret"}, log,
                     "mqtt", "--config", str(cfg), "--health-port", "0")  # fmt: skip
        procs.append(proc)
        hport = health_port(log, proc)
        assert wait_for(lambda: healthz(hport)[0] == 200, 60), (healthz(hport), log.read_text()[-3000:])
        pub = tls_client("tls-pub", port, pki.ca)
        clients.append(pub)
        with Collector(kafka.bootstrap, [kafka.topics.sensor_readings]) as seen:
            pub.publish(f"{prefix}/raw/noise-xh-01", b"58")
            assert wait_for(lambda: len(seen.values(kafka.topics.sensor_readings)) == 1, 60), log.read_text()[
                -3000:
            ]

        broker.terminate()
        broker.wait(30)
        assert wait_for(lambda: "mqtt" in healthz(hport)[1]["degraded"], 60)
        assert metric(hport, "citywatch_mqtt_connected") == 0
        produce(kafka.bootstrap, kafka.topics.alerts, [("inc-7", alert(7, 1).to_dict())])  # while it is down

        broker = private_mosquitto(tmp_path, port, pki)  # a fresh broker: the session and retained are gone
        assert wait_for(lambda: healthz(hport)[0] == 200, 90), (healthz(hport), log.read_text()[-3000:])
        assert metric(hport, "citywatch_mqtt_reconnects_total") >= 1
        late = tls_client("tls-late", port, pki.ca, subscribe=f"{prefix}/out/alerts/+")
        clients.append(late)
        assert wait_for(lambda: len(late.messages()) >= 1, 60), log.read_text()[-3000:]
        assert json.loads(late.messages()[-1].payload)["incident_id"] == "inc-7"
    finally:
        for p in procs:
            stop(p)
        broker.terminate()
        broker.wait(30)
