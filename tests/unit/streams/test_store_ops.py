"""The case record's upkeep without a broker: backups, retention and its benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from streams.cli import main
from streams.store import database, upsert, writer
from streams.store.backup import dump_command

from ...store_support import counts, expected_counts, scenario


def filled(path: Path, incidents: int = 3) -> Engine:
    engine = database.open_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    rows = [row for suffix, _, rec in scenario(incidents) for row in writer.rows_of(suffix, rec.to_bytes())]
    with engine.begin() as conn:
        upsert.write(conn, writer.merge(rows))
    return engine


def test_a_sqlite_backup_is_a_database_with_the_same_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = filled(tmp_path / "record.db")
    copy = tmp_path / "backups" / "copy.db"
    assert main(["db", "backup", str(copy), "--db", f"sqlite:///{tmp_path / 'record.db'}"]) == 0
    backup = database.open_engine(f"sqlite:///{copy}")
    assert counts(backup) == counts(source) == expected_counts(3)
    out = capsys.readouterr().out
    assert f"-> {copy}" in out and "  incident_events: " + str(expected_counts(3)["incident_events"]) in out
    source.dispose()
    backup.dispose()


def test_a_server_database_is_backed_up_by_its_dump_tool_whose_command_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pg = "postgresql+psycopg://cw:s3cret@db.example:5433/citywatch"
    assert dump_command(pg, "b.dump") == (
        "PGPASSWORD=<password> pg_dump --host db.example --port 5433 --username cw --dbname citywatch "
        "--format=custom --file=b.dump"
    )
    my = "mysql+pymysql://root:s3cret@127.0.0.1:3306/cw"
    assert dump_command(my, "b.sql") == (
        "mysqldump --host 127.0.0.1 --port 3306 --user root --password --single-transaction --routines "
        "--result-file=b.sql cw"
    )
    assert main(["db", "backup", "b.sql", "--db", my]) == 0
    out = capsys.readouterr().out
    assert "mysqldump" in out and "s3cret" not in out
