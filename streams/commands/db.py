"""The case record's database: `citywatch db upgrade` migrates it to the latest schema
(`citywatch store` does so on start too); `citywatch db current` prints its revision;
`citywatch db backup PATH` copies a SQLite database (online) into PATH and says what the copy
holds, or prints the pg_dump / mysqldump command for a server's database; `citywatch db prune`
applies ``store.retention_days`` now (the store does so hourly)."""

from __future__ import annotations

import argparse

from streams.commands import add_config_argument
from streams.commands.store import add_db_argument, db_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("upgrade", "current", "backup", "prune"),
        help="upgrade: migrate; current: print the revision; backup PATH: copy the database; "
        "prune: delete incidents closed longer than store.retention_days ago, counted in incident_daily",
    )
    parser.add_argument("path", nargs="?", default=None, help="backup: the file to write")
    parser.add_argument("--now", metavar="ISO", default=None, help="prune: as if it were this time (UTC)")
    add_config_argument(parser)
    add_db_argument(parser)


def _backup(url: str, path: str) -> int:
    from pathlib import Path

    from sqlalchemy import make_url

    from streams.store.backup import copy_sqlite, dump_command, sqlite_file
    from streams.store.database import open_engine, row_counts, shown

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        print(f"# {shown(url)}: back it up with the server's own tool:")
        print(dump_command(parsed, path), flush=True)
        return 0
    copy_sqlite(sqlite_file(parsed), Path(path))
    engine = open_engine(f"sqlite:///{path}")
    try:
        counts = row_counts(engine)
    finally:
        engine.dispose()
    print(f"{shown(url)} -> {path}: {sum(counts.values())} rows")
    for name, count in counts.items():
        print(f"  {name}: {count}")
    return 0


def _prune(url: str, args: argparse.Namespace) -> int:
    from streams.commands.store import retention_days
    from streams.contract.timeutil import from_iso, now
    from streams.store.database import open_engine, shown, upgrade
    from streams.store.retention import prune, summary

    days = retention_days(args)
    if days is None:
        print(f"{shown(url)}: store.retention_days is not set, the case record keeps everything")
        return 0
    engine = open_engine(url)
    try:
        upgrade(engine)
        pruned = prune(engine, days, from_iso(args.now) if args.now else now())
    finally:
        engine.dispose()
    print(f"{shown(url)}: pruned what closed over {days:g} days ago: {summary(pruned)}", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    from streams.store.database import current, open_engine, shown, upgrade

    url = db_url(args)
    if args.action == "backup":
        if not args.path:
            print("citywatch db backup PATH: say where the copy goes")
            return 2
        return _backup(url, args.path)
    if args.action == "prune":
        return _prune(url, args)
    engine = open_engine(url)
    try:
        revision = upgrade(engine) if args.action == "upgrade" else current(engine)
    finally:
        engine.dispose()
    print(f"{shown(url)}: at revision {revision or 'none (run `citywatch db upgrade`)'}", flush=True)
    return 0
