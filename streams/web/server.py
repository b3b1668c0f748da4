"""The web server inside the Faust worker (I/O edge): tokens from file and
environment, the aiohttp site, the board's reader, and the metrics it exports.

The case record (history, and where the board starts) is found by the store's own rule:
``CITYWATCH_DB``, else ``store.url``, else ``sqlite:///var/citywatch.db`` (relative to the
working directory); the web only reads it (streams/store/reader.py).

It is registered with ``app.web_server(...)``, so Faust starts it after table
recovery when the worker has a web port, and stops it with the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from mode import Service

from streams.config import Config
from streams.contract.errors import BrokerUnavailableError, WebError
from streams.logic.worktime import SlaClocks
from streams.store.database import LazyEngine, database_url
from streams.store.reader import HistoryReader
from streams.web import metrics as prom
from streams.web.api import create_app
from streams.web.auth import Principal, Sessions, TokenRegistry, parse_tokens
from streams.web.board import Board
from streams.web.evidence import EvidenceFiles
from streams.web.feed import Feed, latency_histograms
from streams.web.metrics import Histogram
from streams.web.scope import scopes_of
from streams.web.seed import StoreStart
from streams.web.state import WebState
from streams.worker.resilience import send_acked

if TYPE_CHECKING:
    from streams.worker import Worker

logger = logging.getLogger(__name__)

ENV_TOKENS = "CITYWATCH_TOKENS"


def load_tokens(cfg: Config, environ: Mapping[str, str], base: Path | None = None) -> TokenRegistry:
    """Tokens of ``web.tokens_file`` and ``CITYWATCH_TOKENS``; with none, one random admin token (logged)."""
    units = [u.id for u in cfg.units]
    scopes = scopes_of(cfg)
    entries: list[tuple[str, Principal]] = []
    if cfg.web.tokens_file:
        path = Path(cfg.web.tokens_file)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise WebError(f"web.tokens_file {path}: cannot read it ({exc.strerror}); fix the path") from None
        entries += parse_tokens(text, str(path), units, scopes)
    if environ.get(ENV_TOKENS):
        entries += parse_tokens(environ[ENV_TOKENS], ENV_TOKENS, units, scopes)
    if not entries:
        token = secrets.token_urlsafe(18)
        logger.warning(
            "web: no tokens configured (web.tokens_file or %s); this run's admin token is %s",
            ENV_TOKENS,
            token,
        )
        entries.append((token, Principal("admin", "admin")))
    return TokenRegistry(entries)


class WorkerPublisher:
    """Sends the web's requests through the worker's producer."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._topics: dict[str, Any] = {}

    async def send(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """Returns once Kafka acknowledged the record; 503 (WebError) when it does not in time."""
        handle = self._topics.get(topic)
        if handle is None:
            handle = self._topics[topic] = self._worker.topic(topic)
        raw = json.dumps(value, ensure_ascii=False).encode()
        try:
            await send_acked(handle, key.encode(), raw)
        except BrokerUnavailableError as exc:
            logger.warning("web: a request to %s was not accepted: %s", topic, exc)
            raise WebError(str(exc), 503) from None


def worker_lag(app: Any) -> dict[str, int]:
    """Records not yet read by this worker's consumer, per topic (its assigned partitions)."""
    lag: dict[str, int] = {}
    try:
        consumer = app.consumer
        read = consumer._read_offset  # faust keeps the last offset it read per partition
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            last = read.get(tp)
            pending = high - (last + 1 if last is not None else 0)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, pending)
    except (AttributeError, KeyError, TypeError, RuntimeError):
        return {}
    return lag


class WebService(Service):
    """Serves the command centre and runs the board's reader while the worker runs."""

    def __init__(
        self, state: WebState, feed: Feed, *, bootstrap: str, bind: str, port: int, **kwargs: Any
    ) -> None:
        self.web_state = state
        self.feed = feed
        self.bootstrap = bootstrap
        self.bind = bind
        self.port = port
        self._runner: web.AppRunner | None = None
        self._feed_task: asyncio.Task[None] | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._feed_task = asyncio.ensure_future(self._read())
        self._runner = web.AppRunner(create_app(self.web_state), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.bind, self.port)
        await site.start()
        logger.info("web: command centre on http://%s:%d/", self.bind, self.port)

    async def _read(self) -> None:
        while True:
            try:
                await self.feed.run(self.bootstrap)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: keep the web up, retry
                logger.warning("web: board reader stopped (%s); retrying in 2 s", exc)
                await asyncio.sleep(2.0)

    async def on_stop(self) -> None:
        self.web_state.hub.close()
        if self._feed_task is not None:
            self._feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # stopping: its end is not news
                await self._feed_task
        if self._runner is not None:
            await self._runner.cleanup()
        if self.web_state.history is not None:
            self.web_state.history.close()


def metrics_reading(worker: Worker, board: Board, feed: Feed, latency: dict[str, Histogram]) -> prom.Reading:
    """What /metrics shows, read from the worker, its board and the board's reader at a scrape."""
    stats = asdict(worker.stats)
    decisions: dict[str, int] = {}
    for d in board.decisions.values():
        key = str(d.get("decision"))
        decisions[key] = decisions.get(key, 0) + 1
    counts = board.counts()
    return prom.Reading(
        counters={k: float(v) for k, v in stats.items() if k != "last_detection_at"},
        incidents_by_state=counts["state"],
        incidents_by_category=counts["category"],
        decisions=decisions,
        worker_lag=worker_lag(worker.app),
        feed_lag=feed.lag,
        histograms=latency.values(),
    )


def _bootstrap(app: Any) -> str:
    urls = app.conf.broker
    return ",".join(f"{u.host}:{u.port or 9092}" for u in urls)


def install(worker: Worker) -> None:
    """Serve the command centre from this worker (when it has a web port)."""
    if worker.web_port is None:
        return
    cfg = worker.cfg
    board = Board(closed_kept=cfg.web.closed_kept, clocks=SlaClocks(cfg))
    latency = latency_histograms()
    state = WebState(
        cfg=cfg,
        topics=worker.topics,
        board=board,
        tokens=load_tokens(cfg, os.environ),
        sessions=Sessions(cfg.web.session_ttl_s, per_token=cfg.web.max_sessions_per_token),
        evidence=EvidenceFiles(cfg.evidence.dir, photos_max_bytes=int(cfg.web.photos_max_mb * 1024 * 1024)),
        publisher=WorkerPublisher(worker),
        latency=latency,
        extra_routes=list(worker.web_routes),
        config_path=worker.config_path,
    )
    state.history = HistoryReader(database_url(worker.db, cfg.store.url))
    state.case_record = LazyEngine(database_url(worker.db, cfg.store.url))  # reports
    start = StoreStart(state.history, worker.topics)
    feed = Feed(
        worker.topics, board, state.hub, latency, state.pending_broadcasts, state.evidence_url, start=start
    )
    state.ready = lambda: feed.caught_up
    state.feed_report = feed.report
    state.health = lambda: {name: report() for name, report in worker.health.items()}

    state.metrics = prom.exposition(lambda: metrics_reading(worker, board, feed, latency))
    service = WebService(
        state, feed, bootstrap=_bootstrap(worker.app), bind=cfg.web.bind, port=worker.web_port
    )
    worker.app.web_server(service)
