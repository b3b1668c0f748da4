"""`citywatch tail` against the embedded broker, fed by a kafka-python producer."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from kafka import KafkaProducer

from ..conftest import KafkaEnv

pytestmark = pytest.mark.integration


def tail(kafka: KafkaEnv, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "tail", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kafka.env(),
    )


def following(proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Wait until tail says it follows its topic: what is produced afterwards, it reads."""
    said: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            said.append(line)
            if line.startswith("tail: following "):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    assert said and said[-1].startswith("tail: following "), "".join(said)


def produce(kafka: KafkaEnv, topic: str, records: list[tuple[str, dict[str, object]]]) -> None:
    p = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for key, value in records:
        p.send(topic, key=key.encode(), value=json.dumps(value).encode())
    p.flush()
    p.close()


def test_tail_from_beginning(kafka: KafkaEnv) -> None:
    recs = [(f"cam-{i}", {"v": 1, "camera_id": f"cam-{i}", "n": i}) for i in range(5)]
    produce(kafka, kafka.topics.detections, recs)
    proc = tail(kafka, "detections", "--from-beginning", "--max", "5", "--timeout", "20")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["value"]["n"] for line in lines) == [0, 1, 2, 3, 4]
    assert all(line["topic"] == kafka.topics.detections for line in lines)
    assert {line["key"] for line in lines} == {f"cam-{i}" for i in range(5)}


def test_tail_follows_new_records_on_empty_topic(kafka: KafkaEnv) -> None:
    # the topic's partitions are all empty when tail starts: it must still see later records
    proc = tail(kafka, kafka.topics.alerts, "--max", "3", "--timeout", "30", "--values")
    following(proc)
    produce(kafka, kafka.topics.alerts, [(f"inc-{i}", {"v": 1, "incident_id": f"inc-{i}"}) for i in range(3)])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sorted(json.loads(line)["incident_id"] for line in out.splitlines()) == ["inc-0", "inc-1", "inc-2"]


def test_tail_skips_old_records_without_from_beginning(kafka: KafkaEnv) -> None:
    produce(kafka, kafka.topics.violations, [("cam-a", {"v": 1, "old": True})])
    time.sleep(0.5)
    proc = tail(kafka, "violations", "--max", "1", "--timeout", "30", "--values")
    following(proc)
    produce(kafka, kafka.topics.violations, [("cam-a", {"v": 1, "old": False})])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [{"v": 1, "old": False}]


def test_tail_unknown_topic_is_a_clear_error(kafka: KafkaEnv) -> None:
    proc = tail(kafka, "no.such.topic", "--timeout", "1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "does not exist" in err
