"""The city's case system (数字城管) on the embedded broker: a real worker with its web server,
``citywatch casesync``, and a case system of the test's own (an aiohttp server) that refuses a
key it accepted before (409), answers every key's first attempt with 503, and refuses a case
of an unknown category for good (422). A dispatched case reaches it exactly once, even after
casesync restarts; the refused case is dead-lettered and the loop goes on; the case system
calls back 已处置, which becomes the case's ``resolved`` update, and the worker verifies with
the camera and closes the incident, whose 处置 / 核查 / 结案 stages are pushed in turn."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from streams.contract.timeutil import to_iso
from streams.dev.broker import free_port
from streams.kafka_io import committed_offsets

from ..config_support import web_site, write_config
from ..conftest import KafkaEnv
from ..streams_support import (
    Collector,
    absence,
    alert_states,
    presence,
    produce,
    start_worker,
    stop,
    wait_for,
)
from ..web_support import TOKENS, TOKENS_TEXT, http
from .test_roles_start import spawn, stop_cleanly

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT = 90
CITY_TOKEN = "szcg-secret-token-1"  # noqa: S105  # the fake case system's own


class FakeCaseSystem:
    """The city's case system: POST /cases with a bearer token and an Idempotency-Key."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[str, int]] = []  # (key, status answered)
        self.accepted: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cases"

    async def _case(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {CITY_TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        body = await request.json()
        with self._lock:
            tried = any(k == key for k, _ in self.requests)
            if not tried:
                status = 503  # every key's first attempt: the case system is busy
            elif key in self.accepted:
                status = 409
            elif body.get("类别编码") == "999999":
                status = 422
            else:
                status, self.accepted[key] = 201, body
            self.requests.append((key, status))
        answer = {"error": "duplicate"} if status == 409 else {"error": "未知类别 999999"}
        return web.json_response(answer if status >= 400 else {"ok": True}, status=status)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/cases", self._case)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def statuses(self, key: str) -> list[int]:
        with self._lock:
            return [status for k, status in self.requests if k == key]

    def call_back(self, base: str, body: dict[str, Any]) -> tuple[int, Any]:
        """What the city's system does when its officer reports a case: POST the callback."""
        return http(
            "POST", base + "/api/integrations/case-system/callback", token=TOKENS["integration"], body=body
        )


@pytest.fixture
def city() -> Iterator[FakeCaseSystem]:
    fake = FakeCaseSystem()
    fake.start()
    try:
        yield fake
    finally:
        fake.close()


def bogus_case() -> dict[str, Any]:
    """A dispatched case of a category the case system does not know: refused for good."""
    return {
        "v": 1,
        "case_id": "case-bogus",
        "incident_id": "inc-bogus",
        "unit_id": "unit-a",
        "grid_id": "grid-a",
        "category": {"key": "mystery", "code": "999999", "name": "未知"},
        "location": {"address": "某路1号"},
        "created_at": to_iso(time.time()),
        "due_at": to_iso(time.time() + 3600),
        "state": "dispatched",
        "level": "street",
    }


def test_a_dispatched_case_reaches_the_city_once_and_its_callback_closes_it(
    kafka: KafkaEnv, city: FakeCaseSystem, tmp_path: Path
) -> None:
    t = kafka.topics
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    site = web_site(evidence)
    site["case_system"] = {
        "url": city.url,
        "token_env": "SZCG_TOKEN",
        "case_prefix": "CW-",
        "backoff_initial_s": 0.2,
        "backoff_cap_s": 1,
        "categories": {"200504": {"major": "街面秩序", "minor": "店外经营"}},
    }
    config = write_config(tmp_path / "cameras.yaml", site)
    env = {**kafka.env(), "SZCG_TOKEN": CITY_TOKEN}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker_log, sync_log = tmp_path / "worker.log", tmp_path / "casesync.log"
    worker = start_worker(config, env, tmp_path / "faust", worker_log, web_port=port, tokens=TOKENS_TEXT)
    health = free_port()
    sync_args = ("casesync", "--config", str(config), "--health-port", str(health))
    sync = spawn(tmp_path, env, sync_log, *sync_args)
    collector = Collector(kafka.bootstrap, [t.dispatch, t.dispatch_updates, t.alerts, t.deadletter])
    try:
        up = wait_for(lambda: http("GET", base + "/healthz", timeout=2)[0] == 200, START_TIMEOUT, 0.5)
        assert up, worker_log.read_text()[-3000:]
        # a case the city refuses for good comes first: dead-lettered, and the loop goes on
        produce(kafka.bootstrap, t.dispatch, [("unit-a", bogus_case())])

        # a bench on the walkway in front of cam-a: open -> warned -> dispatched (grace 3 s)
        now = time.time()
        produce(
            kafka.bootstrap,
            t.detections,
            [("cam-a", f) for f in presence("cam-a", "storefront", "bench", now, 6)],
        )
        assert wait_for(
            lambda: any(d["case_id"] != "case-bogus" for d in collector.values(t.dispatch)), START_TIMEOUT
        )
        case = next(d for d in collector.values(t.dispatch) if d["case_id"] != "case-bogus")
        case_id, incident_id = case["case_id"], case["incident_id"]
        first = f"{case_id}:1"

        assert wait_for(lambda: first in city.accepted, 60), sync_log.read_text()[-3000:]
        sent = city.accepted[first]
        assert sent["案件编号"] == f"CW-{case_id}" and sent["问题来源"] == "智能视频发现"
        assert (sent["大类"], sent["小类"], sent["派遣时间"]) == ("街面秩序", "店外经营", case["created_at"])
        assert sent["描述"].startswith("店外经营：")
        letters = [d for d in collector.values(t.deadletter) if d["_key"] == t.dispatch]
        assert (
            len(letters) == 1 and "(422)" in letters[0]["error"] and "未知类别 999999" in letters[0]["error"]
        )
        assert json.loads(base64.b64decode(letters[0]["raw"]))["case_id"] == "case-bogus"
        assert city.statuses("case-bogus:1") == [503, 422]

        # health and metrics of the role
        assert wait_for(lambda: http("GET", f"http://127.0.0.1:{health}/healthz")[0] == 200, 30)
        assert http("GET", f"http://127.0.0.1:{health}/healthz")[1]["role"] == "casesync"
        _, metrics = http("GET", f"http://127.0.0.1:{health}/metrics")
        assert 'citywatch_casesync_cases_total{outcome="accepted"}' in metrics
        assert 'citywatch_role_deadletters_total{role="casesync"} 1.0' in metrics

        # restart once both dispatch records are committed: neither is pushed again
        group = f"{t.prefix}casesync"
        assert wait_for(
            lambda: sum(committed_offsets(kafka.bootstrap, group, [t.dispatch]).values()) == 2, 30
        )
        stop_cleanly(sync, sync_log)
        sync_log = tmp_path / "casesync-2.log"
        sync = spawn(tmp_path, env, sync_log, *sync_args)

        # the camera sees the walkway clear; then the city's officer reports the case 已处置
        produce(
            kafka.bootstrap,
            t.detections,
            [("cam-a", f) for f in absence("cam-a", max(time.time(), now + 6), 4, seq0=1000)],
        )
        assert wait_for(lambda: "camera sees the zone clear" in json.dumps(incident(base, incident_id)), 30)
        report = {
            "案件编号": f"CW-{case_id}",
            "状态": "已处置",
            "备注": "城管队员已处置",
            "时间": to_iso(time.time()),
        }
        assert city.call_back(base, report)[0] == 202
        assert city.call_back(base, report) == (200, {"duplicate": True, "case_id": case_id})  # sends nothing
        assert wait_for(lambda: alert_states(collector.values(t.alerts), incident_id)[-1:] == ["closed"], 60)
        updates = [u for u in collector.values(t.dispatch_updates) if u["case_id"] == case_id]
        assert [(u["status"], u["unit_id"], u["by"]) for u in updates] == [
            ("resolved", case["unit_id"], "szcg")
        ]
        states = alert_states(collector.values(t.alerts), incident_id)
        assert states[-4:] == ["resolved", "verifying", "verified", "closed"], states

        # the stages after dispatch reach the city, each once; the dispatch was not pushed again
        closing = f"{case_id}:4"
        assert wait_for(lambda: closing in city.accepted, 60), sync_log.read_text()[-3000:]
        done = city.accepted[closing]
        assert done["处置时间"] <= done["核查时间"] <= done["结案时间"]
        assert city.statuses(first) == [503, 201]
        for key in city.accepted:
            assert city.statuses(key).count(201) == 1, (key, city.statuses(key))
        stop_cleanly(sync, sync_log)
        assert "Traceback" not in sync_log.read_text()
    finally:
        collector.close()
        stop(sync)
        stop(worker)


def incident(base: str, incident_id: str) -> dict[str, Any]:
    status, body = http("GET", f"{base}/api/incidents/{incident_id}", token=TOKENS["viewer"])
    return body if status == 200 else {}
