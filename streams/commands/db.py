"""The case record's database: `citywatch db upgrade` migrates it to the latest schema
(`citywatch store` does so on start too); `citywatch db current` prints its revision;
`citywatch db backup PATH` copies a SQLite database (online) into PATH and says what the copy
holds, or prints the pg_dump / mysqldump command for a server's database."""

from __future__ import annotations

import argparse

from streams.commands import add_config_argument
from streams.commands.store import add_db_argument, db_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("upgrade", "current", "backup"),
        help="upgrade: migrate; current: print the revision; backup PATH: copy the database",
    )
    parser.add_argument("path", nargs="?", default=None, help="backup: the file to write")
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


def run(args: argparse.Namespace) -> int:
    from streams.store.database import current, open_engine, shown, upgrade

    url = db_url(args)
    if args.action == "backup":
        if not args.path:
            print("citywatch db backup PATH: say where the copy goes")
            return 2
        return _backup(url, args.path)
    engine = open_engine(url)
    try:
        revision = upgrade(engine) if args.action == "upgrade" else current(engine)
    finally:
        engine.dispose()
    print(f"{shown(url)}: at revision {revision or 'none (run `citywatch db upgrade`)'}", flush=True)
    return 0
