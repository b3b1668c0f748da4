"""`citywatch speaker` on the embedded broker: commands in, WAV files and acks out."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from streams.config import load_config
from streams.contract.records import DeadLetter, LoudspeakerAck, decode
from streams.contract.timeutil import from_iso, now
from streams.kafka_io import Message, read_topic
from streams.speaker.gateway import Gateway, GatewayOptions

from ..conftest import KafkaEnv
from ..speaker_support import EN, ZH, assert_speech_wav, command

pytestmark = [pytest.mark.integration, pytest.mark.sysdeps("espeak-ng")]


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "cameras.yaml"
    path.write_text(
        f"""
version: 1
site: {{name: test district}}
categories:
  out_of_store_business: {{code: "200504", name: 店外经营, labels: [chair]}}
speakers:
  - id: spk-a
    driver: {{type: file, dir: "{tmp_path / "spk-a"}"}}
  - id: spk-b
    chime: false
    driver: {{type: file, dir: "{tmp_path / "spk-b"}"}}
""",
        encoding="utf-8",
    )
    return path


def produce(kafka: KafkaEnv, items: list[tuple[str, bytes]]) -> None:
    p = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for key, value in items:
        p.send(kafka.topics.loudspeaker, key=key.encode(), value=value)
    p.flush()
    p.close()


def collect(kafka: KafkaEnv, topic: str, n: int, timeout_s: float = 40) -> list[Message]:
    return list(read_topic(kafka.bootstrap, topic, from_beginning=True, max_records=n, timeout_s=timeout_s))


def test_gateway_plays_acks_and_dead_letters(kafka: KafkaEnv, tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    t = now()
    malformed = b'{"v": 1, "command_id": "broken", "speaker_id": "spk-a"}'
    produce(
        kafka,
        [
            ("spk-a", command("c-zh", "spk-a", text=ZH, lang="zh", now=t).to_bytes()),
            ("spk-a", malformed),
            ("spk-a", command("c-en", "spk-a", text=EN, lang="en", now=t).to_bytes()),
            ("spk-a", command("c-old", "spk-a", now=t - 600, ttl_s=60).to_bytes()),
            ("spk-a", command("c-zh", "spk-a", text=ZH, lang="zh", now=t).to_bytes()),  # redelivered
            ("spk-b", command("c-b1", "spk-b", text=ZH, now=t).to_bytes()),
            ("spk-zz", command("c-zz", "spk-zz", now=t).to_bytes()),
        ],
    )
    group = f"speaker-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "speaker",
            "--config",
            str(cfg),
            "--group",
            group,
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kafka.env(),
    )
    try:
        acks_msgs = collect(kafka, kafka.topics.loudspeaker_acks, 5)
        dead = collect(kafka, kafka.topics.deadletter, 1)
        proc.send_signal(signal.SIGTERM)  # drains, commits and stops
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "played=3 failed=1 expired=1 deadletter=1 skipped=1" in out, out + err

    acks = {decode(LoudspeakerAck, m.value or b"").command_id: m for m in acks_msgs}
    assert set(acks) == {"c-zh", "c-en", "c-old", "c-b1", "c-zz"}
    for cid, msg in acks.items():
        assert msg.value is not None
        ack = decode(LoudspeakerAck, msg.value)
        assert msg.key == ack.speaker_id
        assert ack.incident_id == f"inc-{cid}"
        assert ack.started_at and ack.finished_at
        assert t - 1 <= from_iso(ack.started_at) <= from_iso(ack.finished_at) <= now()
    status = {cid: decode(LoudspeakerAck, m.value or b"").status for cid, m in acks.items()}
    assert status == {
        "c-zh": "played",
        "c-en": "played",
        "c-old": "expired",
        "c-b1": "played",
        "c-zz": "failed",
    }
    # one speaker's acks come in command order (same key, same partition)
    spk_a = [decode(LoudspeakerAck, m.value or b"").command_id for m in acks_msgs if m.key == "spk-a"]
    assert spk_a == ["c-zh", "c-en", "c-old"]
    zz = decode(LoudspeakerAck, acks["c-zz"].value or b"")
    assert "not defined under speakers:" in zz.reason

    played = decode(LoudspeakerAck, acks["c-zh"].value or b"")
    assert played.model_extra is not None
    wav_zh = Path(played.model_extra["output"])
    assert wav_zh.parent == tmp_path / "spk-a"
    wav_en = Path(decode(LoudspeakerAck, acks["c-en"].value or b"").model_extra["output"])  # type: ignore[index]
    assert sorted((tmp_path / "spk-a").glob("*.wav")) == sorted([wav_zh, wav_en])  # played once each
    assert assert_speech_wav(wav_zh, min_s=2.0) > 1.0
    assert_speech_wav(wav_en, min_s=2.0)
    [wav_b] = (tmp_path / "spk-b").glob("*.wav")
    assert_speech_wav(wav_b, min_s=2.0)

    [dl_msg] = dead
    assert dl_msg.key == kafka.topics.loudspeaker
    dl = decode(DeadLetter, dl_msg.value or b"")
    assert dl.topic == kafka.topics.loudspeaker
    assert "LoudspeakerCommand: field 'camera_id': Field required" in dl.error
    assert base64.b64decode(dl.raw) == malformed
    assert dl.offset >= 0

    # everything was committed after its ack: the group has nothing left to redeliver
    assert committed_total(kafka, group) == 7


def committed_total(kafka: KafkaEnv, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        committed = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return sum(o.offset for o in committed.values())


def test_gateway_in_process_stops_on_its_event_and_acks_what_it_took(kafka: KafkaEnv, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    group = f"speaker-{uuid.uuid4().hex[:6]}"
    options = GatewayOptions(
        bootstrap=kafka.bootstrap,
        topics=kafka.topics,
        group_id=group,
        speakers=frozenset({"spk-b"}),
    )
    gateway = Gateway(cfg, options)
    stop = threading.Event()
    runner = threading.Thread(target=gateway.run, args=(stop,), kwargs={"duration_s": 60})
    runner.start()
    try:
        time.sleep(1.0)  # produced after the gateway started: it must still see them
        t = now()
        produce(
            kafka,
            [
                ("spk-a", command("x-a", "spk-a", now=t).to_bytes()),  # another gateway's speaker
                ("spk-b", command("x-b1", "spk-b", text=EN, lang="en", now=t).to_bytes()),
                ("spk-b", command("x-b2", "spk-b", now=t, ttl_s=-1).to_bytes()),
            ],
        )
        acks = [
            decode(LoudspeakerAck, m.value or b"") for m in collect(kafka, kafka.topics.loudspeaker_acks, 2)
        ]
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert [(a.command_id, a.status) for a in acks] == [("x-b1", "played"), ("x-b2", "expired")]
    assert gateway.stats.skipped == 1
    assert not (tmp_path / "spk-a").exists()
    [wav] = (tmp_path / "spk-b").glob("*.wav")
    assert_speech_wav(wav)
    # the skipped command is committed too: this group will not see it again
    assert committed_total(kafka, group) == 3
