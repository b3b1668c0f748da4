"""Run citywatch end to end on the embedded broker (grows with each role)."""

from __future__ import annotations

import argparse
import json
import time

from streams.broker import EmbeddedBroker, free_port
from streams.commands import add_config_argument
from streams.config import load_config
from streams.kafka_io import ensure_topics, producer, read_topic
from streams.records import CameraStatus
from streams.timeutil import to_iso
from streams.topics import Topics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--duration", type=float, default=120, help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    topics = Topics.current()
    with EmbeddedBroker(port=free_port()) as broker:
        ensure_topics(broker.bootstrap, partitions=cfg.kafka.partitions)
        print(f"embedded broker at {broker.bootstrap}; {len(cfg.cameras)} cameras configured")
        prod = producer(broker.bootstrap)
        for cam in cfg.cameras:
            status = CameraStatus(
                camera_id=cam.id, status="online", fps=0.0, last_frame_at=None, reason="demo start"
            )
            prod.send(topics.camera_status, key=cam.id.encode(), value=status.to_bytes())
        prod.flush()
        prod.close()
        start = time.monotonic()
        for msg in read_topic(
            broker.bootstrap,
            topics.camera_status,
            from_beginning=True,
            max_records=len(cfg.cameras),
            timeout_s=5,
        ):
            print(
                f"{to_iso(time.time())}  {msg.key}: {json.dumps(msg.to_json()['value'], ensure_ascii=False)}"
            )
            if time.monotonic() - start > args.duration:
                break
    print("demo finished")
    return 0
