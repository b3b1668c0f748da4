"""A fast-timing configuration with sensors and camera health, and helpers for feeds tests."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from streams.config import Config, parse_config
from streams.timeutil import to_iso

from .streams_support import start_worker

FEEDS_YAML = """
version: 1
site: {name: test district, timezone: Asia/Shanghai}
kafka: {partitions: 4}
categories:
  out_of_store_business:
    code: "200504"
    name: 店外经营
    labels: [bench, chair]
    dwell_s: 1
    inertia: 1
    gap_s: 1
    clear_s: 2
    grace_s: 120
    verify_s: 3
    sla_s: 600
    warn: false
  air_quality:
    code: "210101"
    name: 空气质量超标
    grace_s: 2
    verify_s: 2
    sla_s: 600
    warn: false
  bin_overflow:
    code: "200103"
    name: 垃圾桶满溢
    grace_s: 0
    verify_s: 2
    sla_s: 600
    warn: false
  sensor_stale:
    code: "900201"
    name: 传感器离线
    grace_s: 120
    sla_s: 600
    warn: false
  camera_offline:
    code: "900101"
    name: 摄像头离线
    grace_s: 120
    sla_s: 600
    warn: false
units:
  - {id: unit-a, level: street}
grids:
  - {id: grid-a, unit: unit-a}
cameras:
  - id: cam-a
    source: unused.mp4
    location: {address: 和平路12号, shop: 老王便利店}
    grid: grid-a
    detect_fps: 2
    zones:
      - {id: storefront, polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories: [out_of_store_business]}
sensors:
  - {id: pm-a, kind: pm25, unit: µg/m³, location: {address: 和平路12号}, grid: grid-a}
  - {id: bin-a, kind: bin_fill, unit: "%", location: {address: 和平路14号}, grid: grid-a, stale_after_s: 4}
sensor_rules:
  - {id: pm25-mean, kind: pm25, category: air_quality, window_s: 900, aggregate: mean, above: 75, clear: 60}
  - {id: bin-full, sensors: [bin-a], category: bin_overflow, window_s: 60, aggregate: last, above: 90,
     inclusive: true, clear: 50}
health:
  blip_s: 2
  degraded_for_s: 3
  status_timeout_s: 120
  sensor_stale_after_s: 600
"""


def feeds_config() -> Config:
    return parse_config(FEEDS_YAML, "feeds-test.yaml")


def write_feeds_config(path: Path) -> Path:
    path.write_text(FEEDS_YAML, encoding="utf-8")
    return path


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


def start_web_worker(
    config: Path, env: dict[str, str], datadir: Path, log: Path, port: int
) -> subprocess.Popen[bytes]:
    """``citywatch worker`` with its web server on ``port``."""
    return start_worker(config, env, datadir, log, web_port=port, tokens=TOKENS)


class Tail:
    """Collects the JSON records of some topics in a background thread (from the beginning)."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=f"feeds-test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=200,
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.poll(timeout_ms=200).values():
                for rec in msg:
                    try:
                        self.records[rec.topic].append(json.loads(rec.value))
                    except (ValueError, TypeError):
                        self.records[rec.topic].append({"raw": rec.value})

    def of(self, topic: str) -> list[dict[str, Any]]:
        return list(self.records[topic])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def now() -> float:
    return time.time()
