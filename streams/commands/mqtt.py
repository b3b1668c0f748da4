"""The MQTT bridge: sensor readings from the MQTT topics of mqtt.inputs onto sensor-readings
(checked as HTTP ingest checks them; refused ones to deadletter with the MQTT topic), and
alerts and dispatched cases from Kafka (consumer group <prefix>mqtt) onto
<out_prefix>/alerts/<camera_id> and <out_prefix>/cases/<unit_id> (retained: the latest) and
their .../events topics (every record). QoS 1 both ways, a persistent session; an MQTT message
is acknowledged after Kafka took it, Kafka offsets are committed after the broker took the batch."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.mqtt.bridge import Bridge, BridgeOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        default=None,
        help="MQTT broker, mqtt://HOST:1883 or mqtts://HOST:8883 (default: $CITYWATCH_MQTT, else mqtt.url "
        "in the configuration, else mqtt://127.0.0.1:1883)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--group", default=None, metavar="ID", help="consumer group (default: <topic prefix>mqtt)"
    )
    add_health_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.config import load_config
    from streams.contract.topics import Topics
    from streams.mqtt.bridge import Bridge, BridgeOptions
    from streams.mqtt.connection import settings

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    options = BridgeOptions(
        bootstrap=kafka_address(args),
        topics=Topics.current(),
        mqtt=settings(cfg.mqtt, url=args.mqtt),
        client_id=cfg.mqtt.client_id,
        inputs=cfg.mqtt.inputs,
        sensors={s.id: s for s in cfg.sensors},
        out_prefix=cfg.mqtt.out_prefix,
        alerts=cfg.mqtt.publish_alerts,
        cases=cfg.mqtt.publish_cases,
        group_id=args.group or "",
        max_skew_s=cfg.site.max_clock_skew_s,
    )
    bridge = Bridge(options)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # the round in hand finishes; nothing unacknowledged is committed

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = _health(args, bridge, options)
    try:
        stats = bridge.run(stop, duration_s=args.duration)
    finally:
        if server is not None:
            server.close()
    print(f"mqtt bridge: {stats.summary()}", flush=True)
    return 0


def _health(args: argparse.Namespace, bridge: Bridge, options: BridgeOptions) -> Any:
    """The health server of --health-port (None without it): degraded while the MQTT broker or
    Kafka is unreachable, or the loop is stuck."""
    if args.health_port is None:
        return None
    from streams import role_metrics
    from streams.role_health import RoleHealth, serve

    topics = options.topics
    health = RoleHealth(
        "mqtt",
        options.bootstrap,
        [topics.sensor_readings, topics.deadletter, *options.consumed()],
        links={"mqtt": bridge.link.report},
    )
    bridge.on_round = health.round
    return serve(args, health, [role_metrics.mqtt(bridge.stats, lambda: bridge.link.connected)])
