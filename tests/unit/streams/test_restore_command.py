"""Reading the case record's open incidents back (SQLite), the restore inputs made of them, and
`citywatch restore --dry-run`: what it lists, that it sends nothing, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from streams.cli import main
from streams.contract.internal_records import INCIDENT_INPUT, RestoreInput, read_internal
from streams.logic import incidents as inc
from streams.store import database, upsert, writer
from streams.store.restore import open_incidents, restore_inputs

from ...store_support import snapshot
from .test_incidents import CTX, T0, the, update, violation, warned_book

NOW = "2026-05-26T03:00:00.000Z"
UNREACHABLE = "127.0.0.1:9"  # nothing listens there: a dry run must not need Kafka


def record(engine: Engine, effects: list[inc.Effect]) -> None:
    """Store the effects' alerts and cases as `citywatch store` does."""
    topic = {"alert": "alerts", "dispatch": "dispatch"}
    rows = [
        row
        for e in effects
        if e.kind in topic
        for row in writer.rows_of(topic[e.kind], json.dumps(e.value).encode())
    ]
    with engine.begin() as conn:
        upsert.write(conn, writer.merge(rows))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'record.db'}"


@pytest.fixture
def engine(url: str) -> Engine:
    eng = database.open_engine(url)
    database.upgrade(eng)
    return eng


def scenario(engine: Engine) -> tuple[inc.Book, inc.Book]:
    """A dispatched incident on cam-a, a warned one on cam-b, a closed one on cam-c, stored."""
    dispatched = warned_book()
    effects = inc.on_tick(dispatched, CTX, T0 + 6)
    effects += update(dispatched, "accepted", T0 + 7) or []
    record(engine, [inc.Effect("alert", "", inc.alert_record(the(warned_book()), CTX)), *effects])
    warned = inc.Book()
    opened = violation(warned, "started", T0 + 2, camera_id="cam-b")
    record(engine, opened)
    closed = warned_book()
    done = violation(closed, "cleared", T0 + 3)
    record(engine, [e for e in done if e.kind == "alert"])
    return dispatched, warned


def test_open_incidents_come_back_with_their_open_case_and_restore_as_they_were(engine: Engine) -> None:
    dispatched, warned = scenario(engine)
    found = {o.incident_id: o for o in open_incidents(engine)}
    assert set(found) == {the(dispatched).incident_id, the(warned).incident_id}  # the closed one is not
    d = found[the(dispatched).incident_id]
    assert (d.state, d.subject, d.case_id, d.unit_id) == (
        "accepted",
        "cam-a",
        the(dispatched).case_id,
        "unit-a",
    )
    assert found[the(warned).incident_id].case is None
    inputs = restore_inputs(list(found.values()), NOW)
    assert restore_inputs(list(found.values()), NOW) == inputs  # deterministic
    for key, value in inputs:
        data = read_internal(INCIDENT_INPUT, json.dumps(value), "incident input")
        assert isinstance(data, RestoreInput)
        book = inc.Book()
        effects = inc.on_restore(book, CTX, incident=data.incident, case=data.case)
        original = dispatched if key == "cam-a" else warned
        assert the(book).state == the(original).state and the(book).history == the(original).history
        assert the(book).due_at == the(original).due_at and the(book).case_id == the(original).case_id
        before = snapshot(engine)
        record(engine, effects)  # what the restore re-publishes changes no row of the case record
        assert snapshot(engine) == before


def test_dry_run_lists_what_it_would_reseed_and_sends_nothing(
    engine: Engine, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatched, warned = scenario(engine)
    monkeypatch.setenv("CITYWATCH_KAFKA", UNREACHABLE)
    assert main(["restore", "--dry-run", "--db", url]) == 0
    out = capsys.readouterr().out
    assert the(dispatched).incident_id in out and f"case {the(dispatched).case_id} (unit-a)" in out
    assert the(warned).incident_id in out and "no open case" in out
    assert "dry run: would re-seed 2 open incidents (1 with an open case)" in out
    assert "nothing was sent" in out


def test_restore_says_what_to_fix(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYWATCH_KAFKA", UNREACHABLE)
    assert main(["restore", "--dry-run", "--db", url]) == 1  # no database file
    err = capsys.readouterr().err
    assert "no case record at sqlite:///" in err and "--db, CITYWATCH_DB or store.url" in err
    eng = database.open_engine(url)
    database.upgrade(eng)
    scenario(eng)
    assert main(["restore", "--db", url]) == 1  # Kafka does not answer
    err = capsys.readouterr().err
    assert "does not answer" in err and "nothing was sent" in err


def test_an_empty_case_record_has_nothing_to_reseed(
    engine: Engine, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYWATCH_KAFKA", UNREACHABLE)
    assert main(["restore", "--db", url]) == 0
    assert "nothing to re-seed: no open incidents" in capsys.readouterr().out
