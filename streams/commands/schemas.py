"""Write the JSON Schema of every topic's records (from streams/contract/records.py) into
docs/schemas/<topic>.json; with --check, only say which files are out of date (exit 1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.contract import schemas


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=schemas.DEFAULT_DIR,
        help=f"directory of the schema files (default: {schemas.DEFAULT_DIR}, from the repository root)",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if args.check:
        stale = schemas.stale(out)
        for name in stale:
            print(f"{out / name}: out of date; run `{schemas.REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    changed = schemas.write(out)
    print(f"{out}: {len(schemas.render())} schemas, {len(changed)} changed {' '.join(changed)}".rstrip())
    return 0
