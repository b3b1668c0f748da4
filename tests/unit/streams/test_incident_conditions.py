"""Sensor and camera-health incidents through the shared lifecycle, and inhibition (pure)."""

from __future__ import annotations

from typing import Any

from streams.logic import incidents as inc

from ...config_support import feeds_config
from ...incident_support import T0, violation

CTX = inc.ConfigIndex(feeds_config())


def condition(
    book: inc.Book, subject: str, category: str, state: str, at: float, **kw: Any
) -> list[inc.Effect]:
    params: dict[str, Any] = {
        "subject": subject,
        "source": "sensor",
        "category": category,
        "state": state,
        "since": T0,
        "at": at,
        "note": f"{category} {state}",
    }
    params.update(kw)
    return inc.on_condition(book, CTX, **params)


def alerts(effects: list[inc.Effect]) -> list[dict[str, Any]]:
    return [e.value for e in effects if e.kind == "alert"]


def notes(book: inc.Book) -> list[str]:
    return [f"{h['state']}: {h['note']}" for i in book.open.values() for h in i.history]


def test_sensor_incident_has_no_camera_and_is_dispatched_to_the_grid_unit() -> None:
    book = inc.Book()
    effects = condition(book, "pm-a", "air_quality", "started", T0)
    alert = alerts(effects)[-1]
    assert alert["state"] == "open"
    assert alert["camera_id"] is None and alert["zone_id"] is None and alert["sensor_id"] == "pm-a"
    assert alert["category"] == {"key": "air_quality", "code": "210101", "name": "空气质量超标"}
    assert alert["location"]["address"] == "和平路12号" and alert["location"]["grid_id"] == "grid-a"
    assert alert["history"][0]["note"] == "air_quality started"
    assert "no warning: category has no automatic warning" in alert["history"][-1]["note"]
    assert not [e for e in effects if e.kind == "warn"]
    effects = inc.on_tick(book, CTX, T0 + 2)  # grace_s: 2
    (case,) = [e for e in effects if e.kind == "dispatch"]
    assert case.key == "unit-a" and case.value["sensor_id"] == "pm-a" and case.value["camera_id"] is None
    (index,) = [e for e in effects if e.kind == "case"]
    assert index.value["camera_id"] == "pm-a"  # the book's key: patrol updates are routed to the sensor


def test_sensor_clear_before_dispatch_closes_and_after_dispatch_verifies() -> None:
    book = inc.Book()
    condition(book, "pm-a", "air_quality", "started", T0)
    effects = condition(book, "pm-a", "air_quality", "cleared", T0 + 1)
    assert [a["state"] for a in alerts(effects)] == ["cleared", "closed"]
    assert book.open == {}
    condition(book, "pm-a", "air_quality", "started", T0 + 10, since=T0 + 10)
    inc.on_tick(book, CTX, T0 + 12)
    (incident,) = book.open.values()
    assert incident.state == "dispatched"
    condition(book, "pm-a", "air_quality", "cleared", T0 + 13, since=T0 + 10)
    assert incident.state == "dispatched"  # a case is out: the unit resolves it
    effects = (
        inc.on_update(
            book, CTX, case_id=str(incident.case_id), unit_id="unit-a", status="resolved", note="", at=T0 + 14
        )
        or []
    )
    effects += inc.on_tick(book, CTX, T0 + 16)
    assert [a["state"] for a in alerts(effects)][-2:] == ["verified", "closed"]
    assert alerts(effects)[-2]["history"][-1]["note"] == "sensor reads clear"
    assert any("sensor checks its readings until" in a["history"][-1]["note"] for a in alerts(effects))


def test_redelivered_condition_never_opens_a_twin() -> None:
    book = inc.Book()
    first = alerts(condition(book, "bin-a", "bin_overflow", "started", T0))[0]["incident_id"]
    assert alerts(condition(book, "bin-a", "bin_overflow", "started", T0)) == []
    condition(book, "bin-a", "bin_overflow", "cleared", T0 + 1)
    assert condition(book, "bin-a", "bin_overflow", "started", T0) == []  # closed: not reopened
    assert first.startswith("inc-")


def test_offline_camera_holds_its_violation_but_not_its_offline_incident() -> None:
    book = inc.Book()
    violation(book, CTX, "started", T0, labels=["bench"])
    condition(book, "cam-a", "camera_offline", "started", T0 + 5, source="health")
    effects = inc.set_held(book, CTX, held=True, reason="camera offline since …", at=T0 + 5)
    held = {i.category: i.held for i in book.open.values()}
    assert held == {"out_of_store_business": True, "camera_offline": False}
    assert [a["history"][-1]["note"] for a in alerts(effects)] == ["held: camera offline since …"]
    # the camera (degraded) reports the zone clear while held: no auto-clear
    effects = violation(book, CTX, "cleared", T0 + 6)
    assert [(a["state"], a["history"][-1]["note"]) for a in alerts(effects)] == [
        ("open", "camera sees the zone clear; held: not cleared until released")
    ]
    assert book.open["storefront|out_of_store_business"].state == "open"
    assert inc.on_tick(book, CTX, T0 + 122) == []  # nor a dispatch past its grace (T0 + 120) while held
    # a new violation while held starts held
    violation(book, CTX, "started", T0 + 7, since=T0 + 7, category="illegal_parking")
    assert book.open["storefront|illegal_parking"].held
    # back online: the offline incident clears, the violation is released and its clear applied
    effects = inc.set_held(book, CTX, held=False, reason="camera online", at=T0 + 123)
    effects += condition(book, "cam-a", "camera_offline", "cleared", T0 + 123, source="health")
    by_cat = {}
    for a in alerts(effects):
        by_cat.setdefault(a["category"]["key"], []).append(a["state"])
    assert by_cat["out_of_store_business"][-2:] == ["cleared", "closed"]
    assert by_cat["camera_offline"] == ["cleared", "closed"]
    history = alerts(effects)[0]["history"]
    assert [h["note"] for h in history if h["by"] == "health"] == [
        "held: camera offline since …",
        "released: camera online",
    ]
    assert not book.held


def test_held_book_round_trips_and_old_books_load() -> None:
    book = inc.Book()
    inc.set_held(book, CTX, held=True, reason="offline", at=T0)
    assert inc.Book.from_json(book.to_json()).held
    assert inc.Book.from_json({"open": {}, "closed": []}).held is False
    assert "held" not in inc.Book().to_json()  # unchanged shape for a camera that was never held
