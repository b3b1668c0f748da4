"""The city's case system (数字城管, GB/T 30428): consumes citywatch.dispatch and
citywatch.alerts (consumer group <prefix>casesync) and pushes each dispatched case, then its
处置 / 核查 / 结案 stages, to ``case_system.url`` of the configuration, each with an
``Idempotency-Key: <case_id>:<revision>`` header. A case is retried with backoff until it is
accepted (2xx, or 409: accepted before); only then is its offset committed. A case the system
refuses for good (another 4xx) goes to citywatch.deadletter with the reason."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

from detectors.commands import stop_on_signals
from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.casesync.role import CaseSync, SyncOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--group", default=None, metavar="ID", help="consumer group (default: <topic prefix>casesync)"
    )
    add_health_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.casesync.client import CaseClient, CaseSyncError
    from streams.casesync.role import CaseSync, SyncOptions
    from streams.config import load_config
    from streams.contract.topics import Topics

    cfg = load_config(args.config)
    if cfg.case_system is None:
        raise CaseSyncError(
            "the configuration has no case_system: section: add one with the case system's url "
            "(README: City case system)"
        )
    kafka_security.use(cfg.kafka)
    options = SyncOptions(bootstrap=kafka_address(args), topics=Topics.current(), group_id=args.group or "")
    client = CaseClient(cfg.case_system)
    sync = CaseSync(client, options)
    stop = threading.Event()  # SIGTERM / SIGINT: a push in hand stops waiting; its record is not committed
    server = _health(args, sync, options)
    try:
        with stop_on_signals(stop):
            sync.run(stop, duration_s=args.duration)
    finally:
        if server is not None:
            server.close()
        client.close()
    print(f"casesync: {sync.summary()}", flush=True)
    return 0


def _health(args: argparse.Namespace, sync: CaseSync, options: SyncOptions) -> Any:
    """The health server of --health-port (None without it); the push loop is its activity."""
    if args.health_port is None:
        return None
    from streams import role_metrics
    from streams.role_health import RoleHealth, serve

    health = RoleHealth("casesync", options.bootstrap, [options.topics.dispatch, options.topics.alerts])
    sync.on_round = health.round
    return serve(args, health, [role_metrics.casesync(sync.stats)])
