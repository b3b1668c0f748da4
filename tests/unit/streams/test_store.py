"""The case record without a broker: the mapping of records to rows, the merge of a batch,
the upserts on SQLite, the migrations against the tables, the database URL and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from streams.config.store import DEFAULT_URL
from streams.contract.errors import RecordError, StoreError
from streams.store import database, schema, upsert, writer

from ...store_support import (
    STATES,
    alert,
    camera_command,
    counts,
    dispatch,
    expected_counts,
    scenario,
    snapshot,
    update,
)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = database.open_engine(f"sqlite:///{tmp_path / 'var' / 'record.db'}")
    database.upgrade(eng)
    return eng


def store(engine: Engine, rows: list[writer.Row]) -> None:
    with engine.begin() as conn:
        upsert.write(conn, writer.merge(rows))


def rows_of_scenario(incidents: int) -> list[writer.Row]:
    return [row for suffix, _, rec in scenario(incidents) for row in writer.rows_of(suffix, rec.to_bytes())]


def test_an_alert_is_its_incident_its_history_and_its_evidence() -> None:
    rows = writer.rows_of("alerts", alert(1, 3).to_bytes())
    by_table = [r.table for r in rows]
    assert by_table == ["incidents", *["incident_events"] * 3, *["evidence"] * 2]
    incident = rows[0].values
    assert (incident["incident_id"], incident["revision"], incident["state"]) == ("inc-1", 3, "dispatched")
    assert [r.values["state"] for r in rows[1:4]] == STATES[:3]
    assert rows[1].values["actor"] == "policy" and rows[1].values["note"] == "step 0 of inc-1"


def test_a_later_revision_is_newer_and_a_bounded_history_keeps_its_place() -> None:
    older = writer.rows_of("alerts", alert(1, 8, history_cap=6).to_bytes())[0].values
    newer = writer.rows_of("alerts", alert(1, 9, history_cap=6).to_bytes())[0].values
    assert newer["version"] > older["version"]
    assert newer["history_omitted"] == 3


def test_the_same_history_entry_has_the_same_key_in_every_alert_that_carries_it() -> None:
    keys = [
        {
            r.values["row_key"]
            for r in writer.rows_of("alerts", alert(2, k).to_bytes())
            if r.table == "incident_events"
        }
        for k in (2, 5)
    ]
    assert keys[0] < keys[1]


def test_an_update_keeps_its_photo_path() -> None:
    (row,) = writer.rows_of(
        "dispatch-updates", update(1, "resolved", 5, photo="evidence/patrol/p.jpg").to_bytes()
    )
    assert row.values["photos"] == ["evidence/patrol/p.jpg"]


@pytest.mark.parametrize(
    ("suffix", "raw", "field"),
    [
        ("alerts", b"not json", "<payload>"),
        ("alerts", alert(1, 2).to_bytes().replace(b'"warned"', b'"melted"'), "state"),
        ("dispatch", dispatch(1).to_bytes().replace(b'"case-1"', b'"' + b"c" * 300 + b'"'), "case_id"),
        ("dispatch-updates", None, "<payload>"),
        (
            "camera-commands",
            camera_command(1).to_bytes().replace(b'"recapture_background"', b'"x"'),
            "action",
        ),
        (
            "camera-commands",
            camera_command(1).to_bytes().replace(b'"zhang"', b'"' + b"z" * 300 + b'"'),
            "requested_by",
        ),
    ],
)
def test_a_record_that_cannot_be_stored_is_a_record_error_naming_the_field(
    suffix: str, raw: bytes | None, field: str
) -> None:
    with pytest.raises(RecordError) as err:
        writer.rows_of(suffix, raw)
    assert err.value.field == field


def test_a_camera_command_is_kept_with_who_asked_when_and_why() -> None:
    [row] = writer.rows_of("camera-commands", camera_command(3).to_bytes())
    assert (row.table, row.values) == (
        "camera_commands",
        {
            "command_id": "camcmd-3",
            "camera_id": "cam-a",
            "zone_id": None,
            "action": "recapture_background",
            "requested_by": "zhang",
            "reason": "inc-3 swept",
            "requested_at": camera_command(3).requested_at,
        },
    )


def test_merge_keeps_one_row_per_key_the_newest_where_versioned() -> None:
    rows = [
        *writer.rows_of("alerts", alert(1, 4).to_bytes()),
        *writer.rows_of("alerts", alert(1, 2).to_bytes()),
    ]
    merged = writer.merge(rows)
    assert [r["revision"] for r in merged["incidents"]] == [4]
    assert len(merged["incident_events"]) == 4


def test_writing_the_scenario_twice_or_in_any_order_gives_the_same_rows(
    engine: Engine, tmp_path: Path
) -> None:
    rows = rows_of_scenario(3)
    for i in range(0, len(rows), 7):  # batches of a few records, as polled
        store(engine, rows[i : i + 7])
    first = snapshot(engine)
    assert counts(engine) == expected_counts(3)
    store(engine, rows)
    assert snapshot(engine) == first
    backwards = database.open_engine(f"sqlite:///{tmp_path / 'backwards.db'}")
    database.upgrade(backwards)
    for row in reversed(rows):
        store(backwards, [row])
    assert snapshot(backwards) == first


def test_the_escalated_case_is_the_latest_dispatch(engine: Engine) -> None:
    store(engine, rows_of_scenario(1))
    (case,) = snapshot(engine)["cases"]
    assert "u-district" in case


def test_the_migrations_make_exactly_the_tables(engine: Engine) -> None:
    assert database.current(engine) == "0004"
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []


def test_the_database_url_comes_from_the_option_the_environment_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYWATCH_DB", raising=False)
    assert database.database_url(None, None) == DEFAULT_URL == "sqlite:///var/citywatch.db"
    assert database.database_url(None, "sqlite:///x.db") == "sqlite:///x.db"
    monkeypatch.setenv("CITYWATCH_DB", "sqlite:///env.db")
    assert database.database_url(None, "sqlite:///x.db") == "sqlite:///env.db"
    assert database.database_url("sqlite:///opt.db", "sqlite:///x.db") == "sqlite:///opt.db"


WRONG_URLS = {
    "not a url": "is not a database URL",
    "oracle://u@h/db": "SQLite, PostgreSQL or MySQL/MariaDB",
    "postgresql+nosuch://u@h/db": "unknown database driver",
    "postgresql+psycopg://u:s3cret@127.0.0.1:1/db": "cannot reach the database",
}


@pytest.mark.parametrize(("url", "says"), WRONG_URLS.items())
def test_a_wrong_or_unreachable_database_says_what_to_fix(url: str, says: str) -> None:
    with pytest.raises(StoreError) as err:
        database.open_engine(url)
    assert says in str(err.value)
    assert "CITYWATCH_DB" in str(err.value)
    assert "s3cret" not in str(err.value)
