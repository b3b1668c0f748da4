"""Sensor readings, camera statuses and ingest tokens for the feeds tests."""

from __future__ import annotations

import time
from typing import Any

from streams.contract.timeutil import to_iso


def sensor_reading(sensor_id: str, kind: str, value: float, unit: str, t: float) -> dict[str, Any]:
    return {
        "v": 1,
        "sensor_id": sensor_id,
        "kind": kind,
        "value": value,
        "unit": unit,
        "measured_at": to_iso(t),
    }


def camera_status(camera_id: str, status: str, fps: float, t: float, reason: str = "") -> dict[str, Any]:
    return {
        "v": 1,
        "camera_id": camera_id,
        "status": status,
        "fps": fps,
        "last_frame_at": to_iso(t),
        "reason": reason,
        "at": to_iso(t),
    }


INGEST_TOKEN = "ingest-token-0123456789"  # noqa: S105 - test tokens
VIEWER_TOKEN = "viewer-token-0123456789"  # noqa: S105
TOKENS = f"{INGEST_TOKEN}=ingest@gateway,{VIEWER_TOKEN}=viewer"


def now() -> float:
    return time.time()
