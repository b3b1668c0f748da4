"""Sub-commands of the ``citywatch`` CLI."""

from __future__ import annotations

import argparse
import importlib

from streams.contract.topics import bootstrap


def add_module_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], table: dict[str, tuple[str, str]], attr: str
) -> None:
    """One sub-parser per ``name -> (module, help)``: the module's ``add_arguments`` fills it
    and ``args.<attr>`` is the module (whose ``run`` runs it)."""
    for name, (module_name, help_text) in table.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        p.set_defaults(**{attr: module})


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


def add_health_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--health-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /healthz and /metrics on PORT (0: a free port, logged; default: no server)",
    )
    parser.add_argument(
        "--health-bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address of the health server (default 127.0.0.1; 0.0.0.0 for a remote Prometheus)",
    )
