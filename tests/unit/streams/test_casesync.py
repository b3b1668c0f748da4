"""The city's case system (数字城管): the case_system: section, what a case is sent as, the
city's statuses, and the push's outcomes on an httpx MockTransport (no network)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from streams.casesync.client import CaseClient, CaseSyncError, auth_headers, outcome
from streams.casesync.mapping import CITY_STATUSES, city_status, from_alert, from_dispatch, payload
from streams.casesync.role import CaseSync, Pushed, SyncOptions
from streams.config import load_config
from streams.config.case_system import DEFAULT_FIELDS, CaseSystem
from streams.contract.errors import ConfigError, RecordError
from streams.contract.topics import Topics

from ...config_support import streams_site, write_config
from ...web_support import alert

URL = "https://szcg.example.gov.cn/api/cases"


def dispatch_case(**extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "case_id": "case-1",
        "incident_id": "inc-1",
        "unit_id": "unit-a",
        "grid_id": "grid-a",
        "category": {"key": "out_of_store_business", "code": "200504", "name": "店外经营"},
        "location": {"address": "和平路12号", "grid_id": "grid-a", "lat": 41.8, "lon": 123.4},
        "evidence": ["https://cw.example/evidence/a.jpg"],
        "created_at": "2026-05-26T02:14:03.120Z",
        "due_at": "2026-05-26T03:14:03.120Z",
        "state": "dispatched",
        "level": "street",
        **extra,
    }


def system(**extra: Any) -> CaseSystem:
    return CaseSystem.model_validate({"url": URL, **extra})


# ---------------------------------------------------------------- what a case is sent as


def test_a_dispatched_case_is_sent_under_the_default_gbt_30428_names() -> None:
    cfg = system(case_prefix="CW-", categories={"200504": {"major": "街面秩序", "minor": "店外经营"}})
    sent = payload(from_dispatch(json.dumps(dispatch_case())), cfg)
    assert sent == {
        "案件编号": "CW-case-1",
        "问题来源": "智能视频发现",
        "大类": "街面秩序",
        "小类": "店外经营",
        "类别编码": "200504",
        "位置": "和平路12号",
        "单元网格": "grid-a",
        "纬度": 41.8,
        "经度": 123.4,
        "描述": "店外经营：和平路12号（摄像机自动发现、附证据1张）",
        "立案时间": "2026-05-26T02:14:03.120Z",
        "派遣时间": "2026-05-26T02:14:03.120Z",
        "处置时限": "2026-05-26T03:14:03.120Z",
        "处置单位": "unit-a",
        "证据": ["https://cw.example/evidence/a.jpg"],
        "revision": 1,
    }


def test_an_unmapped_code_sends_its_major_code_and_renamed_fields_keep_their_values() -> None:
    cfg = system(fields={"description": "问题描述", "case_number": "ajbh"}, source="视频监控")
    sent = payload(from_dispatch(dispatch_case(location={"address": ""})), cfg)
    assert (sent["大类"], sent["小类"]) == ("2005", "200504")
    assert sent["ajbh"] == "case-1" and "案件编号" not in sent
    assert sent["问题来源"] == "视频监控"
    assert sent["问题描述"].startswith("店外经营：网格grid-a")


def test_an_alert_past_dispatch_brings_its_stage_and_times() -> None:
    history = [
        {"at": "2026-05-26T02:10:00.000Z", "state": "open", "by": "rules"},
        {"at": "2026-05-26T02:14:03.120Z", "state": "dispatched", "by": "policy"},
        {"at": "2026-05-26T02:40:00.000Z", "state": "resolved", "by": "unit-a"},
        {"at": "2026-05-26T02:40:00.000Z", "state": "verifying", "by": "rules"},
        {"at": "2026-05-26T02:41:00.000Z", "state": "verified", "by": "rules"},
        {"at": "2026-05-26T02:41:00.000Z", "state": "closed", "by": "rules"},
    ]
    cases = {state: from_alert({**alert(state=state), "history": history}) for state in STATES}
    assert {state: view.revision if view else None for state, view in cases.items()} == {
        "open": None,
        "dispatched": None,  # the dispatch record brings revision 1
        "resolved": 2,
        "verifying": 2,
        "verified": 3,
        "closed": 4,
    }
    closed = cases["closed"]
    assert closed is not None and closed.key == "case-1:4"
    sent = payload(closed, system())
    assert sent["立案时间"] == sent["派遣时间"] == "2026-05-26T02:14:03.120Z"
    assert (sent["处置时间"], sent["核查时间"], sent["结案时间"]) == (
        "2026-05-26T02:40:00.000Z",
        "2026-05-26T02:41:00.000Z",
        "2026-05-26T02:41:00.000Z",
    )
    assert from_alert(alert(state="closed", case_id=None, unit=None)) is None


STATES = ("open", "dispatched", "resolved", "verifying", "verified", "closed")


def test_malformed_records_name_their_field() -> None:
    with pytest.raises(RecordError, match="category"):
        from_dispatch(dispatch_case(category="店外经营"))
    with pytest.raises(RecordError, match="unit_id"):
        from_alert({**alert(state="closed"), "unit_id": None})


# ---------------------------------------------------------------- the city's statuses


@pytest.mark.parametrize(
    ("city", "ours"),
    [
        ("受理", "accepted"),
        ("派遣", "accepted"),
        ("处置中", "arrived"),
        ("已处置", "resolved"),
        ("已核查", "resolved"),
        ("结案", "resolved"),
        ("退回", "rejected"),
        (" 已处置 ", "resolved"),
        ("resolved", "resolved"),
    ],
)
def test_city_statuses_map_to_a_patrols(city: str, ours: str) -> None:
    assert city_status(city) == ours


def test_an_unknown_status_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="use one of 受理、派遣、处置中、已处置、已核查、结案、退回") as err:
        city_status("办结")
    assert "'办结'" in str(err.value)
    assert set(CITY_STATUSES.values()) <= {"accepted", "arrived", "resolved", "rejected"}


# ---------------------------------------------------------------- the configuration


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"url": "szcg.example.gov.cn"}, "is not an http:// or https:// URL"),
        ({"url": URL, "categories": {"2005": {"major": "街面秩序", "minor": "x"}}}, "write its 6 digits"),
        ({"url": URL, "fields": {"descripton": "问题描述"}}, "did you mean description?"),
        ({"url": URL, "fields": {"address": "大类"}}, "大类 would name two fields"),
        ({"url": URL, "token_env": "T", "basic": {"user_env": "U", "password_env": "P"}}, "not both"),
        ({"url": URL, "token_env": "not a name"}, "token_env"),
        ({"url": URL, "retry": 3}, "retry"),
    ],
)
def test_a_wrong_section_says_what_to_fix(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CaseSystem.model_validate(section)


def test_the_section_in_cameras_yaml_points_at_its_line(tmp_path: Path) -> None:
    cfg = streams_site()
    good = write_config(
        tmp_path / "good.yaml", {**cfg, "case_system": {"url": URL, "token_env": "SZCG_TOKEN"}}
    )
    loaded = load_config(good).case_system
    assert loaded is not None and loaded.field_names() == DEFAULT_FIELDS
    bad = write_config(
        tmp_path / "bad.yaml", {**cfg, "case_system": {"url": URL, "fields": {"adress": "位置"}}}
    )
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+.*case_system.*did you mean address"):
        load_config(bad)
    typo = {"url": URL, "categories": {"300504": {"major": "街面秩序", "minor": "店外经营"}}}
    mistyped = write_config(tmp_path / "typo.yaml", {**cfg, "case_system": typo})
    with pytest.raises(
        ConfigError, match=r"typo\.yaml:\d+.*code 300504, which no category.*did you mean 200504"
    ):
        load_config(mistyped)


def test_credentials_come_from_the_environment() -> None:
    bearer = system(**{"token_env": "SZCG_TOKEN"})
    assert auth_headers(bearer, {"SZCG_TOKEN": "s3cret"}) == {"Authorization": "Bearer s3cret"}
    basic = system(basic={"user_env": "U", "password_env": "P"})
    assert auth_headers(basic, {"U": "city", "P": "pw"}) == {"Authorization": "Basic Y2l0eTpwdw=="}
    with pytest.raises(CaseSyncError, match="environment variable SZCG_TOKEN is not set"):
        auth_headers(bearer, {})


# ---------------------------------------------------------------- pushing


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "accepted"), (201, "accepted"), (202, "accepted"), (409, "duplicate"), (429, "retry"),
     (500, "retry"), (503, "retry"), (None, "retry"), (400, "refused"), (401, "refused"),
     (404, "refused"), (422, "refused")],
)  # fmt: skip
def test_outcomes(status: int | None, expected: str) -> None:
    assert outcome(status) == expected


def client_answering(statuses: list[int | Exception], seen: list[httpx.Request], **cfg: Any) -> CaseClient:
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"error": "bad 小类"} if answer == 400 else {})

    settings = {"backoff_initial_s": 0.001, "backoff_cap_s": 0.002, "token_env": "T", **cfg}
    return CaseClient(system(**settings), environ={"T": "tok-1"}, transport=httpx.MockTransport(handle))


def test_a_push_is_tried_again_until_accepted_with_one_idempotency_key() -> None:
    seen: list[httpx.Request] = []
    client = client_answering([503, httpx.ConnectError("refused"), 429, 201], seen, retries=1)
    result = client.push(from_dispatch(dispatch_case()), threading.Event())
    assert (result.outcome, result.attempts, client.failures) == ("accepted", 4, 3)
    assert {r.headers["Idempotency-Key"] for r in seen} == {"case-1:1"}
    assert {r.headers["Authorization"] for r in seen} == {"Bearer tok-1"}
    assert json.loads(seen[-1].content)["案件编号"] == "case-1"


def test_a_duplicate_is_accepted_and_a_refusal_says_why() -> None:
    view = from_dispatch(dispatch_case())
    assert client_answering([409], []).push(view, threading.Event()).outcome == "duplicate"
    refused = client_answering([400], []).push(view, threading.Event())
    assert refused.outcome == "refused"
    assert refused.reason == "the case system refused case case-1:1 (400): HTTP 400 bad 小类"


def test_a_stop_ends_the_retries_without_acceptance() -> None:
    stop = threading.Event()
    stop.set()
    assert client_answering([503], []).push(from_dispatch(dispatch_case()), stop).outcome == "stopped"


def test_pushed_stages_are_remembered_within_a_bound() -> None:
    pushed = Pushed(limit=2)
    first = from_dispatch(dispatch_case())
    pushed.add(first)
    assert pushed.done(first)
    for n in range(2, 5):
        pushed.add(from_dispatch(dispatch_case(case_id=f"case-{n}")))
    assert len(pushed) == 2 and not pushed.done(first)  # forgotten: pushed again, a 409
    later = from_alert(alert("inc-9", state="verified", case_id="case-4"))
    assert later is not None and not pushed.done(later)
    pushed.add(later)
    assert pushed.done(from_dispatch(dispatch_case(case_id="case-4")))  # an older stage is not re-sent


# ---------------------------------------------------------------- the role's loop, one record at a time


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes


class FakeKafka:
    """The consumer's commits and the producer's dead letters, kept."""

    def __init__(self) -> None:
        self.commits: list[tuple[str, int]] = []
        self.letters: list[dict[str, Any]] = []

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits.extend((tp.topic, meta.offset) for tp, meta in offsets.items())

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.letters.append({"topic": topic, **json.loads(value)})
        return self

    def get(self, timeout: float) -> None:
        return None


def test_the_loop_commits_after_acceptance_and_dead_letters_what_cannot_be_pushed() -> None:
    topics = Topics("t.citywatch.")
    seen: list[httpx.Request] = []
    client = client_answering([503, 201, 400, 409], seen)
    sync = CaseSync(client, SyncOptions("127.0.0.1:1", topics))
    kafka = FakeKafka()
    sync._consumer = sync._producer = kafka
    stop = threading.Event()
    records = [
        Rec(topics.dispatch, 0, 7, json.dumps(dispatch_case()).encode()),  # 503, then accepted
        Rec(topics.dispatch, 0, 8, b"{not json"),  # malformed
        Rec(topics.dispatch, 1, 3, json.dumps(dispatch_case(case_id="case-2")).encode()),  # 400
        Rec(topics.alerts, 2, 5, json.dumps(alert(state="dispatched")).encode()),  # nothing to push
        Rec(topics.dispatch, 0, 9, json.dumps(dispatch_case()).encode()),  # case-1:1 again: remembered
        Rec(topics.alerts, 2, 6, json.dumps(alert(state="closed")).encode()),  # 409: accepted before
    ]
    assert all(sync.handle(rec, stop) for rec in records)
    assert kafka.commits == [
        (topics.dispatch, 8),
        (topics.dispatch, 9),
        (topics.dispatch, 4),
        (topics.alerts, 6),
        (topics.dispatch, 10),
        (topics.alerts, 7),
    ]
    assert [(letter["offset"], letter["error"][:40]) for letter in kafka.letters] == [
        (8, "DispatchCase: field '<payload>': not UTF"),
        (3, "the case system refused case case-2:1 (4"),
    ]
    assert [r.headers["Idempotency-Key"] for r in seen] == ["case-1:1", "case-1:1", "case-2:1", "case-1:4"]
    assert sync.summary() == "records=6 accepted=1 duplicates=1 skipped=2 deadletters=2 retries=1"


def test_a_stop_before_acceptance_commits_nothing() -> None:
    topics = Topics("t.citywatch.")
    sync = CaseSync(client_answering([503], []), SyncOptions("127.0.0.1:1", topics))
    kafka = FakeKafka()
    sync._consumer = sync._producer = kafka
    stop = threading.Event()
    stop.set()
    assert not sync.handle(Rec(topics.dispatch, 0, 7, json.dumps(dispatch_case()).encode()), stop)
    assert kafka.commits == [] and kafka.letters == []
