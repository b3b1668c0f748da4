"""From a camera to the monthly report: a scripted scenario through the worker (on the embedded
broker) and the store into SQLite, then `citywatch report --format json` over it."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from streams.contract.timeutil import from_iso, to_iso
from streams.contract.topics import Topics
from streams.kafka_io import ensure_topics
from streams.store import database, schema
from streams.store.role import Store, StoreOptions

from ..config_support import write_config
from ..conftest import KafkaEnv
from ..streams_support import Collector, absence, citywatch, presence, produce, start_worker, stop, wait_for

pytestmark = pytest.mark.integration

T0 = from_iso("2026-05-26T02:00:00.000Z")  # 10:00 in Shanghai, the test district's timezone
TIMEOUT = 90


def detections(kafka: KafkaEnv, records: Any) -> None:
    produce(kafka.bootstrap, kafka.topics.detections, [(r["camera_id"], r) for r in records])


def states(collector: Collector, topics: Topics) -> list[str]:
    return [a["state"] for a in collector.values(topics.alerts)]


def test_a_case_from_the_camera_to_the_report(kafka: KafkaEnv, tmp_path: Path) -> None:
    topics = Topics(f"k{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(kafka.bootstrap, topics.all(), partitions=4)
    env = KafkaEnv(kafka.bootstrap, topics)
    config = write_config(tmp_path / "streams.yaml")
    url = f"sqlite:///{tmp_path / 'record.db'}"
    engine = database.open_engine(url)
    database.upgrade(engine)
    store = Store(engine, StoreOptions(kafka.bootstrap, topics, retry_s=0.5))
    halt = threading.Event()
    stored = threading.Thread(target=store.run, args=(halt,), kwargs={"duration_s": 240})
    worker = start_worker(config, env.env(), tmp_path / "faust", tmp_path / "worker.log")
    collector = Collector(kafka.bootstrap, [topics.alerts, topics.dispatch])
    stored.start()
    try:
        detections(env, presence("cam-a", "storefront", "bench", T0, 12))  # past dwell and grace
        log = tmp_path / "worker.log"
        assert wait_for(lambda: collector.values(topics.dispatch), TIMEOUT), log.read_text()[-3000:]
        case = collector.values(topics.dispatch)[0]
        updates = [("accepted", 13), ("arrived", 14), ("resolved", 15)]
        produce(
            kafka.bootstrap,
            topics.dispatch_updates,
            [(case["case_id"], {"v": 1, "case_id": case["case_id"], "unit_id": case["unit_id"], "status": s,
              "note": "", "at": to_iso(T0 + t)}) for s, t in updates],
        )  # fmt: skip
        assert wait_for(lambda: "verifying" in states(collector, topics), TIMEOUT), states(collector, topics)
        detections(env, absence("cam-a", T0 + 16, 10, seq0=100))  # the camera sees the walkway clear
        assert wait_for(lambda: "closed" in states(collector, topics), TIMEOUT), states(collector, topics)

        def closed_in_store() -> bool:
            with engine.connect() as conn:
                return "closed" in conn.scalars(select(schema.incidents.c.state)).all()

        assert wait_for(closed_in_store, TIMEOUT), store.stats.summary()
    finally:
        halt.set()
        stored.join(30)
        stop(worker)
        collector.close()
    period = ["--from", "2026-05-26", "--to", "2026-05-27"]
    args = ["report", "--config", str(config), *period, "--by", "unit", "--format", "json"]
    out = citywatch({**env.env(), "CITYWATCH_DB": url}, *args)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    total = report["total"]
    assert (total["cases_dispatched"], total["cases_closed"], total["close_rate"]) == (1, 1, 1.0)
    assert (total["cases_on_time"], total["rework_rate"], total["overdue"]["cases"]) == (1, 0.0, 0)
    # the warning was sent, but no loudspeaker played it (no gateway here): not effective
    assert (total["incidents_warned"], total["warning_effectiveness"]) == (1, 0.0)
    assert total["dispatch_to_accept"]["n"] == 1 and total["open_to_close"]["n"] == 1
    assert [g["unit"] for g in report["groups"]] == [case["unit_id"]]
