"""Topics as code: ``plan`` prints every topic the deployment needs (contract, internal,
the worker tables' changelogs) with its partitions, replication, min.insync.replicas,
cleanup policy, retention and why; ``apply`` creates the missing ones and verifies the
existing ones (partition count and cleanup policy differences are errors: exit 1).
The partition count is ``kafka.partitions`` of the configuration."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from streams.commands import add_config_argument, add_kafka_argument, kafka_address

if TYPE_CHECKING:
    from streams.contract.topic_policy import TopicSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("plan", "apply"), help="plan: print the table; apply: create, verify"
    )
    add_config_argument(parser)
    add_kafka_argument(parser)
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        metavar="N",
        help="copies of each partition (default 1; 3 on a three-broker cluster)",
    )
    parser.add_argument("--dry-run", action="store_true", help="apply: verify and say what would be created")


def run(args: argparse.Namespace) -> int:
    from streams import kafka_security
    from streams.config import load_config
    from streams.contract.errors import CitywatchError
    from streams.contract.topic_policy import plan, table
    from streams.contract.topics import Topics

    if args.replication_factor < 1:
        raise CitywatchError(f"--replication-factor {args.replication_factor}: give 1 or more")
    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    specs = plan(Topics.current(), cfg.kafka.partitions, args.replication_factor)
    if args.action == "plan":
        print(table(specs))
        return 0
    return _apply(kafka_address(args), specs, dry_run=args.dry_run)


def _apply(bootstrap: str, specs: list[TopicSpec], *, dry_run: bool) -> int:
    from streams.provision import apply

    outcome = apply(bootstrap, specs, dry_run=dry_run)
    verb = "would create" if dry_run else "created"
    for name in outcome.created:
        print(f"{verb} {name}")
    for note in outcome.notes:
        print(f"note: {note}")
    for error in outcome.errors:
        print(f"DIFFERS: {error}")
    existing = len(specs) - len(outcome.created)
    print(
        f"{len(specs)} topics: {len(outcome.created)} {verb}, {existing} existing, "
        f"{len(outcome.errors)} difference(s)"
    )
    return 1 if outcome.errors else 0
