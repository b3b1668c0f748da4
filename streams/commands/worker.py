"""Run the Faust worker: rules, incidents, broadcast policy, escalation and the
closed loop, with the web server (unless --no-web). Start more workers with the
same configuration to share the partitions.

/healthz (on the web port) says "degraded" (503) while Kafka does not answer; the
worker reconnects by itself, and when the broker comes back without its topics it
recreates them and says what state was lost (streams/worker/resilience.py). Started with an
empty incident table (or after such a loss), it re-seeds the open incidents and cases of the
case record (--db) into its tables (streams/worker/restore.py)."""

from __future__ import annotations

import argparse
import logging

from streams.commands import add_config_argument, add_kafka_argument, kafka_address
from streams.commands.store import add_db_argument, db_url

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument("--web-port", type=int, default=6066, help="web server port (default 6066)")
    parser.add_argument("--no-web", action="store_true", help="do not serve the web pages and API")
    parser.add_argument("--datadir", default="var/faust", help="Faust data directory (default var/faust)")
    add_db_argument(parser)
    parser.add_argument(
        "--no-restore",
        action="store_true",
        help="do not re-seed open incidents from the case record when the incident table is empty",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import faust

    from streams import kafka_security
    from streams.config import load_config, resolve_path
    from streams.contract.topic_policy import plan
    from streams.contract.topics import Topics
    from streams.kafka_io import ensure_topics
    from streams.provision import refuse_mismatched_partitions
    from streams.worker import create_worker, resilience, restore

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    bootstrap = kafka_address(args)
    refuse_mismatched_partitions(
        bootstrap, plan(Topics.current(), cfg.kafka.partitions), cfg.kafka.partitions
    )
    ensure_topics(bootstrap, partitions=cfg.kafka.partitions)
    Path(args.datadir).mkdir(parents=True, exist_ok=True)  # a fresh checkout or service has no var/
    worker = create_worker(
        cfg,
        bootstrap=bootstrap,
        web_port=None if args.no_web else args.web_port,
        datadir=args.datadir,
        db=args.db,
        config_path=resolve_path(args.config),
    )
    watch = resilience.install(worker, bootstrap)
    if not args.no_restore:
        restore.install(worker, db_url(args), watch)
    level = logging.getLevelName(logging.getLogger().level).lower()
    faust_level = {"warning": "warn", "critical": "crit"}.get(level, level)
    runner = faust.Worker(worker.app, loglevel=faust_level, quiet=True, redirect_stdouts=False)
    logger.info("worker starting on %s (%d partitions)", bootstrap, cfg.kafka.partitions)
    try:
        runner.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
