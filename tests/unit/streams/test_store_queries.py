"""The read side of the case record on SQLite: the history search and its checks, an incident
whole, the board's start, a patrol unit's open cases, the read-only opening, the start offsets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.contract.errors import QueryError, StoreError
from streams.contract.timeutil import to_iso
from streams.store import database, queries
from streams.store.reader import HistoryReader
from streams.store.resume import plan_starts
from streams.store.search import HistorySearch, search

from ...history_support import DAY, district, incident, store_records
from ...store_support import STATES, T0


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    engine = database.open_engine(url)
    database.upgrade(engine)
    store_records(engine, district())
    engine.dispose()
    return url


@pytest.fixture
def reader(url: str) -> HistoryReader:
    return HistoryReader(url)


def found(reader: HistoryReader, **params: str) -> tuple[int, list[str]]:
    page = reader.run(lambda conn: search(conn, HistorySearch.from_params(params)))
    return page.total, [f.record["incident_id"] for f in page.items]


# ---------------------------------------------------------------- the search


def test_without_filters_every_incident_newest_first(reader: HistoryReader) -> None:
    total, ids = found(reader)
    assert total == 9
    assert ids[:3] == ["inc-x3", "inc-x1", "inc-x2"]  # two days, one day, half a day after T0


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({"category": "illegal_parking"}, ["inc-x3"]),
        ({"camera": "cam-b"}, ["inc-x2"]),
        ({"grid": "g-2"}, ["inc-x2"]),
        ({"state": "overdue"}, ["inc-x7"]),
        ({"unit": "unit-a"}, ["inc-x1", "inc-x6", "inc-x4"]),
        ({"unit": "unit-d"}, ["inc-x7"]),
        ({"unit": "u-district"}, ["inc-0"]),  # case-0's latest dispatch
        ({"q": "INC-X3"}, ["inc-x3"]),  # case-insensitive
        ({"q": "case-x5"}, ["inc-x4"]),  # a case id
        ({"q": "walkway"}, ["inc-x1"]),  # a note
        ({"q": "乱停放"}, ["inc-x3"]),  # the category's name
        ({"q": "parking"}, ["inc-x3"]),  # its key
        ({"q": "cam-b"}, ["inc-x2"]),
        ({"q": "100%"}, ["inc-x2"]),
        ({"q": "%"}, ["inc-x2"]),  # LIKE's wildcards are taken literally
        ({"q": "o_e"}, []),  # as a wildcard "_" would find "store" in every category
        ({"q": "cleared_now"}, ["inc-x2"]),
        ({"from": to_iso(T0 + DAY), "to": to_iso(T0 + DAY + 1)}, ["inc-x1"]),  # its first event
        ({"from": to_iso(T0 + DAY + 1)}, ["inc-x3", "inc-x1"]),  # inc-x1's note at DAY + 1
        ({"to": to_iso(T0 + 20)}, ["inc-2", "inc-1", "inc-0"]),  # to is exclusive: inc-x4 is at 20
        ({"open": "true", "unit": "unit-a"}, ["inc-x1", "inc-x6", "inc-x4"]),
        ({"open": "true", "q": "inc-"}, ["inc-x3", "inc-x1", "inc-x7", "inc-x6", "inc-x4"]),
    ],
)
def test_each_filter_finds_its_incidents(
    reader: HistoryReader, params: dict[str, str], want: list[str]
) -> None:
    total, ids = found(reader, **params)
    assert ids == want and total == len(want)


def test_a_day_as_to_takes_the_whole_day(reader: HistoryReader) -> None:
    day = to_iso(T0 + DAY)[:10]
    assert found(reader, **{"from": day, "to": day})[1] == ["inc-x1", "inc-x2"]  # 20:26 and 08:26 UTC


def test_pages_are_bounded_and_the_total_counts_them_all(reader: HistoryReader) -> None:
    first = found(reader, per_page="4")
    second = found(reader, per_page="4", page="2")
    last = found(reader, per_page="4", page="3")
    assert first[0] == second[0] == last[0] == 9
    assert len(first[1]) == len(second[1]) == 4 and len(last[1]) == 1
    assert set(first[1]) | set(second[1]) | set(last[1]) == set(found(reader)[1])
    assert found(reader, per_page="4", page="9") == (9, [])


def test_an_item_comes_with_its_current_case_and_updates(reader: HistoryReader) -> None:
    page = reader.run(lambda conn: search(conn, HistorySearch.from_params({"q": "inc-x1"})))
    [item] = page.items
    assert item.case is not None and item.case["case_id"] == "case-x1"
    assert [u["status"] for u in item.updates] == ["accepted"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "yesterday"}, "from must be an ISO-8601 time with a timezone"),
        ({"to": "2026-05-26T10:00:00"}, "has no timezone"),
        ({"from": "2026-13-01"}, "from must be"),
        ({"from": "0001-01-01T00:00:00Z"}, "between 1970 and 9999"),
        ({"from": "2026-05-27", "to": "2026-05-26T00:00:00Z"}, "must be before to"),
        ({"page": "0"}, "page must be from 1 to"),
        ({"page": "two"}, "page must be a whole number"),
        ({"per_page": "201"}, "per_page must be from 1 to 200"),
        ({"per_page": "-1"}, "per_page must be from 1 to 200"),
        ({"state": "melted"}, "unknown state 'melted'; one of: open"),
        ({"open": "maybe"}, "open must be true or false"),
        ({"q": "x" * 201}, "q is longer than 200 characters"),
    ],
)
def test_bad_parameters_say_what_to_fix(params: dict[str, str], says: str) -> None:
    with pytest.raises(QueryError, match=says.replace("(", r"\(")):
        HistorySearch.from_params(params)


def test_good_parameters_are_kept_in_the_stored_format() -> None:
    s = HistorySearch.from_params(
        {
            "from": "2026-05-26T10:00:00+08:00",
            "to": "2026-05-26",
            "q": " walkway ",
            "page": "3",
            "per_page": "200",
        }
    )
    assert (s.start, s.end) == ("2026-05-26T02:00:00.000Z", "2026-05-27T00:00:00.000Z")
    assert (s.text, s.page, s.per_page) == ("walkway", 3, 200)


# ---------------------------------------------------------------- one incident whole


def test_an_incident_whole_has_every_event_in_order_though_its_record_cut_them(reader: HistoryReader) -> None:
    whole = reader.run(lambda conn: queries.incident_history(conn, "inc-1"))
    assert whole is not None
    assert whole.record["history_omitted"] == 3  # the record on Kafka left three out
    assert [e["state"] for e in whole.events] == STATES  # the store kept them all
    assert [e["note"] for e in whole.events] == [f"step {i} of inc-1" for i in range(len(STATES))]
    assert [c["case_id"] for c in whole.cases] == ["case-1"]
    assert [u["status"] for u in whole.cases[0]["updates"]] == ["accepted", "resolved"]
    assert whole.evidence == ["evidence/cam-a/inc-1-0.jpg", "evidence/cam-a/inc-1-1.jpg"]
    assert reader.run(lambda conn: queries.incident_history(conn, "inc-404")) is None


def test_the_history_merges_entries_of_a_newer_record_once() -> None:
    stored = [
        {"at": to_iso(T0 + i), "state": s, "by": "policy", "note": f"n{i}"} for i, s in enumerate(STATES[:3])
    ]
    record = [
        dict(stored[0]),
        {"at": "2026-05-28T20:26:43+00:00", "state": "accepted", "by": "unit-a", "note": "x"},
    ]
    merged = queries.merged_history(stored, record)
    assert [e["state"] for e in merged] == [*STATES[:3], "accepted"]
    assert merged[-1]["at"] == to_iso(T0 + 3)  # the record's time in the stored format


def test_events_of_one_instant_keep_the_record_order() -> None:
    at = to_iso(T0)
    events = [{"at": at, "state": s, "by": "p", "note": ""} for s in ("warned", "open")]
    history = [
        {"at": at, "state": "open", "by": "p", "note": ""},
        {"at": at, "state": "warned", "by": "p", "note": ""},
    ]
    assert [e["state"] for e in queries.event_order(events, history)] == ["open", "warned"]


# ---------------------------------------------------------------- the board and the patrol


def test_the_board_starts_from_open_incidents_and_the_latest_closed(reader: HistoryReader) -> None:
    got = reader.run(
        lambda conn: queries.board_records(
            conn, closed_kept=2, max_incidents=100, rounds=3, updates_per_case=1, decisions=2
        )
    )
    ids = [a["incident_id"] for a in got.incidents]
    assert sorted(ids) == ["inc-2", "inc-x1", "inc-x2", "inc-x3", "inc-x4", "inc-x6", "inc-x7"]
    assert ids[-1] == "inc-x3"  # least recently changed first
    assert {c["case_id"] for c in got.cases} == {
        "case-2",
        "case-x1",
        "case-x4",
        "case-x5",
        "case-x6",
        "case-x7",
    }
    assert [u["status"] for u in got.updates if u["case_id"] == "case-2"] == ["resolved"]  # the last one
    assert [d["request_id"] for d in got.decisions] == ["req-1", "req-2"]


def test_a_units_open_cases_leave_out_the_over_the_superseded_and_the_escalated(
    reader: HistoryReader,
) -> None:
    mine = reader.run(lambda conn: queries.unit_open_cases(conn, "unit-a"))
    assert [(c["case_id"], i and i["state"]) for c, i in mine] == [
        ("case-x5", "dispatched"),
        ("case-x1", "dispatched"),
    ]
    assert [c["case_id"] for c, _ in reader.run(lambda conn: queries.unit_open_cases(conn, "unit-d"))] == [
        "case-x7"
    ]
    now = {
        c["case_id"]: (c["unit_id"], i)
        for c, i in reader.run(lambda conn: queries.cases_now(conn, ["case-x4", "case-x7", "nope"]))
    }
    assert set(now) == {"case-x4", "case-x7"} and now["case-x7"][0] == "unit-d"
    assert queries.case_over("case-x4", now["case-x4"][1]) == "superseded"
    assert queries.case_over("case-x6", incident(6, state="resolved", case="case-x6").to_dict()) == "resolved"
    assert queries.case_over("case-x1", None) is None


# ---------------------------------------------------------------- opening it read only


def test_a_missing_database_is_not_created_and_says_what_to_start(tmp_path: Path) -> None:
    path = tmp_path / "var" / "citywatch.db"
    with pytest.raises(StoreError, match=r"no case record at .*start `citywatch store`"):
        HistoryReader(f"sqlite:///{path}").run(lambda conn: 1)
    assert not path.exists() and not path.parent.exists()


def test_a_database_not_migrated_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    database.open_engine(f"sqlite:///{path}").dispose()
    with pytest.raises(StoreError, match=r"has no incidents, incident_events.* table yet"):
        HistoryReader(f"sqlite:///{path}").run(lambda conn: 1)


def test_the_reader_writes_nothing(reader: HistoryReader) -> None:
    with pytest.raises(StoreError, match="readonly"):
        reader.run(lambda conn: conn.exec_driver_sql("DELETE FROM incidents"))
    assert found(reader)[0] == 9


def test_after_a_failure_the_reader_tries_again_once_the_pause_is_over(tmp_path: Path, url: str) -> None:
    clock = [0.0]
    path = tmp_path / "later.db"
    late = HistoryReader(f"sqlite:///{path}", retry_s=5.0, monotonic=lambda: clock[0])
    with pytest.raises(StoreError):
        late.run(lambda conn: 1)
    Path(url.removeprefix("sqlite:///")).rename(path)  # the store has made it meanwhile
    clock[0] = 4.0
    with pytest.raises(StoreError, match="no case record"):  # not asked again yet
        late.run(lambda conn: 1)
    clock[0] = 5.0
    assert found(late)[0] == 9


def test_a_url_that_is_no_database_says_which(tmp_path: Path) -> None:
    for bad, says in [
        ("nonsense", "is not a database URL"),
        ("oracle://x/y", "SQLite, PostgreSQL or MySQL"),
        ("sqlite://", "needs the store's database file"),
    ]:
        with pytest.raises(StoreError, match=says):
            HistoryReader(bad).run(lambda conn: 1)


# ---------------------------------------------------------------- where readers start


def test_each_partition_starts_at_the_stores_offset_else_at_its_beginning() -> None:
    parts = [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    committed = {("a", 0): 5, ("a", 2): 1, ("b", 0): 0}
    beginnings: dict[Any, int] = {("a", 0): 0, ("a", 1): 2, ("a", 2): 3, ("b", 0): 0}
    plan = plan_starts(parts, committed, beginnings)
    # a-1: never committed; a-2: committed before the log's start (retention took those records)
    assert plan.offsets == {("a", 0): 5, ("a", 1): 2, ("a", 2): 3, ("b", 0): 0}
    assert plan.from_store == {("a", 0), ("a", 2), ("b", 0)}
    assert plan.summary() == "3 of 4 partitions from the store's offsets, 1 from the beginning"
    assert plan_starts(parts, {}, beginnings).summary() == "all 4 partitions from the beginning"
    assert (
        plan_starts(parts[:1], committed, beginnings).summary() == "all 1 partitions from the store's offsets"
    )
