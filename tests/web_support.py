"""Helpers for the command-centre tests: tokens, a seeded board, a fake publisher,
an aiohttp test client around the app."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

from streams.config import Config
from streams.contract.topics import Topics
from streams.store.database import LazyEngine, upgrade
from streams.web.api import WebState, create_app
from streams.web.auth import Sessions, TokenRegistry, parse_tokens
from streams.web.board import Board
from streams.web.evidence import EvidenceFiles

from .config_support import parse, web_site

T = TypeVar("T")

TOKENS = {
    "viewer": "viewer-token-0001",
    "operator": "operator-token-0001",
    "admin": "admin-token-00001",
    "patrol_a": "patrol-a-token-0001",
    "patrol_d": "patrol-d-token-0001",
    "ingest": "ingest-token-00001",
    "integration": "integration-token-01",
}
TOKENS_TEXT = ",".join(
    [
        f"{TOKENS['viewer']}=viewer@li",
        f"{TOKENS['operator']}=operator@zhang",
        f"{TOKENS['admin']}=admin",
        f"{TOKENS['patrol_a']}=patrol:unit-a@wang",
        f"{TOKENS['patrol_d']}=patrol:unit-d",
        f"{TOKENS['ingest']}=ingest@gateway",
        f"{TOKENS['integration']}=integration@szcg",
    ]
)
# a tiny valid JPEG (1x1 px): enough for type sniffing and for a browser to show it
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5"
    "PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)


def web_config(evidence_dir: Path, web: dict[str, Any] | None = None) -> Config:
    return parse(web_site(evidence_dir, web), "web-test.yaml")


def alert(
    incident_id: str = "inc-1",
    *,
    camera: str = "cam-a",
    state: str = "dispatched",
    unit: str | None = "unit-a",
    case_id: str | None = "case-1",
    evidence: list[str] | None = None,
    history: int = 2,
    category: str = "out_of_store_business",
    at: str = "2026-05-26T02:14:03.120Z",
) -> dict[str, Any]:
    return {
        "v": 1,
        "incident_id": incident_id,
        "category": {"key": category, "code": "200504", "name": "店外经营"},
        "camera_id": camera,
        "zone_id": "storefront",
        "location": {
            "address": "和平路12号",
            "shop": "老王便利店",
            "grid_id": "grid-a",
            "lat": None,
            "lon": None,
        },
        "state": state,
        "opened_at": "2026-05-26T02:10:00.000Z",
        "updated_at": at,
        "evidence": evidence or [],
        "history": [{"at": at, "state": state, "by": "rules", "note": f"step {i}"} for i in range(history)],
        "case_id": case_id,
        "unit_id": unit,
        "level": "street" if unit else None,
        "due_at": "2026-05-26T03:14:03.120Z" if case_id else None,
        "rework": 0,
        "warnings": 1,
        "held": False,
        "labels": ["bench"],
    }


@dataclass
class FakePublisher:
    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None:
        self.sent.append((topic, key, value))


def empty_case_record(path: Path) -> Callable[[], Engine]:
    """A migrated, empty case record made on first use (only the reports open it)."""
    lazy = LazyEngine(f"sqlite:///{path}")
    made: list[Engine] = []

    def engine() -> Engine:
        if not made:
            made.append(lazy())
            upgrade(made[0])
        return made[0]

    return engine


def make_state(
    tmp: Path,
    board: Board | None = None,
    now: Callable[[], float] = time.time,
    web: dict[str, Any] | None = None,
) -> WebState:
    """A command centre without a broker; ``web`` overrides fields of the ``web:`` section."""
    evidence_dir = tmp / "evidence"
    evidence_dir.mkdir(exist_ok=True)
    cfg = web_config(evidence_dir, web)
    return WebState(
        cfg=cfg,
        topics=Topics("t.citywatch."),
        board=board or Board(),
        tokens=TokenRegistry(parse_tokens(TOKENS_TEXT, "test", [u.id for u in cfg.units])),
        sessions=Sessions(3600, per_token=cfg.web.max_sessions_per_token),
        evidence=EvidenceFiles(evidence_dir, photos_max_bytes=int(cfg.web.photos_max_mb * 1024 * 1024)),
        publisher=FakePublisher(),
        metrics=lambda: "# metrics\n",
        now=now,
        case_record=empty_case_record(tmp / "record.db"),
    )


def run_client(state: WebState, scenario: Callable[[TestClient[Any, Any]], Awaitable[T]]) -> T:
    """Run ``scenario(client)`` against the app in a fresh event loop."""

    async def main() -> T:
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(state)))
        await client.start_server()
        try:
            return await scenario(client)
        finally:
            state.hub.close()
            await client.close()

    return asyncio.run(main())


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


SseEvent = tuple[str, dict[str, Any]]


async def read_sse(res: Any, until: Callable[[list[SseEvent]], bool], timeout_s: float) -> list[SseEvent]:
    """Server-sent events of ``res`` (after the hello) until ``until(events)``; each line waits
    at most ``timeout_s``."""
    events: list[SseEvent] = []
    kind = ""
    while not until(events):
        line = (await asyncio.wait_for(res.content.readline(), timeout_s)).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind != "hello":
            events.append((kind, json.loads(line[6:])))
    return events


# ---------------------------------------------------------------- HTTP to a real worker


def http(
    method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, Any]:
    """One HTTP request with the standard library; returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310  # our own local server
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:  # noqa: S310
            status, raw, ctype = res.status, res.read(), res.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None
    return status, json.loads(raw) if "json" in ctype else raw.decode("utf-8", "replace")


# ---------------------------------------------------------------- camera wall and screenshots


def write_live(evidence_dir: Path, camera_id: str, picture: bytes | None, record: dict[str, Any]) -> None:
    """A camera's live picture (``None``: only its sidecar) and sidecar, as the edge writes them
    (detectors/live.py: ``<evidence.dir>/live/<camera_id>.jpg`` then ``.json``)."""
    folder = evidence_dir / "live"
    folder.mkdir(parents=True, exist_ok=True)
    if picture is not None:
        (folder / f"{camera_id}.jpg").write_bytes(picture)
    (folder / f"{camera_id}.json").write_text(json.dumps(record, ensure_ascii=False), "utf-8")


def live_sidecar(
    camera_id: str, captured_at: str, *, status: str = "online", **fields: Any
) -> dict[str, Any]:
    """A live picture's sidecar (detectors/live.py ``sidecar``) with one bench in a zone."""
    return {
        "v": 1,
        "camera_id": camera_id,
        "captured_at": captured_at,
        "frame_size": [640, 360],
        "fps": 2.0,
        "status": status,
        "objects": [{"label": "bench", "score": 0.8, "box": [0.1, 0.6, 0.3, 0.9], "zones": ["storefront"]}],
        **fields,
    }


SCREENSHOTS_ENV = "CITYWATCH_SCREENSHOTS"


def save_screenshot(driver: Any, name: str) -> Path | None:
    """Save the browser's window as ``<$CITYWATCH_SCREENSHOTS>/<name>.png`` when that variable is
    set (the directory is created); do nothing otherwise. Returns the file written, if any."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if not folder:
        return None
    path = Path(folder) / (name if name.endswith(".png") else f"{name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


# ---------------------------------------------------------------- a worker with its web server


@dataclass
class WebWorker:
    """A ``citywatch worker`` subprocess with its web server, on topics of its own."""

    base: str
    bootstrap: str
    topics: Topics
    config: Path
    evidence: Path
    log: Path
    env: dict[str, str]
    pid: int


WEB_START_TIMEOUT = 90


@contextlib.contextmanager
def web_worker_on(
    bootstrap: str,
    tmp: Path,
    site: dict[str, Any],
    *,
    tokens: str = TOKENS_TEXT,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    config_name: str = "web.yaml",
    ready: Callable[[Any], bool] | None = None,
    topics: Topics | None = None,
) -> Iterator[WebWorker]:
    """Start a worker with web on ``site`` (written to ``tmp/config_name``; its evidence.dir is
    ``tmp/evidence``), wait until ``/healthz`` answers (and ``ready(body)`` holds when given),
    and stop it after the block. ``env`` adds to (or replaces) the worker's environment; ``topics``:
    topics made already (default: new ones)."""
    from streams.dev.broker import free_port
    from streams.kafka_io import ensure_topics

    from .config_support import write_config
    from .streams_support import start_worker, stop, wait_for

    if topics is None:
        topics = Topics(f"w{uuid.uuid4().hex[:8]}.citywatch.")
        ensure_topics(bootstrap, topics.all(), partitions=4)
    evidence = tmp / "evidence"
    evidence.mkdir(exist_ok=True)
    full_env = {**os.environ, "CITYWATCH_KAFKA": bootstrap, "CITYWATCH_TOPIC_PREFIX": topics.prefix}
    full_env |= env or {}
    port, log = free_port(), tmp / "worker.log"
    config = write_config(tmp / config_name, site)
    proc = start_worker(config, full_env, tmp / "faust", log, web_port=port, tokens=tokens, extra=extra)
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            status, body = http("GET", base + "/healthz", timeout=2)
            return status == 200 and (ready is None or ready(body))

        assert wait_for(up, WEB_START_TIMEOUT, 0.5), log.read_text()[-3000:]
        yield WebWorker(base, bootstrap, topics, config, evidence, log, full_env, proc.pid)
    finally:
        stop(proc)
