"""`citywatch store` on the embedded broker into SQLite, PostgreSQL and MariaDB: a replayed
scenario gives the same rows, a kill -9 mid-stream loses and doubles nothing, a malformed record
is dead-lettered and the rows stay. Without a broker, a poll's records as the store reads and
writes them: the newest of each record kept, an older or repeated batch changing nothing, the
stored record being the record's JSON, a record the database refuses dead-lettered and the rest
of its batch stored. Each server gets a database of its own, dropped at the end; a server that
does not answer here is skipped, saying so."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text

from streams.contract import records as r
from streams.contract.records import DeadLetter, decode
from streams.contract.topics import Topics
from streams.kafka_io import ensure_topics, read_topic
from streams.store import database, schema
from streams.store.role import Store, StoreOptions

from ..conftest import KafkaEnv
from ..store_support import alert, counts, dispatch, expected_counts, poll, scenario, snapshot, update
from ..streams_support import produce, stop, wait_for

pytestmark = pytest.mark.integration

SERVERS = {
    "postgresql": ("postgresql+psycopg://postgres@127.0.0.1:5432/", "postgres"),
    "mysql": ("mysql+pymysql://root@127.0.0.1:3306/", ""),
}


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database of this kind for the session; dropped at the end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'record.db'}"
        database.upgrade(database.open_engine(url))
        yield url
        return
    server, admin_db = SERVERS[request.param]
    name = f"cw_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(server + admin_db, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # no server here: say which and why
        pytest.skip(f"no {request.param} server at {server} ({type(exc).__name__}: {exc})")
    url = server + name
    try:
        database.upgrade(database.open_engine(url))
        yield url
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if request.param == "postgresql" else ""
            conn.execute(text(f"DROP DATABASE {name}{force}"))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = database.open_engine(db_url)
    with eng.begin() as conn:  # every test starts from empty tables
        for table in schema.metadata.tables.values():
            conn.execute(table.delete())
    yield eng
    eng.dispose()


def fresh_topics(kafka: KafkaEnv) -> Topics:
    topics = Topics(f"t{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(kafka.bootstrap, topics.all(), partitions=4)
    return topics


def publish(bootstrap: str, topics: Topics, records: list[tuple[str, str, bytes]]) -> None:
    for suffix in dict.fromkeys(s for s, _, _ in records):
        produce(bootstrap, topics.name(suffix), [(k, v) for s, k, v in records if s == suffix])


def recorded(incidents: int) -> list[tuple[str, str, bytes]]:
    return [(suffix, key, rec.to_bytes()) for suffix, key, rec in scenario(incidents)]


def store_all(engine: Engine, kafka: KafkaEnv, topics: Topics, records: int, letters: int = 0) -> None:
    """Run the store until it has written (or dead-lettered) ``records`` records."""
    stop_ = threading.Event()
    store = Store(engine, StoreOptions(kafka.bootstrap, topics, retry_s=0.5))
    thread = threading.Thread(target=store.run, args=(stop_,), kwargs={"duration_s": 90})
    thread.start()
    try:

        def done() -> bool:
            return store.stats["records"] >= records and store.stats["deadletters"] >= letters

        assert wait_for(done, 60, interval=0.5), store.stats.summary()
    finally:
        stop_.set()
        thread.join(30)


def test_a_replay_gives_the_same_rows_and_a_malformed_record_is_dead_lettered(
    engine: Engine, kafka: KafkaEnv
) -> None:
    want = expected_counts(4)
    publish(kafka.bootstrap, kafka.topics, recorded(4))
    store_all(engine, kafka, kafka.topics, len(recorded(4)))
    assert counts(engine) == want
    first = snapshot(engine)

    again = fresh_topics(kafka)  # the same recording into fresh topics: a new group reads it all
    bad_state = alert(1, 9).to_bytes().replace(b'"closed"', b'"melted"')  # would overwrite inc-1
    publish(
        kafka.bootstrap, again, [*recorded(4), ("alerts", "inc-1", bad_state), ("dispatch", "u", b"{oops")]
    )
    store_all(engine, kafka, again, len(recorded(4)) + 2, letters=2)
    letters = [
        decode(DeadLetter, m.value)
        for m in read_topic(
            kafka.bootstrap, again.deadletter, from_beginning=True, max_records=2, timeout_s=30
        )
    ]
    assert sorted(d.topic for d in letters) == [again.alerts, again.dispatch]
    assert any("state" in d.error for d in letters)
    assert counts(engine) == want
    assert snapshot(engine) == first


def test_a_store_killed_mid_stream_restarts_without_losing_or_doubling(
    engine: Engine, db_url: str, kafka: KafkaEnv, tmp_path: Path
) -> None:
    incidents = 60
    want = expected_counts(incidents)
    records = recorded(incidents)
    env = {**kafka.env(), "CITYWATCH_DB": db_url}
    args = [sys.executable, "-m", "streams.cli", "store"]
    log = (tmp_path / "store.log").open("ab")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        half = len(records) // 2
        publish(kafka.bootstrap, kafka.topics, records[:half])
        assert wait_for(lambda: counts(engine)["incident_events"] > 0, 60), (
            tmp_path / "store.log"
        ).read_text()
        stop(proc, signal.SIGKILL)  # mid-stream: the rest comes while it is down
        publish(kafka.bootstrap, kafka.topics, records[half:])
        assert counts(engine) != want
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        assert wait_for(lambda: counts(engine) == want, 90, interval=0.5), counts(engine)
    finally:
        stop(proc)
        log.close()
    incidents_by_id = {row[0]: row for row in snapshot(engine)["incidents"]}
    assert all(row[2] == 9 for row in incidents_by_id.values())  # every incident at its last revision


OFFLINE = Topics("t.citywatch.")  # no broker: the store's read and write of one poll each


def stored(engine: Engine, records: list[tuple[str, r.Record]]) -> list[tuple[int, str]]:
    """``records`` read and written as one poll: the offsets dead-lettered, and why."""
    store = Store(engine, StoreOptions("", OFFLINE))
    batch = store.read(poll(OFFLINE, [(suffix, rec.to_bytes()) for suffix, rec in records]))
    store.write(batch)
    return [(rec.offset, why) for rec, why in batch.letters]


def test_a_batch_keeps_the_newest_of_each_record_and_an_older_or_repeated_one_changes_nothing(
    engine: Engine,
) -> None:
    first: list[tuple[str, r.Record]] = [
        ("alerts", alert(1, 4)),
        ("alerts", alert(1, 2)),  # older, after the newer in the same batch
        ("alerts", alert(1, 4)),  # the same again
        ("dispatch", dispatch(1, unit="u-district", at=4)),  # the escalated case, then the first dispatch
        ("dispatch", dispatch(1)),
        ("dispatch-updates", update(1, "accepted", 3)),
        ("dispatch-updates", update(1, "accepted", 3)),
    ]
    assert stored(engine, first) == []
    rows = snapshot(engine)
    (incident,) = rows["incidents"]
    (case,) = rows["cases"]
    assert incident[2] == 4 and "u-district" in case
    assert (len(rows["incident_events"]), len(rows["evidence"]), len(rows["case_updates"])) == (4, 2, 1)
    assert stored(engine, [("alerts", alert(1, 3)), ("dispatch", dispatch(1))]) == []  # older, later
    assert snapshot(engine) == rows
    assert stored(engine, first) == []  # redelivered
    assert snapshot(engine) == rows


def test_the_stored_record_is_the_records_json(engine: Engine) -> None:
    extra = {"note_zh": '店外经营 "物品" \\ 😀', "weight": 1e16, "nested": {"a": [1, None, True]}}
    record = r.Alert.model_validate({**alert(1, 3).to_dict(), **extra})
    case = r.DispatchCase.model_validate({**dispatch(1).to_dict(), **extra})
    assert stored(engine, [("alerts", record), ("dispatch", case)]) == []
    with engine.connect() as conn:
        assert conn.execute(select(schema.incidents.c.record)).scalar_one() == record.to_dict()
        assert conn.execute(select(schema.cases.c.record)).scalar_one() == case.to_dict()


REFUSE = {  # the database refuses case-2's row, as it would a value it cannot take
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON cases WHEN NEW.case_id = 'case-2' "
        "BEGIN SELECT RAISE(ABORT, 'case-2 is refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.case_id = 'case-2' THEN "
        "RAISE EXCEPTION 'case-2 is refused' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
    "mysql": [
        "CREATE TRIGGER refuse BEFORE INSERT ON cases FOR EACH ROW BEGIN IF NEW.case_id = 'case-2' THEN "
        "SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062, MESSAGE_TEXT = 'case-2 is refused'; END IF; END"
    ],
}
ALLOW = {
    "sqlite": ["DROP TRIGGER refuse"],
    "postgresql": ["DROP TRIGGER refuse ON cases", "DROP FUNCTION refuse()"],
    "mysql": ["DROP TRIGGER refuse"],
}


def test_a_record_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_stored(
    engine: Engine,
) -> None:
    dialect = "mysql" if engine.dialect.name == "mariadb" else engine.dialect.name
    with engine.begin() as conn:
        for sql in REFUSE[dialect]:
            conn.exec_driver_sql(sql)
    try:
        letters = stored(
            engine,
            [(s, rec) for n in range(5) for s, rec in (("dispatch", dispatch(n)), ("alerts", alert(n, 2)))],
        )
    finally:
        with engine.begin() as conn:
            for sql in ALLOW[dialect]:
                conn.exec_driver_sql(sql)
    assert [offset for offset, _ in letters] == [4]
    assert "the database refused the record" in letters[0][1] and "case-2 is refused" in letters[0][1]
    have = counts(engine)
    assert (have["cases"], have["incidents"], have["incident_events"]) == (4, 5, 10)
