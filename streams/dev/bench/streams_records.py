"""The streams benchmark's inputs: a generated configuration of M + L cameras and their
detection records (also the tests' synthetic detections)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.config import Config

STEP_S = 0.5  # frame spacing of every generated camera (2 fps, the default detect_fps)
CYCLE = 60  # frames per presence cycle of a throughput camera (30 s) ...
PRESENT = 10  # ... of which the first 10 (5 s) see goods in the zone
DWELL_S = 2.0
PRELUDE = 4  # latency cameras: frames at 0, 0.5, 1.0, 1.5 s; the frame at 2.0 s completes the dwell
PARTITIONS = 4


def bench_config(cameras: int, latency_cameras: int) -> Config:
    """M throughput cameras and L latency cameras, each with a shop-front zone and its own speaker."""
    from streams.config import parse_config

    ids = [f"cam-{i:04d}" for i in range(cameras)] + [f"lat-{i:04d}" for i in range(latency_cameras)]
    lines = [
        "version: 1",
        "site: {name: bench district, timezone: Asia/Shanghai}",
        f"kafka: {{partitions: {PARTITIONS}}}",
        "categories:",
        "  out_of_store_business:",
        '    code: "200504"',
        "    name: 店外经营",
        "    labels: [bench, chair]",
        f"    dwell_s: {DWELL_S}",
        "    inertia: 2",
        "    gap_s: 1.5",
        "    clear_s: 2",
        "    grace_s: 3600",  # no deadline fires during the run: every transition comes from a record
        "    verify_s: 3",
        "    sla_s: 7200",
        "units:",
        "  - {id: unit-1}",
        "grids:",
        "  - {id: grid-1, unit: unit-1}",
        "speakers:",
        *(f"  - {{id: spk-{cid}, min_interval_s: 0, max_per_hour: 10000}}" for cid in ids),
        "cameras:",
    ]
    for cid in ids:
        lines += [
            f"  - id: {cid}",
            "    source: unused.mp4",
            f"    location: {{address: bench street {cid}, shop: shop {cid}}}",
            "    grid: grid-1",
            f"    speaker: spk-{cid}",
            "    zones:",
            "      - {id: storefront, polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], "
            "categories: [out_of_store_business]}",
        ]
    return parse_config("\n".join(lines) + "\n", "bench-streams.yaml")


def detection_record(camera_id: str, seq: int, t: float, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A detection record of a 1280x720 frame captured at ``t`` (the tests' synthetic detections too)."""
    from streams.contract.timeutil import to_iso

    return {
        "v": 1,
        "camera_id": camera_id,
        "seq": seq,
        "captured_at": to_iso(t),
        "detected_at": to_iso(t + 0.05),
        "frame_size": [1280, 720],
        "model": "yolo11n",
        "objects": objects,
        "snapshot": None,
    }


def detection(camera_id: str, seq: int, t: float, goods: bool) -> bytes:

    objects: list[dict[str, Any]] = [
        {"track_id": 1, "label": "person", "score": 0.8, "box": [0.4, 0.2, 0.5, 0.6], "zones": []}
    ]
    if goods:
        objects.append(
            {
                "track_id": 2,
                "label": "bench",
                "score": 0.7,
                "box": [0.1, 0.6, 0.3, 0.9],
                "zones": ["storefront"],
            }
        )
    return json.dumps(detection_record(camera_id, seq, t, objects)).encode()


def throughput_records(n: int, cameras: int, t0: float) -> Iterator[tuple[str, bytes]]:
    """N records, round-robin over the cameras, each camera's frames STEP_S apart from ``t0``."""
    for i in range(n):
        cam, frame = i % cameras, i // cameras
        yield (
            f"cam-{cam:04d}",
            detection(f"cam-{cam:04d}", frame, t0 + frame * STEP_S, frame % CYCLE < PRESENT),
        )
