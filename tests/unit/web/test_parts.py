"""Pure parts of the command centre: tokens and roles, sessions, evidence paths,
Prometheus text, the board's reader (decode, board, live events, latency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.config.models import Config
from streams.contract.errors import WebError
from streams.contract.timeutil import from_iso
from streams.contract.topics import Topics
from streams.logic.worktime import SlaClocks
from streams.web.auth import Principal, Sessions, TokenRegistry, csrf_ok, parse_tokens, same_origin
from streams.web.board import Board, warning_summary
from streams.web.events import Hub
from streams.web.evidence import EvidenceFiles
from streams.web.feed import Feed, latency_histograms
from streams.web.metrics import Histogram, Reading, exposition, render
from streams.web.server import load_tokens

from ...config_support import parse, web_site
from ...web_support import JPEG, alert, bearer, make_state, run_client, web_config

UNITS = ["unit-a", "unit-d"]


def test_tokens_parse_roles_names_and_comments() -> None:
    text = "# command centre\nabcdefgh1=viewer@li, abcdefgh2=operator\nabcdefgh3=patrol:unit-a  # wang\n"
    entries = dict(parse_tokens(text, "tokens.txt", UNITS))
    assert entries["abcdefgh1"] == Principal("li", "viewer")
    assert entries["abcdefgh2"].role == "operator" and entries["abcdefgh2"].name.startswith("operator-")
    assert entries["abcdefgh3"] == Principal(entries["abcdefgh3"].name, "patrol", "unit-a")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abcdefgh=superuser", "unknown role 'superuser'"),
        ("abcdefgh=patrol:", "needs a unit"),
        ("abcdefgh=patrol:unit-zz", "unit 'unit-zz' is not under units"),
        ("short=viewer", "shorter than 8"),
        ("justatoken", "TOKEN=ROLE"),
    ],
)
def test_bad_tokens_name_the_line_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(WebError) as err:
        parse_tokens("# ok\n" + text, "tokens.txt", UNITS)
    assert message in str(err.value)
    assert "tokens.txt:2" in str(err.value)


def test_token_lookup_and_roles() -> None:
    reg = TokenRegistry(parse_tokens("aaaaaaaa1=viewer,bbbbbbbb2=patrol:unit-a,cccccccc3=admin", "t", UNITS))
    assert reg.lookup("aaaaaaaa1") is not None and reg.lookup("aaaaaaaa") is None and reg.lookup("") is None
    viewer, patrol, admin = (reg.lookup(t) for t in ("aaaaaaaa1", "bbbbbbbb2", "cccccccc3"))
    assert viewer and patrol and admin
    assert viewer.can_read and not viewer.can_operate and not viewer.can_patrol("unit-a")
    assert patrol.can_patrol("unit-a") and not patrol.can_patrol("unit-d") and not patrol.can_read
    assert admin.can_operate and admin.can_patrol("unit-d")


def test_tokens_from_file_and_environment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "tokens").write_text("filetoken1=operator\n")
    cfg = web_config(tmp_path)
    with_file = Config.model_validate({**cfg.model_dump(), "web": {"tokens_file": "tokens"}})
    reg = load_tokens(with_file, {"CITYWATCH_TOKENS": "envtoken1=viewer"}, base=tmp_path)
    assert len(reg) == 2 and reg.lookup("filetoken1") and reg.lookup("envtoken1")
    missing = Config.model_validate({**cfg.model_dump(), "web": {"tokens_file": "nope"}})
    with pytest.raises(WebError, match="cannot read it"):
        load_tokens(missing, {}, base=tmp_path)
    generated = load_tokens(cfg, {})
    assert len(generated) == 1 and "admin token is" in caplog.text


def test_sessions_expire_and_csrf_must_match() -> None:
    sessions = Sessions(ttl_s=60, max_sessions=2)
    who = Principal("li", "viewer")
    s1 = sessions.create(who, now=0)
    assert sessions.get(s1.session_id, now=59) is s1
    assert sessions.get(s1.session_id, now=60) is None  # expired and forgotten
    s2, s3, s4 = (sessions.create(who, now=100) for _ in range(3))
    assert (
        sessions.get(s2.session_id, 101) is None and sessions.get(s4.session_id, 101) is s4
    )  # oldest evicted
    assert csrf_ok(s3, s3.csrf) and not csrf_ok(s3, s4.csrf) and not csrf_ok(s3, None)
    assert (
        same_origin(None, "h:1") and same_origin("http://h:1", "h:1") and not same_origin("http://x", "h:1")
    )


def test_evidence_links_and_reads(tmp_path: Path) -> None:
    files = EvidenceFiles(tmp_path / "ev")
    inside = tmp_path / "ev" / "cam-a" / "1.jpg"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(JPEG)
    assert files.url(str(inside)) == "/evidence/cam-a/1.jpg"
    assert files.url(str(tmp_path / "elsewhere.jpg")) is None
    assert files.url("https://cdn.example/x.jpg") == "https://cdn.example/x.jpg"
    assert files.resolve("cam-a/1.jpg") == inside.resolve()
    for bad in ("../x.jpg", "/etc/x.jpg", "cam-a/../../x.jpg", "a\\b.jpg", "x.txt", ""):
        with pytest.raises(WebError) as err:
            files.resolve(bad)
        assert err.value.status == 400, bad
    with pytest.raises(WebError) as err:
        files.resolve("cam-a/2.jpg")
    assert err.value.status == 404
    saved = files.save_photo("case/../1", JPEG, "2026-05-26T02:14:03.120Z")
    assert (
        Path(saved).read_bytes() == JPEG
        and files.relative(saved) == "patrol/case_.._1/case_.._1-20260526T021403120Z.jpg"
    )
    with pytest.raises(WebError, match="JPEG or PNG"):
        files.save_photo("c", b"<svg/>", "t")


def metrics_reading(hist: Histogram) -> Reading:
    return Reading(
        counters={"alerts": 3},
        incidents_by_state={"open": 2},
        incidents_by_category={'a"b': 1},
        decisions={"sent": 1},
        worker_lag={"t": 0},
        feed_lag={},
        histograms=[hist],
    )


def test_histogram_buckets_and_prometheus_text() -> None:
    hist = Histogram("x_seconds", "help", buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 3.0, float("nan")):
        hist.observe(v)
    text = render(metrics_reading(hist))
    # prometheus_client writes every value as a float (3 -> 3.0); names, labels and bucket bounds
    # are the ones this worker has always exported
    assert 'citywatch_events_total{kind="alerts"} 3.0' in text
    assert 'citywatch_incidents{state="open"} 2.0' in text
    assert 'citywatch_incidents_by_category{category="a\\"b"} 1.0' in text
    assert (
        'x_seconds_bucket{le="0.1"} 1.0\nx_seconds_bucket{le="1"} 2.0\nx_seconds_bucket{le="+Inf"} 3.0'
        in text
    )
    assert "x_seconds_count 3.0\nx_seconds_sum 3.55" in text
    assert "# TYPE citywatch_events_total counter" in text and "# TYPE x_seconds histogram" in text


def test_metrics_text_parses_as_prometheus_with_the_same_names_and_labels() -> None:
    hist = Histogram("x_seconds", "help", buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 3.0):
        hist.observe(v)
    parsed = {f.name: f for f in text_string_to_metric_families(render(metrics_reading(hist)))}
    assert {name: family.type for name, family in parsed.items()} == {
        "citywatch_events": "counter",
        "citywatch_incidents": "gauge",
        "citywatch_incidents_by_category": "gauge",
        "citywatch_broadcast_decisions": "gauge",
        "citywatch_consumer_lag_records": "gauge",
        "citywatch_board_lag_records": "gauge",
        "x_seconds": "histogram",
    }
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parsed.values() for s in f.samples}
    assert samples[("citywatch_events_total", (("kind", "alerts"),))] == 3
    assert samples[("citywatch_incidents_by_category", (("category", 'a"b'),))] == 1
    assert samples[("citywatch_consumer_lag_records", (("topic", "t"),))] == 0
    assert samples[("x_seconds_bucket", (("le", "0.1"),))] == 1
    assert samples[("x_seconds_bucket", (("le", "+Inf"),))] == 3
    assert samples[("x_seconds_sum", ())] == pytest.approx(3.55)
    assert not parsed["citywatch_board_lag_records"].samples


def test_metrics_route_serves_the_worker_collector_with_the_standard_content_type(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    reads: list[int] = []

    def read() -> Reading:
        reads.append(1)  # read at every scrape, not copied once
        return metrics_reading(Histogram("x_seconds", "help"))

    state.metrics = exposition(read)

    async def scenario(client: Any) -> tuple[str, str]:
        await client.get("/metrics", headers=bearer("viewer"))
        res = await client.get("/metrics", headers=bearer("viewer"))
        return res.headers["Content-Type"], await res.text()

    content_type, text = run_client(state, scenario)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert len(reads) == 2
    assert "citywatch_events" in {f.name for f in text_string_to_metric_families(text)}


def test_feed_applies_records_publishes_views_and_measures() -> None:
    topics = Topics("t.citywatch.")
    board, hub = Board(), Hub()
    latency = latency_histograms()
    pending = {"req-1": 10.0}
    feed = Feed(
        topics,
        board,
        hub,
        latency,
        pending,
        lambda p: "/evidence/" + p,
        wall=lambda: 1000.5,
        monotonic=lambda: 10.25,
    )
    feed.started_at = 900.0
    sub = hub.subscribe(Principal("li", "viewer"))
    rec = alert("inc-1", evidence=["a.jpg"], at="1970-01-01T00:16:39.000Z")  # 999 s
    assert feed.handle(topics.alerts, json.dumps(rec).encode(), 1000_000) is not None
    event = sub.queue.get_nowait()
    assert event is not None and event.data["evidence_items"][0]["url"] == "/evidence/a.jpg"
    assert latency["alert"].count == 1 and latency["alert"].total == pytest.approx(1.0)
    assert latency["board"].total == pytest.approx(0.5)
    decision = {
        "request_id": "req-1",
        "speaker_id": "spk-a",
        "decision": "sent",
        "reason": "",
        "command_id": None,
    }
    decision |= {"source": "operator", "requested_by": "li", "at": "2026-05-26T02:14:03.120Z"}
    feed.handle(topics.broadcast_decisions, json.dumps(decision).encode(), 1000_000)
    assert latency["broadcast"].total == pytest.approx(0.25) and pending == {}
    old = alert("inc-2", at="1970-01-01T00:01:00.000Z")
    feed.handle(topics.alerts, json.dumps(old).encode(), 60_000)  # history replay: on the board, not measured
    assert "inc-2" in board.incidents and latency["alert"].count == 1
    assert feed.handle(topics.alerts, b"{not json", 1000_000) is None and feed.skipped == 1
    assert feed.handle(topics.dispatch, json.dumps({"v": 1}).encode(), 1000_000) is None and feed.skipped == 2
    # hostile records are skipped too, never raised into the reader's loop
    for hostile in (b"[" * 100_000 + b"]" * 100_000, b'{"v": ' + b"9" * 5000 + b"}"):
        assert feed.handle(topics.alerts, hostile, 1000_000) is None
    assert feed.skipped == 4


def _history(*notes: str) -> list[dict[str, str]]:
    return [{"at": "2026-05-26T02:10:00.000Z", "state": "open", "by": "policy", "note": n} for n in notes]


@pytest.mark.parametrize(
    ("fields", "status", "why"),
    [
        (
            {"warnings": 1, "history": _history("open", "loudspeaker: 请将物品放回店内")},
            "sent",
            "loudspeaker: 请将物品放回店内",
        ),
        (
            {
                "warnings": 0,
                "review": True,
                "history": _history("open", "no warning: needs review: seen in 2 of 8"),
            },
            "review",
            "no warning: needs review: seen in 2 of 8",
        ),
        (
            {
                "warnings": 0,
                "review": False,
                "history": _history(
                    "no warning: needs review", "confirmed by operator zhang; warning requested"
                ),
            },
            "requested",
            "confirmed by operator zhang; warning requested",
        ),
        (
            {
                "warnings": 0,
                "history": _history("open", "warning suppressed: quiet hours 22:00-07:00", "acknowledged"),
            },
            "not_sent",
            "warning suppressed: quiet hours 22:00-07:00",
        ),
        (
            {"warnings": 0, "history": _history("warning queued: speaker busy with cmd-1: queued")},
            "queued",
            "warning queued: speaker busy with cmd-1: queued",
        ),
        ({"warnings": 0, "history": _history("bench in zone storefront")}, "none", ""),
        ({}, "none", ""),
    ],
)
def test_the_board_tells_why_a_warning_was_sent_or_not(fields: dict[str, Any], status: str, why: str) -> None:
    summary = warning_summary(fields)
    assert (summary["status"], summary["why"]) == (status, why)
    assert summary["sent"] is (status == "sent")


def test_the_board_shows_an_open_cases_working_time_left(tmp_path: Path) -> None:
    site = web_site(tmp_path)
    site["site"]["working_hours"] = ["08:30-12:00", "14:30-18:00"]  # Asia/Shanghai
    site["categories"]["illegal_parking"]["sla_clock"] = "wall"
    board = Board(clocks=SlaClocks(parse(site)))
    due = "2026-11-30T01:30:00.000Z"  # Monday 09:30 in Shanghai
    friday_evening = from_iso("2026-11-27T11:00:00.000Z")  # 19:00
    board.apply_alert(alert("inc-1", at="2026-11-27T11:00:03.000Z") | {"due_at": due})
    board.apply_alert(alert("inc-2", camera="cam-b", category="illegal_parking") | {"due_at": due})
    board.apply_alert(alert("inc-3", state="verifying") | {"due_at": None})
    url = str
    left = board.view(board.incidents["inc-1"], url, friday_evening)
    assert (left["sla_clock"], left["working_left_s"]) == ("working", 3600)  # the weekend does not count
    wall = board.view(board.incidents["inc-2"], url, friday_evening)
    assert (wall["sla_clock"], wall["working_left_s"]) == ("wall", from_iso(due) - friday_evening)
    overdue = board.view(board.incidents["inc-1"], url, from_iso("2026-11-30T02:00:00.000Z"))
    assert overdue["working_left_s"] == -1800  # past due by half a working hour (10:00)
    assert board.view(board.incidents["inc-3"], url, friday_evening)["working_left_s"] is None
    assert "working_left_s" not in board.view(board.incidents["inc-1"], url)  # no time given
