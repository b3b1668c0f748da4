"""`citywatch notify` on the embedded broker, telling robots served by a local aiohttp server:
each vendor's payload shape and DingTalk's signature checked by the server, a WeCom "too
frequent" (errcode 45009) answered once and the message retried; a burst of 25 cases as 20
messages and one digest of the other 5; a restart that reads everything again (a new consumer
group) sends nothing twice."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from streams.dev.broker import free_port
from streams.kafka_io import committed_offsets

from ..config_support import write_config
from ..conftest import KafkaEnv
from ..notify_support import alert, case, entry, notify_site, overdue_then_escalated
from ..streams_support import produce, stop, wait_for

pytestmark = pytest.mark.integration

SECRET = "SECnotify-test"  # noqa: S105 - the test robot's signing secret
OFFLINE = {"key": "camera_offline", "code": "900101", "name": "摄像头离线"}


class RobotServer:
    """WeCom at /wecom, DingTalk at /dingtalk, a webhook at /hook: every request kept with what
    the server found wrong with it; /wecom answers errcode 45009 to its first request."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, list[dict[str, Any]]] = {"wecom": [], "dingtalk": [], "hook": []}
        self.problems: list[str] = []
        self.busy_once = True
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def _wecom(self, request: web.Request) -> web.Response:
        body = await request.json()
        if set(body) != {"msgtype", "markdown"} or set(body["markdown"]) != {"content"}:
            self.problems.append(f"wecom payload {body}")
        if self.busy_once:
            self.busy_once = False
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        self.received["wecom"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _dingtalk(self, request: web.Request) -> web.Response:
        body = await request.json()
        ts, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
        mac = hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
        if request.query.get("access_token") != "tok" or sign != base64.b64encode(mac).decode():
            self.problems.append(f"dingtalk signature {dict(request.query)}")
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        if abs(int(ts) / 1000 - time.time()) > 3600 or set(body["markdown"]) != {"title", "text"}:
            self.problems.append(f"dingtalk payload {ts} {body}")
        self.received["dingtalk"].append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _hook(self, request: web.Request) -> web.Response:
        self.received["hook"].append(await request.json())
        return web.Response(status=204)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/wecom", self._wecom)
        app.router.add_post("/dingtalk", self._dingtalk)
        app.router.add_post("/hook", self._hook)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> RobotServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    with RobotServer() as server:
        yield server


def start_notify(
    config: Path, env: dict[str, str], state: Path, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "notify",
                "--config",
                str(config),
                "--state",
                str(state),
                *extra,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def texts(bodies: list[dict[str, Any]], key: str = "content") -> list[str]:
    return [b["markdown"][key] for b in bodies]


def test_each_vendor_gets_its_payload_signed_and_a_45009_is_retried(
    kafka: KafkaEnv, robots: RobotServer, tmp_path: Path
) -> None:
    robot_list = [
        {"id": "wx", "type": "wecom", "url_env": "NOTIFY_TEST_WECOM"},
        {
            "id": "dd",
            "type": "dingtalk",
            "url": robots.url("dingtalk?access_token=tok"),
            "secret_env": "NOTIFY_TEST_DD",
        },
        {"id": "hook", "type": "webhook", "url": robots.url("hook")},
    ]
    rules = [
        {"events": ["dispatched"], "streets": ["heping"], "robots": ["wx"]},
        {"events": ["overdue", "escalated"], "robots": ["dd"]},
        {"events": ["camera_offline"], "robots": ["hook", "wx"]},
    ]
    config = write_config(tmp_path / "cameras.yaml", notify_site(robot_list, rules))
    env = {**kafka.env(), "NOTIFY_TEST_WECOM": robots.url("wecom"), "NOTIFY_TEST_DD": SECRET}
    now = time.time()
    offline = alert(
        3, [entry(now - 5, "open", "camera offline since x: no frames")], category=OFFLINE, at=now - 5
    )
    produce(kafka.bootstrap, kafka.topics.dispatch, [("unit-a", case(1, at=now).to_dict())])
    produce(
        kafka.bootstrap,
        kafka.topics.alerts,
        [("inc-2", overdue_then_escalated(2, at=now - 120).to_dict()), ("inc-3", offline.to_dict())],
    )
    proc = start_notify(config, env, tmp_path / "notify.db", tmp_path / "notify.log")
    try:
        assert wait_for(
            lambda: len(robots.received["wecom"]) >= 2 and len(robots.received["dingtalk"]) >= 2
            and len(robots.received["hook"]) >= 1,
            60,
        ), (robots.received, (tmp_path / "notify.log").read_text())  # fmt: skip
    finally:
        stop(proc)
    assert robots.problems == []
    wecom = sorted(texts(robots.received["wecom"]))
    assert len(wecom) == 2 and not robots.busy_once  # the 45009 answer was retried
    assert "【派遣】店外经营" in wecom[1] and "https://citywatch.example.gov.cn/?incident=inc-1" in wecom[1]
    assert "和平街道 / grid-a" in wecom[1] and "处置时限" in wecom[1]
    assert "【摄像头离线】摄像头离线" in wecom[0]
    titles = [b["markdown"]["title"] for b in robots.received["dingtalk"]]
    assert sorted(titles) == ["【升级】店外经营", "【超期】店外经营"]
    (hook,) = robots.received["hook"]
    assert (hook["event"], hook["incident_id"], hook["record"]["category"]["key"]) == (
        "camera_offline",
        "inc-3",
        "camera_offline",
    )


def test_a_burst_is_paced_into_a_digest_and_a_restart_sends_nothing_twice(
    kafka: KafkaEnv, robots: RobotServer, tmp_path: Path
) -> None:
    robots.busy_once = False
    robot_list = [{"id": "dd", "type": "dingtalk", "url": robots.url("dingtalk?access_token=tok"),
                   "secret_env": "NOTIFY_TEST_DD", "per_minute": 20, "window_s": 15}]  # fmt: skip
    config = write_config(tmp_path / "cameras.yaml", notify_site(robot_list, [{"robots": ["dd"]}]))
    env = {**kafka.env(), "NOTIFY_TEST_DD": SECRET}
    now = time.time()
    burst = [("unit-a", case(n, at=now + n / 1000).to_dict()) for n in range(25)]
    produce(kafka.bootstrap, kafka.topics.dispatch, burst)
    state, log = tmp_path / "var" / "notify.db", tmp_path / "notify.log"
    got = robots.received["dingtalk"]
    port = free_port()
    proc = start_notify(config, env, state, log, "--health-port", str(port))
    try:
        assert wait_for(lambda: len(got) >= 21, 90), (len(got), log.read_text())
        digest_counted = 'citywatch_notify_messages_total{outcome="digest",robot="dd"} 1.0'

        def scrape() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()

        # the server has the digest a moment before the role hears its answer and counts it
        assert wait_for(lambda: digest_counted in scrape(), 30)
        metrics = scrape()
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read())
    finally:
        stop(proc)
    assert digest_counted in metrics
    assert 'citywatch_notify_messages_total{outcome="sent",robot="dd"} 20.0' in metrics
    assert health["role"] == "notify" and "robots" not in health["degraded"]
    assert robots.problems == []
    first = texts(got[:20], "text")
    assert all(t.count("?incident=") == 1 for t in first)  # one event each, the window's 20
    digest = got[20]["markdown"]
    assert digest["title"].startswith("【汇总】5 条事件") and digest["text"].count("?incident=") == 5
    told = {f"inc-{n}" for n in range(25)}
    assert {line.split("?incident=")[1].split(")")[0] for t in texts(got, "text") for line in t.splitlines()
            if "?incident=" in line} == told  # fmt: skip

    # a restart reading every record again (a new consumer group), the same records produced
    # again, then one new case: only the new case is told
    produce(kafka.bootstrap, kafka.topics.dispatch, burst)
    again, topic = f"{kafka.topics.prefix}notify-again", kafka.topics.dispatch
    proc = start_notify(config, env, state, log, "--group", again)
    try:
        produce(kafka.bootstrap, kafka.topics.dispatch, [("unit-a", case(99, at=time.time()).to_dict())])
        assert wait_for(lambda: len(got) >= 22, 90), (len(got), log.read_text())
        # every record read again is in the outbox (its offsets committed after it), and sent
        assert wait_for(lambda: sum(committed_offsets(kafka.bootstrap, again, [topic]).values()) == 51, 60)
    finally:
        stop(proc, signal.SIGTERM)
    assert len(got) == 22, [b["markdown"]["title"] for b in got[21:]]
    assert (
        got[21]["markdown"]["text"].count("?incident=") == 1
        and "?incident=inc-99" in got[21]["markdown"]["text"]
    )
