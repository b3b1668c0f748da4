"""The notify role: alerts and dispatch (consumer group <prefix>notify) to group-chat robots.

Each poll: the records' events (events.py) that are not older than ``notify.max_age_min``, for
the robots their rules name, go into the outbox (one SQLite transaction; a record that does not
decode is dead-lettered), then the offsets are committed. Then each robot gets what its pace
allows (pacing.py): one message an event, or a digest of the events that waited for the window.
A robot that does not take a message is tried again after a backoff; three failures in a row and
``/healthz`` says ``robots`` (degraded) until it takes one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from streams.config import Config
from streams.config.notify import Robot
from streams.contract.errors import DeliveryError, RecordError, UsageError
from streams.contract.records import Alert, DispatchCase, dead_letter, decode
from streams.contract.topics import Topics
from streams.kafka_io import PollGuard, close_quietly, group_consumer
from streams.kafka_io import producer as make_producer
from streams.notify import events as ev
from streams.notify.messages import compose, signed_url
from streams.notify.outbox import Outbox
from streams.notify.pacing import Pace
from streams.notify.rules import robots_for, street_of_grids
from streams.notify.send import Post, deliver, http_post

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 600.0
RETRY_S = 2.0  # a poll the outbox or Kafka did not take is read again after this


@dataclass(frozen=True)
class NotifyOptions:
    bootstrap: str
    topics: Topics
    group_id: str = ""  # default: <prefix>notify

    def group(self) -> str:
        return self.group_id or f"{self.topics.prefix}notify"


def robot_url(robot: Robot, env: Mapping[str, str]) -> str:
    """The robot's URL, from the file or its environment variable (a clear error when unset)."""
    if robot.url is not None:
        return robot.url
    url = env.get(robot.url_env or "", "")
    if not url:
        raise UsageError(f"robot {robot.id}: environment variable {robot.url_env} is not set; set it to "
                         "the robot's webhook URL")  # fmt: skip
    return url


def robot_secret(robot: Robot, env: Mapping[str, str]) -> str | None:
    if robot.secret_env is None:
        return None
    secret = env.get(robot.secret_env, "")
    if not secret:
        raise UsageError(f"robot {robot.id}: environment variable {robot.secret_env} (its signing "
                         "secret) is not set; set it, or remove secret_env")  # fmt: skip
    return secret


class Notifier:
    def __init__(
        self,
        cfg: Config,
        options: NotifyOptions,
        outbox: Outbox,
        *,
        post: Post = http_post,
        clock: Callable[[], float] = time.time,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.cfg = cfg
        self.options = options
        self.outbox = outbox
        self.post = post
        self.clock = clock
        self.robots = {r.id: r for r in cfg.notify.robots}
        self.urls = {r.id: robot_url(r, env) for r in cfg.notify.robots}
        self.secrets = {r.id: robot_secret(r, env) for r in cfg.notify.robots}
        now = clock()
        self.paces: dict[str, Pace] = {}
        for r in cfg.notify.robots:
            pace = Pace(r.per_minute, r.window_s)
            pace.restore(outbox.sent_since(r.id, now - r.window_s))
            self.paces[r.id] = pace
        for robot, waiting in outbox.waiting_for_others(self.robots).items():
            logger.warning("notify: %d event(s) wait for robot %s, which is no longer under notify: robots; "
                           "they are kept (add the robot again to send them)", waiting, robot)  # fmt: skip
        self.streets = street_of_grids((s.id, s.grids) for s in cfg.streets)
        names = {s.id: s.name or s.id for s in cfg.streets}
        self.street_names = {grid: names[street] for grid, street in self.streets.items()}
        self.stats: Counter[str] = Counter()
        self.by_robot: Counter[tuple[str, str]] = Counter()  # (robot, sent / digest / failed)
        self.on_round: Callable[[Any], None] | None = None
        self._topics = {options.topics.alerts: "alerts", options.topics.dispatch: "dispatch"}
        self._consumer: Any = None
        self._producer: Any = None
        self._next_prune = float("-inf")
        self._stop = threading.Event()

    # -- pure-ish steps (no Kafka): tested without a broker
    def events_of(self, suffix: str, raw: bytes | None) -> list[ev.Event]:
        """The events of one record (``RecordError`` when it does not decode)."""
        if suffix == "dispatch":
            return ev.from_case(decode(DispatchCase, raw))
        return ev.from_alert(decode(Alert, raw), self.cfg.health.offline_category)

    def route(self, events: list[ev.Event], now: float) -> list[tuple[ev.Event, str]]:
        """(event, robot) rows of the events recent enough to tell."""
        rows = []
        max_age_s = self.cfg.notify.max_age_min * 60
        for event in events:
            if now - event.at > max_age_s:
                self.stats["stale"] += 1
                continue
            for robot in robots_for(event, self.cfg.notify.rules, self.streets):
                rows.append((event, robot))
        return rows

    def send_due(self, now: float) -> None:
        """Each robot's messages that its pace allows now."""
        for robot_id, pace in self.paces.items():
            # a full window ends it: the last plan() finds no room and marks the rest held
            for _ in range(pace.per_minute + 1):
                waiting = self.outbox.waiting(robot_id, pace.digest_max)
                chosen = pace.plan(now, waiting)
                if not chosen or not self._send(robot_id, pace, chosen, now):
                    break

    def _send(self, robot_id: str, pace: Pace, events: list[ev.Event], now: float) -> bool:
        robot = self.robots[robot_id]
        body = compose(
            robot.type,
            events,
            site=self.cfg.site.name,
            timezone=self.cfg.site.timezone,
            public_url=self.cfg.web.public_url,
            street_names=self.street_names,
        )
        url = self.urls[robot_id]
        secret = self.secrets[robot_id]
        if secret is not None:
            url = signed_url(url, secret, int(now * 1000))
        try:
            deliver(self.post, url, body, robot.timeout_s, vendor=robot.type != "webhook")
        except DeliveryError as exc:
            delay = pace.failed(now)
            self.by_robot[(robot_id, "failed")] += 1
            logger.warning("robot %s did not take %d event(s) (%s); trying again in %.0f s",
                           robot_id, len(events), exc, delay)  # fmt: skip
            return False
        pace.sent(now)
        try:
            self.outbox.mark_sent(robot_id, [e.key for e in events], now)
        except sqlite3.Error as exc:  # taken, but not marked: it may be told again
            logger.error("robot %s took %d event(s) but the outbox did not mark them (%s); they may "
                         "be sent again", robot_id, len(events), exc)  # fmt: skip
            return False
        self.by_robot[(robot_id, "digest" if len(events) > 1 else "sent")] += 1
        self.stats["events_sent"] += len(events)
        return True

    def degraded(self) -> list[str]:
        """``robots`` while a robot keeps failing (for /healthz)."""
        return ["robots"] if any(p.failing for p in self.paces.values()) else []

    def failing(self) -> list[str]:
        return [robot for robot, pace in self.paces.items() if pace.failing]

    def admit(self, rows: list[tuple[ev.Event, str]]) -> list[tuple[ev.Event, str]]:
        """The rows whose robot has room: at most ``notify.max_waiting`` waiting a robot (one down
        for long); the others are refused, counted and logged."""
        cap = self.cfg.notify.max_waiting
        room: dict[str, int] = {}
        kept: list[tuple[ev.Event, str]] = []
        for event, robot in rows:
            if robot not in room:
                room[robot] = cap - self.outbox.waiting_count(robot)
            if room[robot] <= 0:
                self.stats["refused"] += 1
                logger.warning("notify: robot %s has %d events waiting; %s refused", robot, cap, event.key)
                continue
            room[robot] -= 1
            kept.append((event, robot))
        return kept

    # -- the loop
    def handle(self, polled: dict[Any, list[Any]], now: float) -> None:
        rows: list[tuple[ev.Event, str]] = []
        letters: list[tuple[Any, str]] = []
        first: dict[TopicPartition, int] = {}
        last: dict[TopicPartition, int] = {}
        for records in polled.values():
            for rec in records:
                first.setdefault(TopicPartition(rec.topic, rec.partition), rec.offset)
                last[TopicPartition(rec.topic, rec.partition)] = rec.offset
                self.stats["records"] += 1
                try:
                    events = self.events_of(self._topics[rec.topic], rec.value)
                except RecordError as exc:
                    letters.append((rec, str(exc)))
                    continue
                self.stats["events"] += len(events)
                rows.extend(self.route(events, now))
        try:
            rows = self.admit(rows)
            added = self.outbox.add(rows, now)
            self._publish(letters)
        except (sqlite3.Error, KafkaError) as exc:
            self._rewind(first, exc)
            return
        self.stats["queued"] += added
        self.stats["duplicates"] += len(rows) - added
        try:
            self._consumer.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in last.items()})
        except KafkaError as exc:  # the outbox has them: a redelivery adds nothing
            logger.warning("notify: offset commit failed (%s); a redelivery will add nothing", exc)

    def _rewind(self, first: dict[TopicPartition, int], exc: Exception) -> None:
        """Nothing of the poll is committed: it is read again after a pause (the outbox ignores
        what it already has)."""
        logger.error("notify: the outbox or Kafka failed (%s); the records are read again in %.0f s",
                     exc, RETRY_S)  # fmt: skip
        self.stats["retries"] += 1
        assigned = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)
        self._stop.wait(RETRY_S)

    def _publish(self, letters: list[tuple[Any, str]]) -> None:
        for rec, error in letters:
            logger.warning("dead-lettering %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, error)
            letter = dead_letter(rec.topic, rec.partition, rec.offset, error, rec.value)
            topic = self.options.topics.deadletter
            self._producer.send(topic, key=rec.topic.encode(), value=letter.to_bytes())
        if letters:
            self._producer.flush(timeout=10)
            self.stats["deadletters"] += len(letters)

    def run(self, stop: threading.Event, duration_s: float | None = None) -> Counter[str]:
        self._stop = stop
        self._consumer = group_consumer(
            self.options.bootstrap, self.options.group(), "citywatch-notify", session_timeout_ms=6_000
        )
        self._producer = make_producer(self.options.bootstrap, client_id="citywatch-notify")
        self._consumer.subscribe(sorted(self._topics))
        logger.info("notify: %s -> %d robot(s), group %s", ", ".join(sorted(self._topics)),
                    len(self.robots), self.options.group())  # fmt: skip
        deadline = None if duration_s is None else time.monotonic() + duration_s
        guard = PollGuard("notify", stop)
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                polled = guard.poll(self._consumer, 200)
                if polled:
                    self.handle(polled, self.clock())
                self._tend(self.clock())
                if self.on_round is not None and guard.ok:
                    self.on_round(self._consumer)
        finally:
            close_quietly("notify", lambda: self._consumer.close(autocommit=False))
            close_quietly("notify", lambda: self._producer.close(timeout=5))
        return self.stats

    def _tend(self, now: float) -> None:
        """The robots' messages due now, and the outbox's bound now and then; an outbox that
        fails is logged and tried again next round (what waits stays in the file)."""
        try:
            self.send_due(now)
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY_S
                self.outbox.prune(self.cfg.notify.keep_sent)
        except sqlite3.Error as exc:
            logger.error("notify: the outbox failed (%s); trying again next round", exc)
            self._stop.wait(RETRY_S)

    def summary(self) -> str:
        counts = " ".join(f"{k}={self.stats[k]}" for k in ("records", "events", "queued", "events_sent"))
        sent = sum(v for (_, o), v in self.by_robot.items() if o != "failed")
        failed = sum(v for (_, o), v in self.by_robot.items() if o == "failed")
        return f"{counts} messages={sent} failed={failed}"
