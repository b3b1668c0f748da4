"""The store's write path on SQLite, without a broker: the row keys and stored times it has
always written, the bounds of the mapping's caches, numbers out of their columns' range, and a
batch the database refuses for one record's values."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from streams.contract.errors import RecordError
from streams.contract.timeutil import from_iso, to_iso
from streams.contract.topics import Topics
from streams.store import database, writer
from streams.store.role import Store, StoreOptions

from ...store_support import alert, counts, dispatch, poll

TOPICS = Topics("t.citywatch.")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = database.open_engine(f"sqlite:///{tmp_path / 'record.db'}")
    database.upgrade(eng)
    return eng


KEYED = [
    ("inc-1", "2026-05-26T02:14:03.120Z", "warned", "policy", "请将物品放回店内"),
    ("cmd-1", "played", None, None, ""),
    ('a "quoted" \\ back\nslash', "\u2028\x00\x1f", "😀", "\ud800"),  # escapes, a lone surrogate
]


@pytest.mark.parametrize("parts", KEYED)
def test_a_row_key_is_the_sha256_of_its_fields_compact_json_array(parts: tuple[str | None, ...]) -> None:
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    assert writer.row_key(*parts) == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_row_keys_are_those_stored_by_earlier_versions() -> None:
    assert writer.row_key(*KEYED[0]) == "3002a38094685aad314fbdfc39bbb0000eb8f2b163dae5dd078a15e5c853f66d"
    assert writer.row_key(*KEYED[1]) == "2f2b142c02a967df1855f3aecc1b3efedb527b2598b23e45714e1d223afb6a26"


@pytest.mark.parametrize(
    "given",
    [
        "2026-05-26T02:14:03.120Z",
        "2026-05-26T10:14:03.12+08:00",
        "2026-05-26T02:14:03Z",
        "1969-12-31T23:59:59.999Z",
        "0999-01-01T00:00:00.000Z",  # to_iso writes the year unpadded: not the stored form given
    ],
)
def test_a_timestamp_is_stored_as_to_iso_writes_it(given: str) -> None:
    assert writer.ts(given) == to_iso(from_iso(given))


def test_the_mapping_caches_are_bounded_and_keep_short_texts_only() -> None:
    writer.forget()
    writer.rows_of("alerts", alert(1, 3).to_bytes())
    held = (writer._known_event.cache_info().currsize, writer._known_evidence.cache_info().currsize)
    assert held == (3, 2)
    long_texts = alert(2, 1)
    long_texts.history[0].note = "x" * 5000
    long_texts.evidence = ["e" * 2000]
    rows = writer.rows_of("alerts", long_texts.to_bytes())
    assert [r.values.get("note", r.values.get("path")) for r in rows[1:]] == ["x" * 5000, "e" * 2000]
    assert (writer._known_event.cache_info().currsize, writer._known_evidence.cache_info().currsize) == held
    for known in (writer._known_event, writer._known_evidence):
        assert known.cache_info().maxsize == 16_384


def test_a_number_beyond_its_columns_type_is_dead_lettered_naming_the_field(engine: Engine) -> None:
    huge = alert(1, 3)
    huge.revision = 2**31  # INTEGER on PostgreSQL and MySQL; SQLite's driver would raise outside its errors
    with pytest.raises(RecordError) as err:
        writer.rows_of("alerts", huge.to_bytes())
    assert err.value.field == "revision"
    store = Store(engine, StoreOptions("", TOPICS))
    batch = store.read(poll(TOPICS, [("alerts", huge.to_bytes()), ("alerts", alert(2, 3).to_bytes())]))
    store.write(batch)
    assert [(rec.offset, "revision" in why) for rec, why in batch.letters] == [(0, True)]
    assert counts(engine)["incidents"] == 1


def test_a_batch_refused_for_one_records_values_is_written_in_parts_and_that_record_dead_lettered(
    engine: Engine,
) -> None:
    with engine.begin() as conn:  # the database refuses case-5's row
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON cases WHEN NEW.case_id = 'case-5' "
            "BEGIN SELECT RAISE(ABORT, 'case-5 is refused'); END"
        )
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    records = [
        (s, r.to_bytes()) for n in range(16) for s, r in (("dispatch", dispatch(n)), ("alerts", alert(n, 2)))
    ]
    store = Store(engine, StoreOptions("", TOPICS))
    batch = store.read(poll(TOPICS, records))
    store.write(batch)
    assert [(rec.offset, why) for rec, why in batch.letters] == [
        (10, "the database refused the record: case-5 is refused")
    ]
    stored = counts(engine)
    assert (stored["cases"], stored["incidents"], stored["incident_events"]) == (15, 16, 32)
    assert 0 < len(commits) <= 2 * 5, len(commits)  # halving 32 records down to one, not one each
