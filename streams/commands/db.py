"""The case record's database: `citywatch db upgrade` migrates it to the latest schema
(`citywatch store` does so on start too); `citywatch db current` prints its revision."""

from __future__ import annotations

import argparse

from streams.commands import add_config_argument
from streams.commands.store import add_db_argument, db_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("upgrade", "current"), help="upgrade: migrate; current: print the revision"
    )
    add_config_argument(parser)
    add_db_argument(parser)


def run(args: argparse.Namespace) -> int:
    from streams.store.database import current, open_engine, shown, upgrade

    url = db_url(args)
    engine = open_engine(url)
    try:
        revision = upgrade(engine) if args.action == "upgrade" else current(engine)
    finally:
        engine.dispose()
    print(f"{shown(url)}: at revision {revision or 'none (run `citywatch db upgrade`)'}", flush=True)
    return 0
