"""Events derived from the records, and the rules that route them to robots (pure)."""

from __future__ import annotations

import pytest

from streams.config.notify import NotifyRule
from streams.notify.events import Event, from_alert, from_case
from streams.notify.rules import robots_for, street_of_grids

from ...config_support import parse, problems_for, to_yaml
from ...notify_support import T0, alert, case, entry, notify_site, overdue_then_escalated

STREETS = {"grid-a": "heping", "grid-b": "xinhua"}


def test_a_dispatched_case_is_one_event_and_its_escalation_resend_is_none() -> None:
    (event,) = from_case(case(1))
    assert (event.kind, event.key, event.unit_id, event.due_at) == (
        "dispatched",
        "dispatched:case-1",
        "unit-a",
        T0 + 1800,
    )
    assert from_case(case(1, unit="unit-d", state="overdue")) == []


def test_overdue_and_escalated_come_from_the_history_each_once_whichever_alert_carries_them() -> None:
    events = from_alert(overdue_then_escalated(2), "camera_offline")
    assert [e.kind for e in events] == ["overdue", "escalated"]
    escalation = events[1]
    assert (escalation.unit_id, escalation.level) == ("unit-d", "district")
    # the same entries in a later alert (one more entry) give the same keys: the outbox keeps one
    later = overdue_then_escalated(2)
    later.history.append(later.history[-1].model_copy(update={"note": "a note", "at": later.history[-1].at}))
    assert [e.key for e in from_alert(later, "camera_offline")] == [e.key for e in events]


def test_a_reopened_entry_is_an_event_and_plain_entries_are_not() -> None:
    history = [
        entry(T0, "open", "zone occupied"),
        entry(T0 + 5, "resolved", "cleared", by="unit-a"),
        entry(T0 + 9, "reopened", "camera still sees the violation after resolve"),
        entry(T0 + 9, "dispatched", "rework 1; case case-3b to unit-a"),
    ]
    events = from_alert(alert(3, history), "camera_offline")
    assert [(e.kind, e.at) for e in events] == [("reopened", T0 + 9)]


def test_a_camera_offline_incident_is_told_once_by_its_id() -> None:
    offline = {"key": "camera_offline", "code": "900101", "name": "摄像头离线"}
    first = from_alert(
        alert(4, [entry(T0, "open", "camera offline since x")], category=offline), "camera_offline"
    )
    again = from_alert(
        alert(4, [entry(T0, "open", "x"), entry(T0 + 9, "dispatched", "d")], category=offline),
        "camera_offline",
    )
    assert [e.key for e in first] == [e.key for e in again] == ["camera_offline:inc-4"]
    assert from_alert(alert(4, [entry(T0, "open", "x")]), "camera_offline") == []


def test_an_event_survives_its_json_round_trip() -> None:
    event = from_alert(overdue_then_escalated(5), "camera_offline")[1]
    assert Event.from_json(event.to_json()) == event


def _event(kind: str = "dispatched", unit: str = "unit-a", grid: str = "grid-a", cat: str = "x") -> Event:
    return Event(kind, f"{kind}:1", T0, "inc-1", cat, "店外经营", "和平路12号", grid, unit_id=unit)


@pytest.mark.parametrize(
    ("rule", "event", "expected"),
    [
        ({}, _event(), True),  # empty filters: everything
        ({"events": ["overdue"]}, _event("dispatched"), False),
        ({"events": ["overdue", "dispatched"]}, _event("dispatched"), True),
        ({"units": ["unit-d"]}, _event(unit="unit-a"), False),
        ({"units": ["unit-a"]}, _event(unit="unit-a"), True),
        ({"streets": ["heping"]}, _event(grid="grid-a"), True),
        ({"streets": ["heping"]}, _event(grid="grid-b"), False),
        ({"streets": ["heping"]}, _event(grid="grid-z"), False),  # a grid of no street
        ({"categories": ["x"]}, _event(cat="x"), True),
        ({"categories": ["y"]}, _event(cat="x"), False),
        ({"events": ["dispatched"], "streets": ["heping"], "categories": ["y"]}, _event(), False),
    ],
)
def test_a_rule_holds_when_every_filter_it_has_holds(
    rule: dict[str, list[str]], event: Event, expected: bool
) -> None:
    got = robots_for(event, [NotifyRule(robots=["r1"], **rule)], STREETS)  # type: ignore[arg-type]
    assert got == (["r1"] if expected else [])


def test_robots_of_several_rules_are_named_once_in_order() -> None:
    rules = [NotifyRule(robots=["a", "b"]), NotifyRule(robots=["b", "c"], events=["dispatched"])]
    assert robots_for(_event(), rules, STREETS) == ["a", "b", "c"]
    assert street_of_grids([("heping", ["grid-a"])]) == {"grid-a": "heping"}


ROBOT = {"id": "jd-wecom", "type": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}


def test_the_notify_section_parses_and_its_references_are_checked() -> None:
    cfg = parse(
        notify_site([ROBOT], [{"events": ["overdue"], "streets": ["heping"], "robots": ["jd-wecom"]}])
    )
    assert cfg.notify.robots[0].per_minute == 20
    bad = notify_site([ROBOT], [{"streets": ["hepin"], "units": ["unit-x"], "robots": ["jd-wecon"]}])
    messages = [p.message for p in problems_for(to_yaml(bad))]
    assert any("robot 'jd-wecon'" in m and "did you mean jd-wecom" in m for m in messages), messages
    assert any("street 'hepin'" in m and "heping" in m for m in messages), messages
    assert any("unit 'unit-x'" in m for m in messages), messages


@pytest.mark.parametrize(
    ("robot", "fix"),
    [
        ({"id": "r", "type": "wecom"}, "exactly one of url and url_env"),
        ({"id": "r", "type": "wecom", "url": "u", "secret_env": "S"}, "secret_env is for type dingtalk"),
        ({"id": "r", "type": "feishu", "url": "u"}, "'wecom', 'dingtalk' or 'webhook'"),
    ],
)
def test_a_wrong_robot_is_refused_saying_what_to_fix(robot: dict[str, str], fix: str) -> None:
    messages = [p.message for p in problems_for(to_yaml(notify_site([robot], [])))]
    assert any(fix in m for m in messages), messages
