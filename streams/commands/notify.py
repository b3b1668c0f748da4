"""Group-chat notifications: consumes alerts and dispatch (consumer group <prefix>notify) and
tells the WeCom (企业微信), DingTalk (钉钉) or webhook robots of cameras.yaml's ``notify:`` section
of dispatched, overdue, escalated and reopened cases and offline cameras, in Chinese, at most
``per_minute`` messages a robot (past it, one digest). Each event is sent once: a SQLite outbox
(notify.state_file) holds it from the read to the send, across restarts and redeliveries."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from detectors.commands import stop_on_signals
from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--state", default=None, metavar="PATH", help="the outbox's SQLite file (default: notify.state_file)"
    )
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--group", default=None, metavar="ID", help="consumer group (default: <topic prefix>notify)"
    )
    add_health_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.config import load_config
    from streams.contract.topics import Topics
    from streams.notify.outbox import Outbox
    from streams.notify.role import Notifier, NotifyOptions

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    if not cfg.notify.robots:
        print("notify: no robots under notify: in the configuration; nothing to do", flush=True)
        return 0
    options = NotifyOptions(bootstrap=kafka_address(args), topics=Topics.current(), group_id=args.group or "")
    outbox = Outbox(args.state or cfg.notify.state_file)
    notifier = Notifier(cfg, options, outbox)
    stop = threading.Event()  # SIGTERM / SIGINT: the round in hand is finished first
    server = _health(args, notifier, options)
    try:
        with stop_on_signals(stop):
            notifier.run(stop, duration_s=args.duration)
    finally:
        if server is not None:
            server.close()
        outbox.close()
    print(f"notify: {notifier.summary()}", flush=True)
    return 0


def _health(args: argparse.Namespace, notifier: Any, options: Any) -> Any:
    if args.health_port is None:
        return None
    from streams import role_metrics
    from streams.role_health import RoleHealth, serve

    health = RoleHealth("notify", options.bootstrap, [options.topics.alerts, options.topics.dispatch])
    notifier.on_round = health.round
    health.checks.append(notifier.degraded)
    collect = role_metrics.notify(notifier.stats, notifier.by_robot, list(notifier.robots))
    return serve(args, health, [collect])
