"""The incident history on the API (a real SQLite case record, no broker): the live board unless
a history parameter is given, the search and its 400s, an incident whole, 503 without the
database while the live board goes on; and the board's start from the case record."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.contract.timeutil import to_iso
from streams.store import database
from streams.store.reader import HistoryReader
from streams.web import seed as seed_mod
from streams.web.board import Board
from streams.web.feed import Feed, latency_histograms
from streams.web.seed import StoreStart
from streams.web.state import WebState

from ...history_support import district, store_records
from ...store_support import STATES, T0
from ...web_support import alert, bearer, make_state, run_client


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    engine = database.open_engine(url)
    database.upgrade(engine)
    store_records(engine, district())
    engine.dispose()
    return url


def with_history(tmp_path: Path, url: str | None) -> WebState:
    board = Board()
    board.apply_alert(alert("inc-live", state="open", unit=None, case_id=None))
    state = make_state(tmp_path, board)
    state.history = HistoryReader(url) if url is not None else None
    return state


def get_all(state: WebState, *paths: str, role: str = "viewer") -> list[tuple[int, Any]]:
    async def scenario(client: Any) -> list[tuple[int, Any]]:
        out = []
        for path in paths:
            res = await client.get(path, headers=bearer(role))
            out.append((res.status, await res.json()))
        return out

    return run_client(state, scenario)


def test_without_history_parameters_the_listing_is_the_live_board(tmp_path: Path, url: str) -> None:
    [(status, body)] = get_all(with_history(tmp_path, url), "/api/incidents?state=open&limit=10")
    assert status == 200 and "source" not in body and "counts" in body
    assert [i["incident_id"] for i in body["incidents"]] == ["inc-live"]


def test_a_history_search_answers_a_page_from_the_store_in_the_boards_shape(tmp_path: Path, url: str) -> None:
    [(status, body), (_, page2), (_, by_unit)] = get_all(
        with_history(tmp_path, url),
        "/api/incidents?q=inc-x&per_page=2",
        "/api/incidents?q=inc-x&per_page=2&page=2",
        "/api/incidents?unit=unit-a&open=true",
    )
    assert status == 200
    assert (body["source"], body["total"], body["page"], body["per_page"]) == ("store", 6, 1, 2)
    assert [i["incident_id"] for i in body["incidents"]] == ["inc-x3", "inc-x1"]
    assert [i["incident_id"] for i in page2["incidents"]] == ["inc-x2", "inc-x7"]
    item = body["incidents"][1]
    assert {"warning", "evidence_items", "case", "updates", "history"} <= set(item)
    assert item["case"]["case_id"] == "case-x1" and [u["status"] for u in item["updates"]] == ["accepted"]
    assert item["evidence_items"][0]["path"] == "evidence/cam-a/inc-x1.jpg"
    assert [i["incident_id"] for i in by_unit["incidents"]] == ["inc-x1", "inc-x6", "inc-x4"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=last-week", "from must be an ISO-8601 time"),
        ("page=0", "page must be from 1"),
        ("q=x&per_page=500", "per_page must be from 1 to 200"),
        ("q=x&limit=10", "limit is the live board's"),
        ("from=2026-05-27&to=2026-05-26T00:00:00Z", "must be before to"),
        ("q=x&state=melted", "unknown state"),
    ],
)
def test_bad_history_parameters_are_400_saying_what_to_fix(
    tmp_path: Path, url: str, query: str, says: str
) -> None:
    [(status, body)] = get_all(with_history(tmp_path, url), f"/api/incidents?{query}")
    assert status == 400 and says in body["error"]


def test_an_incident_gone_from_the_board_shows_whole_from_the_store(tmp_path: Path, url: str) -> None:
    [(status, body)] = get_all(with_history(tmp_path, url), "/api/incidents/inc-1")
    assert status == 200 and body["source"] == "store" and body["history_source"] == "store"
    assert [h["state"] for h in body["history"]] == STATES  # the record on Kafka kept 6 of 9
    assert body["history_omitted"] == 0
    assert [c["case_id"] for c in body["cases"]] == ["case-1"]
    assert [u["status"] for u in body["cases"][0]["updates"]] == ["accepted", "resolved"]
    assert body["evidence_paths"] == ["evidence/cam-a/inc-1-0.jpg", "evidence/cam-a/inc-1-1.jpg"]
    assert [e["label"] for e in body["evidence_items"]] == ["before", "after"]


def test_an_incident_on_the_board_shows_the_boards_view_with_the_stored_history(
    tmp_path: Path, url: str
) -> None:
    state = with_history(tmp_path, url)
    newer = alert("inc-x1", state="accepted", case_id="case-x1", history=0, at=to_iso(T0 + 90_000))
    newer["history"] = [{"at": to_iso(T0 + 90_000), "state": "accepted", "by": "unit-a", "note": "on my way"}]
    newer["history_omitted"] = 2
    state.board.apply_alert(newer)
    [(status, body)] = get_all(state, "/api/incidents/inc-x1")
    assert status == 200 and body["source"] == "board" and body["state"] == "accepted"
    assert [h["note"] for h in body["history"]] == ["opened", "goods on the walkway", "on my way"]
    assert body["history_omitted"] == 0


def test_without_the_database_history_is_503_and_the_live_board_goes_on(tmp_path: Path) -> None:
    state = with_history(tmp_path, f"sqlite:///{tmp_path / 'nowhere.db'}")
    answers = get_all(
        state,
        "/api/incidents?q=inc",
        "/api/incidents/inc-1",
        "/api/incidents/inc-live",
        "/api/incidents",
    )
    assert [s for s, _ in answers] == [503, 503, 200, 200]
    assert "no case record at" in answers[0][1]["error"] and "citywatch store" in answers[0][1]["error"]
    assert answers[2][1]["history_source"] == "board"
    assert not (tmp_path / "nowhere.db").exists()


def test_a_web_without_a_case_record_says_so_and_keeps_its_404s(tmp_path: Path) -> None:
    answers = get_all(with_history(tmp_path, None), "/api/incidents?from=2026-05-26", "/api/incidents/inc-1")
    assert answers[0][0] == 503 and "no case record" in answers[0][1]["error"]
    assert answers[1][0] == 404


def test_a_patrol_token_cannot_search_the_history(tmp_path: Path, url: str) -> None:
    [(status, _)] = get_all(with_history(tmp_path, url), "/api/incidents?q=inc", role="patrol_a")
    assert status == 403


# ---------------------------------------------------------------- the board's start


class SeedConsumer:
    """The parts of AIOKafkaConsumer the reader's start uses: two partitions of alerts, one of
    violations; records are never served (only where each partition starts matters)."""

    def __init__(self) -> None:
        self.seeks: dict[tuple[str, int], int] = {}

    async def beginning_offsets(self, tps: list[Any]) -> dict[Any, int]:
        return dict.fromkeys(tps, 0)

    async def end_offsets(self, tps: list[Any]) -> dict[Any, int]:
        return dict.fromkeys(tps, 40)


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


def start_feed(
    url: str, committed: dict[tuple[str, int], int], monkeypatch: pytest.MonkeyPatch
) -> tuple[Feed, dict[Any, int]]:
    from streams.contract.topics import Topics

    monkeypatch.setattr(seed_mod, "store_offsets", lambda bootstrap, topics, names: dict(committed))
    topics = Topics("t.citywatch.")
    board = Board(closed_kept=1)
    start = StoreStart(HistoryReader(url), topics)
    feed = Feed(topics, board, None, latency_histograms(), {}, lambda p: p, start=start)  # type: ignore[arg-type]
    tps = [TP(topics.alerts, 0), TP(topics.alerts, 1), TP(topics.violations, 0)]
    starts = asyncio.run(feed._starts(SeedConsumer(), tps, "127.0.0.1:1"))
    return feed, starts


def test_with_the_stores_offsets_the_board_is_seeded_and_starts_there(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, starts = start_feed(url, {("t.citywatch.alerts", 0): 17}, monkeypatch)
    assert starts == {
        ("t.citywatch.alerts", 0): 17,
        ("t.citywatch.alerts", 1): 0,
        ("t.citywatch.violations", 0): 40,
    }
    open_ids = {"inc-x1", "inc-x3", "inc-x4", "inc-x6", "inc-x7"}
    assert set(feed.board.incidents) == open_ids | {
        "inc-x2"
    }  # open ones and the latest closed (closed_kept 1)
    assert feed.board.assigned("inc-x7") == "unit-d"
    assert feed.report()["seeded"] == 6 and feed.report()["from_store"] == 1
    assert "1 of 2 partitions from the store's offsets" in feed.started


def test_without_offsets_or_without_the_database_every_partition_starts_at_its_beginning(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, starts = start_feed(url, {}, monkeypatch)
    assert starts[("t.citywatch.alerts", 0)] == 0 and not feed.board.incidents
    assert "has committed no offsets" in feed.started
    gone = f"sqlite:///{tmp_path / 'gone.db'}"
    feed, starts = start_feed(gone, {("t.citywatch.alerts", 0): 17}, monkeypatch)
    assert starts[("t.citywatch.alerts", 0)] == 0 and not feed.board.incidents
    assert "the case record cannot be read" in feed.started and feed.report()["from_store"] == 0
