"""Shared fixtures: one embedded broker per test session, fresh topics per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics
from streams.topics import Topics

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO / "cameras.yaml"
MEDIA = REPO.parent / "shared" / "media"

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / "var" / "ultralytics"))


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The embedded broker, started once per test session on a free port."""
    with EmbeddedBroker(port=free_port()) as b:
        yield b


@dataclass(frozen=True)
class KafkaEnv:
    bootstrap: str
    topics: Topics

    def env(self) -> dict[str, str]:
        """Environment for a citywatch subprocess talking to these topics."""
        return {
            **os.environ,
            "CITYWATCH_KAFKA": self.bootstrap,
            "CITYWATCH_TOPIC_PREFIX": self.topics.prefix,
        }


@pytest.fixture
def kafka(broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch) -> KafkaEnv:
    """Every contract topic under a prefix of its own, so tests never see each other's records."""
    topics = Topics(f"t{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(broker.bootstrap, topics.all(), partitions=4)
    monkeypatch.setenv("CITYWATCH_KAFKA", broker.bootstrap)
    monkeypatch.setenv("CITYWATCH_TOPIC_PREFIX", topics.prefix)
    return KafkaEnv(broker.bootstrap, topics)


@pytest.fixture
def sample_config_text() -> str:
    return SAMPLE_CONFIG.read_text(encoding="utf-8")
