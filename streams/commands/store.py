"""The case record: consumes alerts, dispatch, dispatch-updates, loudspeaker,
loudspeaker-acks, broadcast-decisions and camera-commands (consumer group <prefix>store) and keeps their whole
history in a relational database (SQLite, PostgreSQL or MySQL/MariaDB), migrated to the latest
schema on start. Writes are idempotent and offsets are committed after the database commits:
a restart or a replay changes nothing already stored. Malformed records go to deadletter."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument, add_health_arguments, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.store.role import Store, StoreOptions

if TYPE_CHECKING:
    from streams.config import Config


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="database URL (default: $CITYWATCH_DB, else store.url in the configuration, "
        "else sqlite:///var/citywatch.db)",
    )


def db_url(args: argparse.Namespace) -> str:
    """``--db``, ``CITYWATCH_DB``, or the configuration's (read only when needed)."""
    import os

    from streams.store.database import database_url

    if args.db or os.environ.get("CITYWATCH_DB"):
        return database_url(args.db, None)
    from streams.config import load_config

    return database_url(None, load_config(args.config).store.url)


def optional_config(args: argparse.Namespace) -> Config | None:
    """The configuration; None where there is no configuration file and none was asked for."""
    import os

    from streams.config import load_config
    from streams.config.load import resolve_path

    if not (args.config or os.environ.get("CITYWATCH_CONFIG")) and not resolve_path(None).is_file():
        return None
    return load_config(args.config)


def retention_days(args: argparse.Namespace) -> float | None:
    """``store.retention_days`` of the configuration; None (keep everything) without one."""
    cfg = optional_config(args)
    return None if cfg is None else cfg.store.retention_days


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    add_db_argument(parser)
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    parser.add_argument(
        "--group", default=None, metavar="ID", help="consumer group (default: <topic prefix>store)"
    )
    add_health_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.contract.topics import Topics
    from streams.store.database import open_engine, upgrade
    from streams.store.role import Store, StoreOptions, freeze_startup

    cfg = optional_config(args)
    kafka_security.use(None if cfg is None else cfg.kafka)
    engine = open_engine(db_url(args))
    upgrade(engine)
    options = StoreOptions(
        bootstrap=kafka_address(args),
        topics=Topics.current(),
        group_id=args.group or "",
        retention_days=retention_days(args),
    )
    store = Store(engine, options)
    freeze_startup()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # the batch in hand is finished and committed first

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = _health(args, store, options)
    try:
        stats = store.run(stop, duration_s=args.duration)
    finally:
        if server is not None:
            server.close()
        engine.dispose()
    print(f"store: {stats.summary()}", flush=True)
    return 0


def _health(args: argparse.Namespace, store: Store, options: StoreOptions) -> Any:
    """The health server of --health-port (None without it); the store's loop is its activity."""
    if args.health_port is None:
        return None
    from streams import role_metrics
    from streams.role_health import RoleHealth, serve

    health = RoleHealth("store", options.bootstrap, [options.topics.alerts])
    store.on_round = health.round
    return serve(args, health, [role_metrics.store(store.stats)])
