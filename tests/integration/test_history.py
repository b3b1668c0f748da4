"""The case record as the source of history, for real: the searches on SQLite, PostgreSQL and
MariaDB; a worker whose board starts from the database and the store's offsets (it reads none of
the records before them, counted) and answers for a closed incident past ``closed_kept``; a
patrol that starts the same way, also where one partition has no store offset."""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from streams.clients.patrol import PatrolSession
from streams.clients.patrol_source import KafkaSource
from streams.commands.patrol import loop
from streams.contract import records as r
from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics
from streams.store import database, queries, schema
from streams.store.reader import HistoryReader
from streams.store.role import Store, StoreOptions
from streams.store.search import HistorySearch, search

from ..config_support import web_site, write_config
from ..conftest import KafkaEnv
from ..history_support import district, incident, store_records
from ..store_support import STATES
from ..streams_support import citywatch, produce, start_worker, stop, wait_for
from ..web_support import TOKENS, TOKENS_TEXT, http
from .test_store import db_url  # noqa: F401  # the session's database of each kind

pytestmark = pytest.mark.integration

Published = list[tuple[str, str, bytes]]


# ---------------------------------------------------------------- the queries on each database


@pytest.fixture
def reader(db_url: str) -> Iterator[HistoryReader]:  # noqa: F811
    engine = database.open_engine(db_url)
    with engine.begin() as conn:
        for table in schema.metadata.tables.values():
            conn.execute(table.delete())
    store_records(engine, district())
    engine.dispose()
    reading = HistoryReader(db_url)
    yield reading
    reading.close()


SEARCHES: list[tuple[dict[str, str], list[str]]] = [
    ({}, ["inc-x3", "inc-x1", "inc-x2", "inc-x7", "inc-x6", "inc-x4", "inc-2", "inc-1", "inc-0"]),
    ({"grid": "g-2"}, ["inc-x2"]),
    ({"unit": "unit-a", "open": "true"}, ["inc-x1", "inc-x6", "inc-x4"]),
    ({"q": "INC-X3"}, ["inc-x3"]),
    ({"q": "乱停放"}, ["inc-x3"]),
    ({"q": "100%"}, ["inc-x2"]),
    ({"q": "o_e"}, []),
    ({"q": "walkway", "from": "2026-05-29", "to": "2026-05-29"}, ["inc-x1"]),
    ({"per_page": "2", "page": "4"}, ["inc-2", "inc-1"]),
    ({"per_page": "2", "page": "5"}, ["inc-0"]),
]


def test_the_read_side_answers_the_same_on_every_database(reader: HistoryReader) -> None:
    for params, want in SEARCHES:
        page = reader.run(lambda conn, p=params: search(conn, HistorySearch.from_params(p)))  # type: ignore[misc]
        assert [f.record["incident_id"] for f in page.items] == want, params
    whole = reader.run(lambda conn: queries.incident_history(conn, "inc-1"))
    assert whole is not None and [e["state"] for e in whole.events] == STATES
    mine = reader.run(lambda conn: queries.unit_open_cases(conn, "unit-a"))
    assert [c["case_id"] for c, _ in mine] == ["case-x5", "case-x1"]
    start = reader.run(
        lambda conn: queries.board_records(
            conn, closed_kept=1, max_incidents=100, rounds=3, updates_per_case=50, decisions=5
        )
    )
    assert [a["incident_id"] for a in start.incidents][-1] == "inc-x3" and len(start.incidents) == 6


# ---------------------------------------------------------------- the store, then its readers


def publish(bootstrap: str, topics: Topics, records: Published) -> None:
    for suffix in dict.fromkeys(s for s, _, _ in records):
        produce(bootstrap, topics.name(suffix), [(k, v) for s, k, v in records if s == suffix])


def keyed(records: list[tuple[str, r.Record]]) -> Published:
    """The district's records with the contract's keys."""
    key = {
        "alerts": "incident_id",
        "dispatch": "unit_id",
        "dispatch-updates": "case_id",
        "camera-commands": "camera_id",
    }
    return [(s, str(getattr(rec, key.get(s, "speaker_id"))), rec.to_bytes()) for s, rec in records]


def store_everything(url: str, bootstrap: str, topics: Topics, count: int) -> None:
    """Run the store until it has written ``count`` records and committed their offsets."""
    engine = database.open_engine(url)
    database.upgrade(engine)
    done = threading.Event()
    store = Store(engine, StoreOptions(bootstrap, topics, retry_s=0.5))
    thread = threading.Thread(target=store.run, args=(done,), kwargs={"duration_s": 120})
    thread.start()
    try:
        assert wait_for(lambda: store.stats["records"] >= count, 90, interval=0.5), store.stats.summary()
    finally:
        done.set()
        thread.join(30)
        engine.dispose()
    assert store.stats["records"] == count and store.stats["deadletters"] == 0


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {tp.partition: int(o) for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


@dataclass
class Started:
    base: str
    bootstrap: str
    topics: Topics
    log: Path

    def health(self) -> dict[str, Any]:
        status, body = http("GET", self.base + "/healthz", timeout=2)
        return body if status == 200 else {}


@pytest.fixture(scope="module")
def board_from_store(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """The district's records on fresh topics, stored by the store (which then stops), and a
    worker with its web started on them with ``closed_kept: 2`` and the case record."""
    tmp = tmp_path_factory.mktemp("history")
    topics = Topics(f"h{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(broker.bootstrap, topics.all(), partitions=4)
    url = f"sqlite:///{tmp / 'record.db'}"
    records = keyed(district())
    publish(broker.bootstrap, topics, records)
    store_everything(url, broker.bootstrap, topics, len(records))
    (tmp / "evidence").mkdir()
    config = write_config(tmp / "web.yaml", web_site(tmp / "evidence", {"closed_kept": 2}))
    env = {
        **os.environ,
        "CITYWATCH_KAFKA": broker.bootstrap,
        "CITYWATCH_TOPIC_PREFIX": topics.prefix,
        "CITYWATCH_DB": url,
    }
    port, log = free_port(), tmp / "worker.log"
    # the records were published without a worker, so its incident table starts empty: without
    # --no-restore it would re-seed the open ones from the case record and publish them again
    worker = start_worker(
        config, env, tmp / "faust", log, web_port=port, tokens=TOKENS_TEXT, extra=("--no-restore",)
    )
    started = Started(f"http://127.0.0.1:{port}", broker.bootstrap, topics, log)
    try:
        ready = wait_for(lambda: started.health().get("board") == "ready", 120, 0.5)
        assert ready, log.read_text()[-3000:]
        yield started
    finally:
        stop(worker)


@pytest.mark.slow
def test_the_board_starts_from_the_store_and_finds_a_closed_incident_past_closed_kept(
    board_from_store: Started,
) -> None:
    base, token, health = board_from_store.base, TOKENS["viewer"], board_from_store.health
    feed = health()["feed"]
    assert "from the case record" in feed["start"] and feed["seeded"] == 7, feed
    assert feed["read"] == 0, feed  # not one record before the store's offsets was read again
    _, live = http("GET", base + "/api/incidents?limit=1000", token=token)
    assert {i["incident_id"] for i in live["incidents"]} == {
        "inc-x1", "inc-x3", "inc-x4", "inc-x6", "inc-x7", "inc-x2", "inc-2"
    }  # fmt: skip
    status, found = http("GET", base + "/api/incidents?q=inc-1", token=token)
    assert status == 200 and found["source"] == "store" and found["total"] == 1
    assert found["incidents"][0]["state"] == "closed"
    status, whole = http("GET", base + "/api/incidents/inc-1", token=token)
    assert status == 200 and whole["source"] == "store"
    assert [h["state"] for h in whole["history"]] == STATES and whole["history_omitted"] == 0
    # what comes after the offsets is read, one record, counted
    newer = incident(3, state="dispatched", at=3 * 86_400, revision=2, case="case-x9", unit="unit-a")
    produce(board_from_store.bootstrap, board_from_store.topics.alerts, [("inc-x3", newer.to_bytes())])
    assert wait_for(lambda: health()["feed"]["read"] == 1, 30)
    assert http("GET", base + "/api/incidents/inc-x3", token=token)[1]["state"] == "dispatched"


@pytest.mark.slow
@pytest.mark.sysdeps("chromium", "chromedriver")
def test_the_history_panel_finds_a_closed_incident_and_shows_it_whole(
    board_from_store: Started, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_web import SHOTS, chrome, click, login

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not look for drivers on the network
    driver = chrome(tmp_path, 1600, 1000)
    try:
        wait = WebDriverWait(driver, 30, poll_frequency=0.1)
        login(driver, board_from_store.base, TOKENS["viewer"])
        wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
        driver.find_element(By.ID, "h-q").send_keys("step 4 of inc-")  # a note: every closed loop
        driver.find_element(By.ID, "h-search").click()
        wait.until(lambda d: "3 incident(s) · page 1 of 1" in d.find_element(By.ID, "h-result").text)
        cards = [
            c.get_attribute("data-incident-id")
            for c in driver.find_elements(By.CSS_SELECTOR, "#h-list .card")
        ]
        assert cards == ["inc-2", "inc-1", "inc-0"]  # inc-1 and inc-0 are past closed_kept
        click(driver, '#h-list .card[data-incident-id="inc-1"]')
        wait.until(lambda d: f"Timeline ({len(STATES)} events)" in d.find_element(By.ID, "h-detail").text)
        detail = driver.find_element(By.ID, "h-detail").text
        assert "the case record" in detail and "case-1" in detail and "step 3 of inc-1" in detail
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / "board-history.png"))
        driver.find_element(By.ID, "h-q").clear()
        driver.find_element(By.ID, "h-q").send_keys("x" * 10)
        driver.find_element(By.ID, "h-search").click()
        wait.until(lambda d: "0 incident(s)" in d.find_element(By.ID, "h-result").text)
    finally:
        driver.quit()


def patrol_topics(kafka: KafkaEnv, monkeypatch: pytest.MonkeyPatch) -> Topics:
    """Topics of their own with 8 partitions: some of dispatch stay empty for the store."""
    topics = Topics(f"p{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(kafka.bootstrap, topics.all(), partitions=8)
    monkeypatch.setenv("CITYWATCH_TOPIC_PREFIX", topics.prefix)
    return topics


def run_patrol(bootstrap: str, url: str) -> tuple[list[str], KafkaSource, PatrolSession]:
    """A patrol of unit-a shown its list, then ended (end of input)."""
    source = KafkaSource(bootstrap, new_only=False, unit_id="unit-a", history=HistoryReader(url))
    session = PatrolSession("unit-a")
    lines: queue.Queue[str | None] = queue.Queue()
    lines.put(None)
    printed: list[str] = []
    try:
        loop(session, source, _NoSink(), lines, threading.Event(), duration_s=60, write=printed.append)
    finally:
        source.close()
    return printed, source, session


class _NoSink:
    def send(self, case_id: str, value: dict[str, Any]) -> None:
        raise AssertionError(f"the patrol sent {case_id} on its own")


@pytest.mark.slow
def test_a_patrol_starts_from_the_store_reading_only_what_lies_past_it(
    kafka: KafkaEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = patrol_topics(kafka, monkeypatch)
    url = f"sqlite:///{tmp_path / 'record.db'}"
    records = keyed(district())
    publish(kafka.bootstrap, topics, records)
    store_everything(url, kafka.bootstrap, topics, len(records))

    printed, source, session = run_patrol(kafka.bootstrap, url)
    assert source.read == 0 and "2 open case(s) from the case record" in source.started, source.started
    assert printed[0] == "unit unit-a: 2 open case(s)"
    assert sorted(session.book.open) == ["case-x1", "case-x5"]

    # an early dispatch of case-x6 (its incident resolved long ago) lands in a partition the
    # store never committed: that partition is read from its beginning, the rest from the
    # store's offsets, and the case record says case-x6 is over
    empty = min(p for p, end in ends(kafka.bootstrap, topics.dispatch).items() if end == 0)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    early = {**records_of(records, "case-x6"), "created_at": "2026-05-28T20:26:41.000Z"}
    old = r.DispatchCase.model_validate(early)
    producer.send(topics.dispatch, key=b"unit-a", value=old.to_bytes(), partition=empty).get(timeout=10)
    producer.close()
    printed, source, session = run_patrol(kafka.bootstrap, url)
    assert source.read == 1  # that one record: every other partition from the store's offset
    assert (
        sorted(session.book.open) == ["case-x1", "case-x5"] and session.book.finished["case-x6"] == "resolved"
    )

    # the command, with its --db
    env = {**kafka.env(), "CITYWATCH_TOPIC_PREFIX": topics.prefix}
    config = write_config(tmp_path / "patrol.yaml")
    done = citywatch(env, "patrol", "--config", str(config), "--unit", "unit-a", "--db", url, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unit unit-a: 2 open case(s)" in done.stdout
    assert "starts with 2 open case(s) from the case record" in done.stdout + done.stderr


def records_of(records: Published, case_id: str) -> dict[str, Any]:
    return next(
        json.loads(raw) for s, _, raw in records if s == "dispatch" and json.loads(raw)["case_id"] == case_id
    )
