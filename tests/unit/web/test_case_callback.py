"""The city's case system calls back: its body, its de-duplication, and the dispatch-update it becomes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from streams.contract.records import DispatchUpdate, decode
from streams.web.case_callback import PATH, SeenCallbacks, parse_callback

from ...web_support import FakePublisher, alert, bearer, make_state, run_client


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "request body is empty"),
        (b"{", "request body is not JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"status": "\xe5\xb7\xb2\xe5\xa4\x84\xe7\xbd\xae"}', "case_id (案件编号) is missing"),
        (b'{"case_id": "c-1"}', "status (状态) is missing"),
        (b'{"case_id": "c-1", "status": "closed"}', "'closed' is not a case system status: use one of"),
        (b'{"case_id": "c-1", "status": "resolved", "at": "yesterday"}', "is not an ISO 8601 time"),
        (b'{"case_id": "c-1", "status": "resolved", "note": 3}', "note"),
        (
            b'{"case_id": "c-1", "\xe6\xa1\x88\xe4\xbb\xb6\xe7\xbc\x96\xe5\x8f\xb7": "c-2", "status": "x"}',
            "differ",
        ),
    ],
)
def test_a_bad_body_says_what_to_fix(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_callback(body)


def test_chinese_keys_a_prefixed_number_and_a_local_time() -> None:
    body = (
        '{"案件编号": "CW-case-1", "状态": "已处置", "备注": "已清理", "时间": "2026-05-26T10:14:03+08:00"}'
    )
    got = parse_callback(body.encode(), "CW-")
    assert (got.case_id, got.status, got.city_status, got.note, got.at) == (
        "case-1",
        "resolved",
        "已处置",
        "已清理",
        "2026-05-26T02:14:03.000Z",
    )


def test_seen_callbacks_are_bounded() -> None:
    seen = SeenCallbacks(limit=3)
    for n in range(5):
        seen.add((f"c-{n}", "已处置", ""))
    assert len(seen) == 3 and ("c-0", "已处置", "") not in seen and ("c-4", "已处置", "") in seen


def test_a_callback_becomes_the_cases_update_once(tmp_path: Path) -> None:
    state = make_state(tmp_path, now=lambda: 1_780_000_000.0)
    state.board.apply_alert(alert("inc-1"))
    state.board.apply_alert(alert("inc-2", state="closed", case_id="case-2"))
    body = {"case_id": "case-1", "status": "已处置", "note": "已清理", "at": "2026-05-26T10:14:03+08:00"}

    async def scenario(client: Any) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for payload in (body, body, {**body, "case_id": "case-2"}, {"case_id": "case-1", "status": "退回"}):
            res = await client.post(PATH, json=payload, headers=bearer("integration"))
            out.append((res.status, await res.json()))
        return out

    got = run_client(state, scenario)
    assert [status for status, _ in got] == [202, 200, 409, 202]
    assert got[1][1] == {"duplicate": True, "case_id": "case-1"}
    assert got[2][1] == {"error": "case case-2 is closed"}
    assert isinstance(state.publisher, FakePublisher)
    sent = state.publisher.sent
    assert [(topic, key) for topic, key, _ in sent] == [("t.citywatch.dispatch-updates", "case-1")] * 2
    update = decode(DispatchUpdate, sent[0][2])
    assert (update.unit_id, update.status, update.note) == ("unit-a", "resolved", "数字城管 已处置: 已清理")
    assert sent[0][2]["reported_at"] == "2026-05-26T02:14:03.000Z" and sent[0][2]["by"] == "szcg"
    assert decode(DispatchUpdate, sent[1][2]).status == "rejected"
