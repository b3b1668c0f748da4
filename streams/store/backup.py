"""Backups of the case record: SQLite copies itself through its online backup API (readers and
the store carry on meanwhile); for PostgreSQL and MySQL/MariaDB the server's own dump tool is
the backup, and ``dump_command`` says how to run it for the URL (the password never shown)."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.engine import URL

from streams.contract.errors import StoreError

HIDDEN = "<password>"  # stands where the URL's password goes


def sqlite_file(url: URL) -> Path:
    """The file of a SQLite URL; ``StoreError`` for an in-memory database."""
    if url.database in (None, "", ":memory:"):
        raise StoreError(f"{url.render_as_string()}: an in-memory database has nothing to back up")
    return Path(url.database)


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` with SQLite's online backup."""
    if not source.is_file():
        raise StoreError(f"{source}: no such SQLite database; check --db, CITYWATCH_DB or store.url")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _options(url: URL, user_flag: str, db_flag: str) -> list[str]:
    words: list[str] = []
    if url.host:
        words += ["--host", url.host]
    if url.port:
        words += ["--port", str(url.port)]
    if url.username:
        words += [user_flag, url.username]
    if url.database and db_flag:
        words += [db_flag, url.database]
    return words


def dump_command(url: str | URL, path: str) -> str:
    """The pg_dump / mysqldump command line that backs up the database of ``url`` into ``path``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        env = f"PGPASSWORD={HIDDEN} " if parsed.password else ""
        words = ["pg_dump", *_options(parsed, "--username", "--dbname"), "--format=custom", f"--file={path}"]
        return env + shlex.join(words)
    if backend in ("mysql", "mariadb"):
        words = ["mysqldump", *_options(parsed, "--user", "")]
        if parsed.password:
            words.append("--password")  # asks for it: never on the command line
        words += ["--single-transaction", "--routines", f"--result-file={path}", parsed.database or ""]
        return shlex.join(words)
    raise StoreError(f"{backend}: no dump command; SQLite is copied with its online backup")
