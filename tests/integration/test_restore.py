"""The store is the truth when the broker forgets: an incident warned and dispatched is in the
case record; the embedded broker restarts empty (memory storage), the worker and the store
restart; the worker re-seeds the incident and its case from the case record, the board shows
them, the patrol resolves the case, the camera sees the walkway clear, the incident closes, and
the case record holds it once with its whole history (no event twice)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics
from streams.store import database, schema

from ..config_support import streams_site, write_config
from ..streams_support import Collector, Feed, start_worker, stop, wait_for
from ..web_support import http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "restore-admin-token-0123456789"  # noqa: S105 - a test token
JOIN_TIMEOUT = 90  # a group join waits for the rebalance timeout


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port=free_port())
    try:
        yield broker
    finally:
        broker.stop()


def start_store(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "store"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stored_incident(engine: Engine, incident_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(schema.incidents.c.state, schema.incidents.c.record).where(
                schema.incidents.c.incident_id == incident_id
            )
        ).first()
    return None if row is None else {"state": row.state, **row.record}


def stored_events(engine: Engine, incident_id: str) -> list[tuple[str, str, str, str]]:
    e = schema.incident_events
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.c.at, e.c.state, e.c.actor, e.c.note).where(e.c.incident_id == incident_id)
        )
        return sorted((r.at, r.state, r.actor, r.note) for r in rows)


def test_an_open_case_survives_a_broker_that_forgot_everything(
    own_broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = Topics(f"s{uuid.uuid4().hex[:8]}.citywatch.")
    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("CITYWATCH_TOPIC_PREFIX", topics.prefix)
    monkeypatch.setenv("CITYWATCH_KAFKA", own_broker.bootstrap)
    monkeypatch.setenv("CITYWATCH_DB", url)
    own_broker.start()
    ensure_topics(own_broker.bootstrap, topics.all(), partitions=4)
    env = dict(os.environ)
    site = streams_site()
    site["categories"]["out_of_store_business"]["sla_s"] = 3600  # no escalation while the broker is away
    config = write_config(tmp_path / "streams.yaml", site)
    web_port = free_port()
    log, store_log = tmp_path / "worker.log", tmp_path / "store.log"

    def api(path: str, body: Any = None) -> tuple[int, Any]:
        method = "GET" if body is None else "POST"
        return http(method, f"http://127.0.0.1:{web_port}{path}", token=TOKEN, body=body, timeout=30)

    def run_worker() -> subprocess.Popen[bytes]:
        return start_worker(
            config, env, tmp_path / "faust", log, web_port=web_port, tokens=f"{TOKEN}=admin@hq"
        )

    def tail() -> str:
        return log.read_text()[-6000:] + "\n--- store ---\n" + store_log.read_text()[-2000:]

    worker, store = run_worker(), start_store(env, store_log)
    engine: Engine | None = None
    try:
        # before: warned, still there after grace, dispatched to unit-a; the case record has it
        cam = Feed(own_broker.bootstrap, topics.detections, "cam-a")
        with Collector(own_broker.bootstrap, [topics.alerts]) as before:
            cam.present("storefront", "bench", 6)
            assert wait_for(
                lambda: any(a["state"] == "warned" for a in before.values(topics.alerts)), JOIN_TIMEOUT
            ), tail()
            cam.present("storefront", "bench", 5)
            assert wait_for(
                lambda: any(a["state"] == "dispatched" for a in before.values(topics.alerts)), 60
            ), tail()
            [dispatched] = [a for a in before.values(topics.alerts) if a["state"] == "dispatched"]
        incident_id, case_id = dispatched["incident_id"], dispatched["case_id"]
        engine = database.open_engine(url)
        assert wait_for(lambda: (stored_incident(engine, incident_id) or {}).get("case_id") == case_id, 60), (
            tail()
        )
        assert stored_incident(engine, incident_id)["state"] == "dispatched"  # type: ignore[index]

        # the broker restarts empty; the worker and the store restart
        stop(worker)
        stop(store)
        own_broker.stop()
        own_broker.start()  # the same port, memory storage: no topics at all
        worker, store = run_worker(), start_store(env, store_log)

        # the worker re-seeded the incident and its case from the case record: on the board
        def on_board() -> bool:
            status, body = api(f"/api/incidents/{incident_id}")
            return (
                status == 200
                and body["source"] == "board"  # the live board's, not the case record's answer
                and body["state"] == "dispatched"
                and body["case_id"] == case_id
            )

        assert wait_for(on_board, JOIN_TIMEOUT), tail()
        assert "re-seeded from the case record" in log.read_text()
        status, cases = api("/api/units/unit-a/cases")
        assert status == 200 and [c["case_id"] for c in cases["cases"]] == [case_id], cases

        with Collector(own_broker.bootstrap, [topics.alerts, topics.violations]) as after:
            # the camera still sees the bench, then the walkway is cleared
            cam.present("storefront", "bench", 4)
            cam.absent(5)

            def seen_clear() -> bool:
                return any(
                    a["incident_id"] == incident_id
                    and a["history"][-1]["note"] == "camera sees the zone clear"
                    for a in after.values(topics.alerts)
                )

            assert wait_for(seen_clear, 60), tail()
            # the patrol resolves the case on the web; the camera's word closes it
            for status_word in ("accepted", "resolved"):
                status, answer = api(
                    f"/api/cases/{case_id}/updates", {"status": status_word, "note": "已处理"}
                )
                assert status == 202, answer

            def closed() -> bool:
                return any(
                    a["incident_id"] == incident_id and a["state"] == "closed"
                    for a in after.values(topics.alerts)
                )

            assert wait_for(closed, 60), tail()
            [final] = [
                a
                for a in after.values(topics.alerts)
                if a["incident_id"] == incident_id and a["state"] == "closed"
            ]
        states = [h["state"] for h in final["history"]]
        for state in (
            "open",
            "warned",
            "dispatched",
            "accepted",
            "resolved",
            "verifying",
            "verified",
            "closed",
        ):
            assert state in states, states
        assert states.index("dispatched") < states.index("accepted")  # one history, before and after

        # the case record: one incident, closed, its whole history once
        assert wait_for(lambda: (stored_incident(engine, incident_id) or {}).get("state") == "closed", 60), (
            tail()
        )
        assert final["history_omitted"] == 0
        history = sorted((h["at"], h["state"], h["by"], h["note"]) for h in final["history"])
        assert stored_events(engine, incident_id) == history
        with engine.connect() as conn:
            incidents = conn.execute(select(schema.incidents.c.incident_id)).all()
            case_rows = conn.execute(select(schema.cases.c.case_id)).all()
        assert [r.incident_id for r in incidents] == [incident_id]
        assert [r.case_id for r in case_rows] == [case_id]
        assert worker.poll() is None and store.poll() is None, tail()
    finally:
        stop(worker)
        stop(store)
        if engine is not None:
            engine.dispose()
