"""The command centre under hostile use: bounded state, body limits checked before a
body is read, caps on streams, logins and sessions, patrol photos, live events that
follow the current assignment, a reader that no record can stop, safe redirects."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from streams.web import board as board_mod
from streams.web import feed as feed_mod
from streams.web.auth import LoginLimiter, Principal, Sessions
from streams.web.board import Board, Event
from streams.web.bodies import JSON_BODY, LOGIN_BODY
from streams.web.events import Hub
from streams.web.evidence import EvidenceFiles
from streams.web.feed import Feed, latency_histograms
from streams.web.state import WebState

from ...web_support import JPEG, FakePublisher, SseEvent, alert, bearer, make_state, read_sse, run_client

# ---------------------------------------------------------------- the board's bounds


def case_record(case_id: str, incident_id: str, unit: str = "unit-a") -> dict[str, Any]:
    return {
        "v": 1,
        "case_id": case_id,
        "incident_id": incident_id,
        "unit_id": unit,
        "grid_id": "grid-a",
        "category": {"key": "out_of_store_business", "code": "200504", "name": "店外经营"},
        "location": {"address": "和平路12号", "grid_id": "grid-a", "lat": None, "lon": None},
        "evidence": [],
        "created_at": "2026-05-26T02:14:03.120Z",
        "due_at": "2026-05-26T03:14:03.120Z",
        "state": "dispatched",
        "level": "street",
    }


def update_record(
    case_id: str, unit: str = "unit-a", note: str = "", status: str = "accepted"
) -> dict[str, Any]:
    return {
        "v": 1,
        "case_id": case_id,
        "unit_id": unit,
        "status": status,
        "note": note,
        "at": "2026-05-26T02:20:00.000Z",
    }


def test_the_board_keeps_open_incidents_and_the_last_closed_kept_with_their_cases_only() -> None:
    board = Board(closed_kept=5)
    for i in range(100):
        inc = f"inc-{i}"
        for rnd in range(4):  # four dispatch rounds, each a new case with updates
            case = f"case-{i}-{rnd}"
            board.apply_alert(alert(inc, case_id=case, history=2 + 2 * rnd))
            board.apply_case(case_record(case, inc))
            for n in range(3):
                board.apply_update(update_record(case, note=f"{rnd}.{n}"))
        board.apply_alert(alert(inc, state="closed", case_id=f"case-{i}-3", history=20))
    for i in range(100, 110):  # still open
        board.apply_alert(alert(f"inc-{i}", case_id=f"case-{i}-0"))
        board.apply_case(case_record(f"case-{i}-0", f"inc-{i}"))

    assert len(board.incidents) == 5 + 10
    assert len(board.closed) == 5
    kept = set(board.incidents)
    assert {inc for inc in kept if board.incidents[inc]["state"] == "closed"} == {
        f"inc-{i}" for i in range(95, 100)
    }
    # cases, updates and the indexes hold only what the kept incidents need: ROUNDS_KEPT rounds each
    assert len(board.cases) <= board_mod.ROUNDS_KEPT * 15
    assert set(board.case_incident.values()) <= kept
    assert {board.case_incident[c] for c in board.cases} <= kept
    assert {board.case_incident[c] for c in board.updates} <= kept
    assert set(board.rounds) <= kept and all(len(r) <= board_mod.ROUNDS_KEPT for r in board.rounds.values())
    assert set(board.assignment) <= kept
    assert board.forgotten > 0
    # the current round's case and updates are what an incident shows
    view = board.view(board.incidents["inc-99"], lambda p: p)
    assert view["case"]["case_id"] == "case-99-3" and [u["note"] for u in view["updates"]] == [
        "3.0",
        "3.1",
        "3.2",
    ]


def test_rounds_per_incident_are_bounded_and_the_current_case_is_kept() -> None:
    board = Board()
    for rnd in range(10):
        case = f"case-{rnd}"
        board.apply_case(case_record(case, "inc-1"))  # the case may come before its alert
        board.apply_alert(alert("inc-1", case_id=case, history=2 + rnd))
        board.apply_update(update_record(case))
    assert board.rounds["inc-1"][-1] == "case-9"
    assert len(board.cases) == board_mod.ROUNDS_KEPT and len(board.updates) == board_mod.ROUNDS_KEPT
    assert board.by_case("case-9") is board.incidents["inc-1"]
    assert board.case_unit("case-9") == "unit-a"


def test_cases_and_updates_of_incidents_not_on_the_board_are_bounded() -> None:
    board = Board()
    for i in range(board_mod.MAX_LOOSE * 3):
        board.apply_case(case_record(f"case-x{i}", f"inc-x{i}"))
        board.apply_update(update_record(f"case-y{i}"))  # a case nobody announced
    assert len(board.loose) <= board_mod.MAX_LOOSE
    assert len(board.cases) + len(board.updates) <= board_mod.MAX_LOOSE
    assert len(board.case_incident) <= board_mod.MAX_LOOSE
    assert len(board.rounds) <= board_mod.MAX_LOOSE and len(board.assignment) <= board_mod.MAX_LOOSE
    # a loose case whose alert comes is the incident's own again
    board.apply_case(case_record("case-late", "inc-late"))
    board.apply_alert(alert("inc-late", case_id="case-late"))
    assert "case-late" not in board.loose and board.by_case("case-late") is not None


def test_a_case_keeps_its_last_updates() -> None:
    board = Board()
    board.apply_alert(alert("inc-1", case_id="case-1"))
    for n in range(board_mod.MAX_UPDATES_PER_CASE * 3):
        board.apply_update(update_record("case-1", note=str(n)))
    notes = [u["note"] for u in board.updates["case-1"]]
    assert notes == [
        str(n) for n in range(board_mod.MAX_UPDATES_PER_CASE * 2, board_mod.MAX_UPDATES_PER_CASE * 3)
    ]


def test_a_live_client_that_does_not_keep_up_is_let_go_and_its_slot_freed() -> None:
    from streams.web import events as events_mod

    hub = Hub(max_streams=2, per_token=1)
    slow = hub.subscribe(Principal("li", "viewer", key="k"))
    for i in range(events_mod.QUEUE_SIZE + 1):
        hub.publish(Event("decision", {"request_id": f"r{i}"}))
    assert slow.dropped and len(hub) == 0 and hub.streams_of(slow.principal) == 0
    assert slow.queue.qsize() == events_mod.QUEUE_SIZE  # bounded, and it ends with the end marker
    hub.subscribe(Principal("li", "viewer", key="k"))  # the token may open a stream again


def test_the_board_holds_at_most_max_incidents_and_decisions_are_capped() -> None:
    board = Board(max_incidents=10)
    for i in range(50):
        board.apply_alert(alert(f"inc-{i}", case_id=f"case-{i}"))
        board.apply_decision({"request_id": f"r{i}", "decision": "sent"})
    assert list(board.incidents) == [f"inc-{i}" for i in range(40, 50)]
    assert len(board.case_incident) == 10 and len(board.assignment) == 10
    for i in range(board_mod.MAX_DECISIONS + 10):
        board.apply_decision({"request_id": f"q{i}", "decision": "sent"})
    assert len(board.decisions) == board_mod.MAX_DECISIONS


# ---------------------------------------------------------------- the board's reader


def make_feed(board: Board | None = None, hub: Hub | None = None) -> tuple[Feed, Board, Hub]:
    board = board if board is not None else Board()
    hub = hub if hub is not None else Hub(assigned=board.assigned)  # an empty hub is falsy
    from streams.contract.topics import Topics

    return Feed(Topics("t.citywatch."), board, hub, latency_histograms(), {}, lambda p: p), board, hub


HOSTILE = [
    b'{"v":1,"incident_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # RecursionError in json
    b'{"v":1,"incident_id":"x","n":' + b"9" * 5000 + b"}",  # more digits than int() converts
    b'{"v":1,"incident_id":"x","n":1' + b"0" * 400 + b"e999999}",  # a float out of range
    "\ud800".encode("utf-8", "surrogatepass"),
    b"\x00" * 10,
    b"[]",
    b"null",
]


@pytest.mark.parametrize("raw", HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
def test_the_reader_skips_a_hostile_record_and_reads_on(raw: bytes) -> None:
    feed, board, _hub = make_feed()
    for topic in feed.names:
        assert feed.handle(topic, raw, 0) is None
    assert feed.skipped == len(feed.names)
    assert feed.handle(feed.topics.alerts, json.dumps(alert("inc-ok")).encode(), 0) is not None
    assert "inc-ok" in board.incidents


def test_the_reader_survives_any_exception_of_the_decoder_or_the_board(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed, board, _hub = make_feed()

    def explode(*_args: Any) -> Any:
        raise ZeroDivisionError("whatever a library raises")

    monkeypatch.setattr(feed_mod, "decode", explode)
    assert feed.handle(feed.topics.alerts, json.dumps(alert("inc-1")).encode(), 0) is None
    monkeypatch.undo()
    monkeypatch.setattr(board, "apply_alert", explode)
    assert feed.handle(feed.topics.alerts, json.dumps(alert("inc-1")).encode(), 0) is None
    assert feed.skipped == 2


class FakeRecord:
    def __init__(self, value: bytes, offset: int) -> None:
        self.value, self.offset, self.timestamp = value, offset, 0


class FakeConsumer:
    """The parts of AIOKafkaConsumer the reader uses; the broker 'goes away' after each batch."""

    log: ClassVar[dict[str, list[Any]]] = {}
    records: ClassVar[list[bytes]] = []

    def __init__(self, **_kwargs: Any) -> None:
        self.pos: dict[Any, int] = {}
        self.served = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def topics(self) -> set[str]:
        return set()

    def partitions_for_topic(self, name: str) -> set[int]:
        return {0} if name.endswith("alerts") else set()

    def assign(self, tps: list[Any]) -> None:
        self.tps = tps

    async def beginning_offsets(self, tps: list[Any]) -> dict[Any, int]:
        self.log.setdefault("beginning", []).extend(tps)
        return dict.fromkeys(tps, 0)

    def seek(self, tp: Any, offset: int) -> None:
        self.log.setdefault("seek", []).append((tp, offset))
        self.pos[tp] = offset

    async def getmany(self, **_kwargs: Any) -> dict[Any, list[FakeRecord]]:
        if self.served:
            raise ConnectionError("the broker went away")
        self.served = True
        tp = self.tps[0]
        start = self.pos[tp]
        batch = [FakeRecord(v, i) for i, v in enumerate(self.records) if i >= start]
        self.pos[tp] = len(self.records)
        return {tp: batch} if batch else {}

    def highwater(self, _tp: Any) -> int:
        return len(self.records)

    async def position(self, tp: Any) -> int:
        return self.pos[tp]


def test_after_the_broker_goes_away_the_reader_goes_on_where_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiokafka

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", FakeConsumer)
    FakeConsumer.log = {}
    FakeConsumer.records = [json.dumps(alert(f"inc-{i}")).encode() for i in range(3)] + [HOSTILE[0]]
    feed, board, _hub = make_feed()

    async def twice() -> None:
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await feed.run("127.0.0.1:1")
            FakeConsumer.records.append(json.dumps(alert(f"inc-{len(FakeConsumer.records)}")).encode())

    asyncio.run(twice())
    assert feed.read == 6  # 4 records, then 1 new, then 1 new: nothing read twice
    assert feed.skipped == 1 and len(board.incidents) == 5
    assert len(FakeConsumer.log["beginning"]) == 1  # only the first start reads from the beginning
    assert [off for _, off in FakeConsumer.log["seek"]] == [0, 4, 5]  # explicit offsets, every start


# ---------------------------------------------------------------- live events follow the assignment


async def read_until(res: Any, done: Any) -> list[SseEvent]:
    return await read_sse(res, lambda events: bool(events) and done(events[-1]), 5.0)


def test_after_escalation_the_former_unit_gets_nothing_more_of_the_incident(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    feed, board, hub = make_feed(state.board, state.hub)
    t = feed.topics
    feed.handle(t.alerts, json.dumps(alert("inc-1", history=2)).encode(), 0)
    feed.handle(t.dispatch, json.dumps(case_record("case-1", "inc-1")).encode(), 0)

    async def scenario(client: Any) -> dict[str, Any]:
        a = await client.get("/api/events", headers=bearer("patrol_a"))
        d = await client.get("/api/events", headers=bearer("patrol_d"))
        feed.handle(t.dispatch_updates, json.dumps(update_record("case-1", note="on my way")).encode(), 0)
        before = await read_until(a, lambda e: e[0] == "alert")  # the update, and the incident with it
        # escalated: the incident and its case go to unit-d
        feed.handle(
            t.alerts, json.dumps(alert("inc-1", state="overdue", unit="unit-d", history=3)).encode(), 0
        )
        feed.handle(t.dispatch, json.dumps(case_record("case-1", "inc-1", unit="unit-d")).encode(), 0)
        feed.handle(
            t.dispatch_updates,
            json.dumps(update_record("case-1", unit="unit-d", note="district here")).encode(),
            0,
        )
        # then something of unit-a's own, to know unit-a's stream has had everything sent to it
        feed.handle(t.alerts, json.dumps(alert("inc-7", case_id="case-7")).encode(), 0)
        got_a = await read_until(a, lambda e: e[1].get("incident_id") == "inc-7")
        got_d = await read_until(d, lambda e: e[0] == "alert" and "district here" in json.dumps(e[1]))
        a.close()
        d.close()
        return {"a": before + got_a, "d": got_d}

    got = run_client(state, scenario)
    # unit-a saw its case's update (and the incident with it) before the escalation, then only its own inc-7
    assert [(k, d.get("incident_id") or d.get("note")) for k, d in got["a"]] == [
        ("update", "on my way"),
        ("alert", "inc-1"),
        ("alert", "inc-7"),
    ]
    assert all(d.get("unit_id") == "unit-a" for _, d in got["a"])
    assert "district here" not in json.dumps(got["a"])
    kinds_d = [k for k, _ in got["d"]]
    assert kinds_d[:3] == ["alert", "case", "update"] and got["d"][0][1]["unit_id"] == "unit-d"
    # an event already queued for unit-a is re-checked when written
    event = Event("alert", alert("inc-1"), frozenset({"unit-a"}), "inc-1")
    assert not hub.visible(Principal("wang", "patrol", "unit-a", "k"), event)
    assert hub.visible(Principal("x", "patrol", "unit-d", "k2"), event)
    assert board.assigned("inc-1") == "unit-d"


# ---------------------------------------------------------------- request bodies


async def raw_request(client: Any, head: str) -> str:
    """Send only a request's head (its body never comes); return the answer's status line."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 10.0)).decode().strip()
    finally:
        writer.close()


def test_bodies_are_refused_by_their_declared_size_before_they_are_read(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    big = 100 * 1024 * 1024

    async def scenario(client: Any) -> list[str]:
        return [
            await raw_request(
                client,
                f"POST /login HTTP/1.1\nHost: x\nContent-Type: application/x-www-form-urlencoded\n"
                f"Content-Length: {big}\n",
            ),
            await raw_request(
                client,
                f"POST /api/incidents/inc-2/actions HTTP/1.1\nHost: x\nContent-Type: application/json\n"
                f"Content-Length: {big}\n",
            ),
            await raw_request(
                client,
                f"POST /api/incidents/inc-2/actions HTTP/1.1\nHost: x\nContent-Length: {big}\n"
                f"Authorization: Bearer {bearer('operator')['Authorization'][7:]}\n",
            ),
            await raw_request(
                client,
                f"POST /api/cases/case-1/updates HTTP/1.1\nHost: x\nContent-Length: {big}\n"
                f"Authorization: Bearer {bearer('patrol_a')['Authorization'][7:]}\n",
            ),
            await raw_request(
                client,
                f"POST /api/cases/case-1/updates HTTP/1.1\nHost: x\nContent-Length: {big}\n"
                f"Authorization: Bearer {bearer('patrol_d')['Authorization'][7:]}\n",
            ),
        ]

    login, anonymous, operator, patrol, other_patrol = run_client(state, scenario)
    assert login.startswith("HTTP/1.1 413")
    assert anonymous.startswith("HTTP/1.1 401")  # unauthenticated: refused before its body
    assert operator.startswith("HTTP/1.1 413")
    assert patrol.startswith("HTTP/1.1 413")
    assert other_patrol.startswith("HTTP/1.1 413")  # the declared size is held first, for everyone


def test_each_route_takes_its_own_body_size(tmp_path: Path) -> None:
    state = make_state(tmp_path)

    async def chunked(n: int) -> Any:
        for _ in range(n):
            yield b" " * 1024

    async def scenario(client: Any) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        tries: dict[str, tuple[str, Any, str]] = {
            "login": ("/login", {"token": "x" * LOGIN_BODY, "next": "/"}, ""),
            "json": ("/api/broadcasts", None, "operator"),
            "action": ("/api/incidents/inc-1/actions", None, "operator"),
            "update": ("/api/cases/case-1/updates", None, "patrol_a"),
        }
        for name, (path, form, role) in tries.items():
            headers = bearer(role) if role else {}
            if form is not None:
                res = await client.post(path, data=form, headers=headers)
            else:
                body = {"reason": "x" * JSON_BODY, "status": "accepted", "action": "close"}
                res = await client.post(path, json=body, headers=headers)
            out[name] = (res.status, await res.text())
        res = await client.post("/api/broadcasts", data=chunked(64), headers=bearer("operator"))
        out["chunked"] = (res.status, await res.text())
        return out

    state.board.apply_alert(alert("inc-1", case_id="case-1"))
    got = run_client(state, scenario)
    assert got["login"][0] == 413
    assert got["json"][0] == 413 and "32 KB" in got["json"][1]
    assert got["action"][0] == 413
    assert got["update"][0] == 400  # the photo route takes more: this one fails on its note's length
    assert got["chunked"][0] == 413  # a body without a length is cut off at the same limit
    assert state.publisher.sent == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- streams, logins, sessions


def test_live_streams_are_capped_per_token_and_in_total(tmp_path: Path) -> None:
    state = make_state(tmp_path, web={"max_streams": 3, "max_streams_per_token": 2})

    async def scenario(client: Any) -> list[tuple[int, str]]:
        out = []
        for role in ("viewer", "viewer", "viewer", "operator", "admin"):
            res = await client.get("/api/events", headers=bearer(role))
            out.append((res.status, (await res.json())["error"] if res.status != 200 else ""))
        return out

    got = run_client(state, scenario)
    assert [s for s, _ in got] == [200, 200, 429, 200, 429]
    assert "max_streams_per_token" in got[2][1] and "web.max_streams" in got[4][1]


def test_a_closed_stream_frees_its_slot(tmp_path: Path) -> None:
    state = make_state(tmp_path, web={"max_streams_per_token": 1})

    async def scenario(client: Any) -> list[int]:
        first = await client.get("/api/events", headers=bearer("viewer"))
        refused = await client.get("/api/events", headers=bearer("viewer"))
        first.close()
        key = next(iter(state.hub._per_token))
        while state.hub.streams_of(Principal("li", "viewer", key=key)):  # the server sees it gone
            await asyncio.sleep(0.05)
        again = await client.get("/api/events", headers=bearer("viewer"))
        return [first.status, refused.status, again.status]

    assert run_client(state, scenario) == [200, 429, 200]


def test_the_hub_counts_streams_per_token_and_forgets_closed_ones() -> None:
    hub = Hub(max_streams=1000, per_token=5)
    subs = [hub.subscribe(Principal("li", "viewer", key=f"k{i % 50}")) for i in range(250)]
    assert len(hub) == 250 and len(hub._per_token) == 50
    for sub in subs:
        hub.unsubscribe(sub)
    assert len(hub) == 0 and hub._per_token == {}


def test_logins_are_rate_limited_per_address(tmp_path: Path) -> None:
    now = [1000.0]
    state = make_state(tmp_path, now=lambda: now[0], web={"login_attempts_per_min": 3})

    async def scenario(client: Any) -> list[int]:
        out = []
        for _ in range(4):
            res = await client.post("/login", data={"token": "wrong-token-123"}, allow_redirects=False)
            out.append(res.status)
        now[0] += 20  # a third of a minute: one attempt more
        for _ in range(2):
            res = await client.post("/login", data={"token": "viewer-token-0001"}, allow_redirects=False)
            out.append(res.status)
        return out

    assert run_client(state, scenario) == [401, 401, 401, 429, 303, 429]


def test_the_login_limiter_remembers_a_bounded_number_of_addresses() -> None:
    limiter = LoginLimiter(per_min=2, max_clients=10)
    assert [limiter.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.retry_after("a") >= 1
    for i in range(100):
        limiter.allow(f"10.0.0.{i}", 1.0)
    assert len(limiter) == 10


def test_sessions_per_token_are_capped_the_oldest_ends() -> None:
    sessions = Sessions(3600, per_token=2)
    li = Principal("li", "viewer", key="k-li")
    zhang = Principal("zhang", "operator", key="k-zhang")
    other = sessions.create(zhang, 0.0)
    first, second, third = (sessions.create(li, 0.0) for _ in range(3))
    assert sessions.get(first.session_id, 1.0) is None
    assert sessions.get(second.session_id, 1.0) and sessions.get(third.session_id, 1.0)
    assert sessions.get(other.session_id, 1.0) is not None
    assert sessions.count(li) == 2 and len(sessions) == 3


def test_an_ingest_token_cannot_log_in(tmp_path: Path) -> None:
    state = make_state(tmp_path)

    async def scenario(client: Any) -> tuple[int, str, bool]:
        res = await client.post("/login", data={"token": "ingest-token-00001"}, allow_redirects=False)
        return res.status, await res.text(), "Set-Cookie" in res.headers

    status, text, cookie = run_client(state, scenario)
    assert (status, cookie) == (403, False)
    assert "no pages" in text and "/api/sensor-readings" in text


HOSTILE_NEXT = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: x=1",
    "/\\evil.example",
    "/\\/evil.example",
    "//evil.example",
    "https://evil.example/",
    "/ /evil.example",
    "/\x7f/evil.example",
    "/\u3000/evil.example",
    "evil.example",
]


@pytest.mark.parametrize("next_path", HOSTILE_NEXT, ids=[repr(n) for n in HOSTILE_NEXT])
def test_after_login_only_paths_of_this_site(tmp_path: Path, next_path: str) -> None:
    state = make_state(tmp_path)

    async def scenario(client: Any) -> tuple[int, str]:
        res = await client.post(
            "/login", data={"token": "viewer-token-0001", "next": next_path}, allow_redirects=False
        )
        return res.status, res.headers["Location"]

    assert run_client(state, scenario) == (303, "/")


def test_after_login_a_path_of_this_site_is_kept(tmp_path: Path) -> None:
    state = make_state(tmp_path)

    async def scenario(client: Any) -> str:
        res = await client.post(
            "/login",
            data={"token": "viewer-token-0001", "next": "/patrol/unit-a?x=%20y#top"},
            allow_redirects=False,
        )
        return str(res.headers["Location"])

    assert run_client(state, scenario) == "/patrol/unit-a?x=%20y#top"


# ---------------------------------------------------------------- incidents of sensors


def test_an_action_on_a_sensor_incident_goes_to_its_sensors_book(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)
    sensor_incident = {**alert("inc-s", state="open", unit=None, case_id=None), "camera_id": None}
    state.board.apply_alert({**sensor_incident, "zone_id": None, "sensor_id": "snd-1"})

    async def scenario(client: Any) -> list[int]:
        out = []
        for body in ({"action": "dispatch"}, {"action": "close", "reason": "checked on site"}):
            res = await client.post("/api/incidents/inc-s/actions", json=body, headers=bearer("operator"))
            out.append(res.status)
        return out

    assert run_client(state, scenario) == [202, 202]
    assert [(key, v["action"]) for _, key, v in publisher.sent] == [("snd-1", "dispatch"), ("snd-1", "close")]


# ---------------------------------------------------------------- patrol photos


def photo_post(client: Any, status: str, role: str = "patrol_a") -> Any:
    return client.post(
        "/api/cases/case-1/updates",
        json={"status": status, "photo": base64.b64encode(JPEG).decode()},
        headers=bearer(role),
    )


def test_photos_go_only_with_arrived_and_resolved_and_a_case_has_a_quota(tmp_path: Path) -> None:
    clock = [1000.0]

    def now() -> float:
        clock[0] += 1.0
        return clock[0]

    state: WebState = make_state(tmp_path, now=now, web={"max_photos_per_case": 2})
    state.board.apply_alert(alert("inc-1", case_id="case-1"))

    async def scenario(client: Any) -> list[tuple[int, str]]:
        out = []
        for status in ("accepted", "rejected", "arrived", "resolved", "resolved"):
            res = await photo_post(client, status)
            out.append((res.status, str((await res.json()).get("error", ""))))
        return out

    got = run_client(state, scenario)
    assert [s for s, _ in got] == [400, 400, 202, 202, 409]
    assert "arrived or resolved" in got[0][1] and "max_photos_per_case" in got[4][1]
    assert len(list((state.evidence.root / "patrol" / "case-1").iterdir())) == 2


def test_patrol_photos_have_their_own_budget_and_every_type_is_pruned(tmp_path: Path) -> None:
    files = EvidenceFiles(tmp_path, photos_max_bytes=1500)
    camera = tmp_path / "cam-a" / "20260526" / "old.jpg"
    camera.parent.mkdir(parents=True)
    camera.write_bytes(b"\xff\xd8\xff" + b"\0" * 100_000)
    os.utime(camera, (1, 1))
    olds = []
    for i, name in enumerate(["case-1/a.png", "case-1/b.webp", "case-2/c.jpg.part", "case-2/d.jpg"]):
        path = tmp_path / "patrol" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (100 + i, 100 + i))
        olds.append(path)
    saved = Path(files.save_photo("case-3", JPEG, "2026-05-26T02:20:00.000Z"))
    assert saved.exists() and saved.is_relative_to(tmp_path / "patrol")
    assert [p.exists() for p in olds] == [False, False, False, True]  # oldest first, any type
    assert camera.exists()  # camera evidence is not in the patrol budget
    assert files.photo_count("case-2") == 1 and files.photo_count("case-3") == 1
