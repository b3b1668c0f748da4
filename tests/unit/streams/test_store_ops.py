"""The case record's upkeep without a broker: backups, retention and its benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from streams.cli import main
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics
from streams.store import database, retention, schema, upsert, writer
from streams.store.backup import dump_command
from streams.store.role import Store, StoreOptions

from ...store_support import STATES, T0, alert, counts, expected_counts, scenario


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


DAY = 86_400.0


def daily(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.incident_daily)).all()
    out: dict[tuple[str, str], int] = {}
    for row in rows:
        out[(row.day, row.state)] = out.get((row.day, row.state), 0) + row.incidents
    return out


def test_retention_prunes_closed_incidents_with_their_events_evidence_and_files_counting_them_once(
    tmp_path: Path,
) -> None:
    engine = filled(tmp_path / "record.db")
    with engine.begin() as conn:
        upsert.write(conn, writer.merge(writer.rows_of("alerts", alert(7, 3).to_bytes())))  # still open
    files = [tmp_path / f"evidence/cam-a/inc-{n}-{i}.jpg" for n in range(3) for i in range(2)]
    for path in files[:4]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"jpg")
    files[4].mkdir()  # a directory of that name is never deleted; files[5] is missing

    assert retention.prune(engine, 30, T0 + 29 * DAY, tmp_path)["incidents"] == 0
    assert retention.prune(engine, None, T0 + 90 * DAY, tmp_path)["incidents"] == 0
    pruned = retention.prune(engine, 30, T0 + 31 * DAY, tmp_path)
    assert (pruned["incidents"], pruned["evidence"], pruned["files"]) == (3, 6, 4)
    assert pruned["events"] == 3 * len(STATES)
    assert not any(f.is_file() for f in files) and files[4].is_dir()
    left = counts(engine)
    assert (left["incidents"], left["incident_events"], left["evidence"]) == (1, 3, 2)
    assert left["cases"] == 3 and left["pruned_incidents"] == 3
    kept = daily(engine)
    assert sum(n for (_, state), n in kept.items() if state == "closed") == 3
    assert sum(n for (_, state), n in kept.items() if state == STATES[0]) == 3

    filled(tmp_path / "record.db")  # a replay brings them back: pruned again, counted once
    assert retention.prune(engine, 30, T0 + 32 * DAY, tmp_path)["incidents"] == 3
    assert daily(engine) == kept


def test_the_store_prunes_at_start_then_every_hour(tmp_path: Path) -> None:
    engine = filled(tmp_path / "record.db", incidents=1)
    store = Store(engine, StoreOptions("127.0.0.1:1", Topics("t.citywatch."), retention_days=1))
    for now in (T0 + 2 * DAY, T0 + 2 * DAY + 1800, T0 + 2 * DAY + 3600):
        store.maybe_prune(now)
    assert store.stats["prunes"] == 2
    assert counts(engine)["pruned_incidents"] == 1


def test_db_prune_applies_the_configured_retention_at_the_given_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = filled(tmp_path / "record.db", incidents=2)
    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setattr("streams.commands.store.retention_days", lambda args: None)
    assert main(["db", "prune", "--db", url]) == 0
    assert "keeps everything" in capsys.readouterr().out
    monkeypatch.setattr("streams.commands.store.retention_days", lambda args: 7.0)
    assert main(["db", "prune", "--db", url, "--now", to_iso(T0 + 8 * DAY)]) == 0
    assert "incidents=2" in capsys.readouterr().out
    assert counts(engine)["incidents"] == 0


def test_the_store_benchmark_runs_tiny_and_ends_with_its_result_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "bench",
        "store",
        "--incidents",
        "5",
        "--events",
        "95",
        "--queries",
        "5",
        "--pg",
        "",
        "--repeat",
        "1",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    keys = [part.split("=")[0] for part in last.split()[1:]]
    assert last.startswith("RESULT ")
    assert keys == [
        "store_rows_per_s",
        "bulk_rows_per_s",
        "ratio",
        "write_ratio",
        "driver_bulk_rows_per_s",
        "driver_ratio",
        "history_p99_ms",
    ]
    assert "SQLite: 55 records -> 70 rows" in out  # the store and the bulk inserts hold the same rows
