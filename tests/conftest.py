"""Shared fixtures: one embedded broker per test session, fresh topics per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics

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


# -- tests that need system packages (`make sysdeps` installs them) ---------------------------

SYSDEPS_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "stunnel4": "stunnel4",
    "promtool": "prometheus",
    "systemd-analyze": "systemd",
}


def missing_sysdeps(commands: tuple[str, ...]) -> str | None:
    """Why a test marked ``sysdeps(*commands)`` cannot run here, or None if it can."""
    import shutil

    missing = [c for c in commands if shutil.which(c) is None]
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(SYSDEPS_PACKAGES.get(c, c) for c in missing))
    return (
        f"needs system packages not installed here: {', '.join(missing)} "
        f"(`make sysdeps`, or apt-get install {packages})"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a ``sysdeps`` test whose system commands are missing, saying which and how to install
    them; ``CITYWATCH_REQUIRE_SYSDEPS=1`` (``make test``) fails it instead."""
    marker = item.get_closest_marker("sysdeps")
    if marker is None:
        return
    reason = missing_sysdeps(tuple(marker.args))
    if reason is None:
        return
    if os.environ.get("CITYWATCH_REQUIRE_SYSDEPS") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
