"""Sub-commands of the ``citywatch`` CLI."""

from __future__ import annotations

import argparse

from streams.topics import bootstrap


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help="configuration file (default: $CITYWATCH_CONFIG, else ./cameras.yaml)",
    )


def add_kafka_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        default=None,
        help=f"Kafka bootstrap address (default: $CITYWATCH_KAFKA, else {bootstrap()})",
    )


def kafka_address(args: argparse.Namespace) -> str:
    return str(getattr(args, "kafka", None) or bootstrap())
