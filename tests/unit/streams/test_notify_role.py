"""The notify role's steps without a broker: records to outbox rows (old events counted, not
sent), robots' messages paced, a vendor's error code retried, health degraded while a robot
keeps failing, URLs and secrets read from the environment."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kafka import TopicPartition

from streams.contract.errors import RecordError, UsageError
from streams.contract.topics import Topics
from streams.notify.outbox import Outbox
from streams.notify.role import Notifier, NotifyOptions

from ...config_support import parse
from ...notify_support import T0, case, notify_site

WECOM = {"id": "wx", "type": "wecom", "url_env": "WX_URL", "per_minute": 2, "window_s": 60}
DING = {
    "id": "dd",
    "type": "dingtalk",
    "url": "http://127.0.0.1:9/robot/send?access_token=t",
    "secret_env": "DD_SECRET",
}
ENV = {"WX_URL": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k", "DD_SECRET": "SECexample"}


class Robots:
    """A fake transport: each POST recorded, answered from ``answers`` (then errcode 0)."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: dict[str, Any], timeout_s: float) -> tuple[int, bytes]:
        self.posts.append((url, body))
        status, answer = self.answers.pop(0) if self.answers else (200, {"errcode": 0, "errmsg": "ok"})
        return status, json.dumps(answer).encode()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def notifier(tmp_path: Path, robots: Robots, clock: Clock, env: dict[str, str] = ENV) -> Notifier:
    cfg = parse(notify_site([WECOM, DING], [{"robots": ["wx"]}, {"events": ["overdue"], "robots": ["dd"]}]))
    options = NotifyOptions("127.0.0.1:9", Topics("t."))
    return Notifier(cfg, options, Outbox(tmp_path / "n.db"), post=robots, clock=clock, env=env)


def queue(n: Notifier, cases: range, now: float) -> None:
    rows = n.route([e for i in cases for e in n.events_of("dispatch", case(i, at=now).to_bytes())], now)
    n.outbox.add(rows, now)


def test_events_go_to_the_robots_their_rules_name_and_old_ones_are_counted_not_sent(tmp_path: Path) -> None:
    n = notifier(tmp_path, Robots(), Clock(T0))
    fresh = n.events_of("dispatch", case(1, at=T0).to_bytes())
    old = n.events_of("dispatch", case(2, at=T0 - 3601).to_bytes())
    rows = n.route(fresh + old, T0)
    assert [(e.key, robot) for e, robot in rows] == [("dispatched:case-1", "wx")]
    assert n.stats["stale"] == 1
    with pytest.raises(RecordError):
        n.events_of("alerts", b'{"v": 1, "incident_id": ""}')


def test_a_robot_gets_per_minute_messages_then_a_digest_when_the_window_opens(tmp_path: Path) -> None:
    robots, clock = Robots(), Clock(T0)
    n = notifier(tmp_path, robots, clock)
    queue(n, range(5), T0)
    n.send_due(T0)
    assert [b["markdown"]["content"].count("?incident=") for _, b in robots.posts] == [1, 1]
    n.send_due(T0 + 60)
    assert "【汇总】3 条事件" in robots.posts[2][1]["markdown"]["content"]
    assert (n.by_robot[("wx", "sent")], n.by_robot[("wx", "digest")], n.outbox.count(sent=False)) == (2, 1, 0)


def test_errcode_45009_is_a_failure_retried_after_backoff_and_three_in_a_row_degrade_health(
    tmp_path: Path,
) -> None:
    busy = (200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    robots = Robots(busy, busy, busy)
    n = notifier(tmp_path, robots, Clock(T0))
    queue(n, range(1), T0)
    n.send_due(T0)
    assert len(robots.posts) == 1 and n.by_robot[("wx", "failed")] == 1 and n.degraded() == []
    n.send_due(T0 + 0.5)  # the backoff (1 s) has not run out
    assert len(robots.posts) == 1
    n.send_due(T0 + 1)
    n.send_due(T0 + 3)
    assert n.degraded() == ["robots"] and n.failing() == ["wx"]
    n.send_due(T0 + 7)  # taken at last
    assert n.degraded() == [] and n.outbox.count(sent=False) == 0
    assert len(robots.posts) == 4 and robots.posts[0][1] == robots.posts[3][1]


def test_a_dingtalk_robot_is_called_signed(tmp_path: Path) -> None:
    robots = Robots()
    n = notifier(tmp_path, robots, Clock(1700000000.002))
    event = n.events_of("dispatch", case(1, at=1700000000.0).to_bytes())[0]
    n.outbox.add([(event, "dd")], 1700000000.0)
    n.send_due(1700000000.002)
    url, body = robots.posts[0]
    assert "timestamp=1700000000002&sign=YT7%2FFZACkFUlBiZXsLLxEy2viBHwqjxxCGDe%2B4v2PGc%3D" in url
    assert body["markdown"]["title"] == "【派遣】店外经营"


def test_a_url_or_secret_left_unset_in_the_environment_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="WX_URL is not set"):
        notifier(tmp_path, Robots(), Clock(T0), env={})
    with pytest.raises(UsageError, match="DD_SECRET"):
        notifier(tmp_path, Robots(), Clock(T0), env={"WX_URL": "http://x"})


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[Any, Any]] = []
        self.seeks: list[tuple[Any, int]] = []

    def assignment(self) -> set[Any]:
        return {TopicPartition("t.dispatch", 0)}

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits.append(offsets)


def test_a_poll_the_outbox_cannot_take_is_read_again_and_not_committed(tmp_path: Path) -> None:
    n = notifier(tmp_path, Robots(), Clock(T0))
    n._consumer = FakeConsumer()
    n._stop.set()  # no real pause
    polled = {
        TopicPartition("t.dispatch", 0): [
            SimpleNamespace(topic="t.dispatch", partition=0, offset=o, value=case(o, at=T0).to_bytes())
            for o in (7, 8)
        ]
    }
    n.outbox.close()
    n.handle(polled, T0)
    assert n._consumer.seeks == [(TopicPartition("t.dispatch", 0), 7)] and n._consumer.commits == []
    n.outbox = Outbox(tmp_path / "n.db")
    n.handle(polled, T0)
    n.handle(polled, T0)  # redelivered: nothing new
    assert [c[TopicPartition("t.dispatch", 0)].offset for c in n._consumer.commits] == [9, 9]
    assert (n.stats["queued"], n.stats["duplicates"], n.stats["retries"]) == (2, 2, 1)


def test_a_robot_with_max_waiting_events_waiting_gets_no_more(tmp_path: Path) -> None:
    cfg = parse(notify_site([WECOM], [{"robots": ["wx"]}], max_waiting=100))
    n = Notifier(cfg, NotifyOptions("127.0.0.1:9", Topics("t.")), Outbox(tmp_path / "n.db"),
                 post=Robots(), clock=Clock(T0), env=ENV)  # fmt: skip
    queue(n, range(98), T0)
    rows = n.route(
        [e for i in range(98, 103) for e in n.events_of("dispatch", case(i, at=T0).to_bytes())], T0
    )
    assert [e.key for e, _ in n.admit(rows)] == ["dispatched:case-98", "dispatched:case-99"]
    assert n.stats["refused"] == 3 and n.outbox.waiting_count("wx") == 98
