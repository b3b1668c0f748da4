"""Topic names of the public contract (v1), with the deployment's prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PREFIX = "citywatch."
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_PARTITIONS = 4

# suffix -> what the key is (documentation, and the dead-letter "source" key)
SUFFIXES: dict[str, str] = {
    "frames": "camera_id",
    "detections": "camera_id",
    "camera-status": "camera_id",
    "sensor-readings": "sensor_id",
    "violations": "camera_id",
    "alerts": "incident_id",
    "broadcast-requests": "speaker_id",
    "loudspeaker": "speaker_id",
    "loudspeaker-acks": "speaker_id",
    "dispatch": "unit_id",
    "dispatch-updates": "case_id",
    "deadletter": "source topic",
    # extensions of v1 (new topics; nothing existing changes)
    "broadcast-decisions": "speaker_id",
    "camera-commands": "camera_id",
}

# Internal topics of the worker: co-partitioned re-keyings, not for other apps.
INTERNAL_SUFFIXES: dict[str, str] = {
    "internal.incident-inputs": "camera_id",
    "internal.speaker-intents": "speaker_id",
    "internal.case-index": "case_id",
    "internal.sensor-ticks": "sensor_id",
    "internal.camera-ticks": "camera_id",
}


def prefix() -> str:
    return os.environ.get("CITYWATCH_TOPIC_PREFIX", DEFAULT_PREFIX)


def bootstrap() -> str:
    return os.environ.get("CITYWATCH_KAFKA", DEFAULT_BOOTSTRAP)


@dataclass(frozen=True)
class Topics:
    """Full topic names for one prefix; ``Topics.current()`` reads the environment."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def current(cls) -> Topics:
        return cls(prefix())

    def name(self, suffix: str) -> str:
        if suffix not in SUFFIXES and suffix not in INTERNAL_SUFFIXES:
            raise KeyError(f"unknown topic {suffix!r}; known: {', '.join(SUFFIXES)}")
        return self.prefix + suffix

    def resolve(self, name: str) -> str:
        """Accept a full name or a bare suffix (``alerts``) and return the full name."""
        return self.prefix + name if name in SUFFIXES else name

    def all(self) -> list[str]:
        """Every topic citywatch uses: the public contract and the worker's internal ones."""
        return [self.prefix + s for s in (*SUFFIXES, *INTERNAL_SUFFIXES)]

    @property
    def frames(self) -> str:
        return self.prefix + "frames"

    @property
    def detections(self) -> str:
        return self.prefix + "detections"

    @property
    def camera_status(self) -> str:
        return self.prefix + "camera-status"

    @property
    def sensor_readings(self) -> str:
        return self.prefix + "sensor-readings"

    @property
    def violations(self) -> str:
        return self.prefix + "violations"

    @property
    def alerts(self) -> str:
        return self.prefix + "alerts"

    @property
    def broadcast_requests(self) -> str:
        return self.prefix + "broadcast-requests"

    @property
    def loudspeaker(self) -> str:
        return self.prefix + "loudspeaker"

    @property
    def loudspeaker_acks(self) -> str:
        return self.prefix + "loudspeaker-acks"

    @property
    def dispatch(self) -> str:
        return self.prefix + "dispatch"

    @property
    def dispatch_updates(self) -> str:
        return self.prefix + "dispatch-updates"

    @property
    def deadletter(self) -> str:
        return self.prefix + "deadletter"

    @property
    def broadcast_decisions(self) -> str:
        return self.prefix + "broadcast-decisions"

    @property
    def camera_commands(self) -> str:
        return self.prefix + "camera-commands"

    @property
    def incident_inputs(self) -> str:
        return self.prefix + "internal.incident-inputs"

    @property
    def speaker_intents(self) -> str:
        return self.prefix + "internal.speaker-intents"

    @property
    def case_index(self) -> str:
        return self.prefix + "internal.case-index"

    @property
    def sensor_ticks(self) -> str:
        return self.prefix + "internal.sensor-ticks"

    @property
    def camera_ticks(self) -> str:
        return self.prefix + "internal.camera-ticks"
