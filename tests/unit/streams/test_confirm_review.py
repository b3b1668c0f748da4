"""An operator confirms an incident opened for review: the warning it did not send goes to the
broadcast policy as the automatic one would; dispatch and close still work on review incidents
(pure)."""

from __future__ import annotations

from typing import Any

from streams.logic import incidents as inc

from ...config_support import streams_config
from ...incident_support import T0, violation

CTX = inc.ConfigIndex(streams_config())
NEED = CTX.cfg.categories["out_of_store_business"].warn_min_frames


def review_book() -> tuple[inc.Book, inc.Incident]:
    """A book with one incident opened for review (seen in too few frames for a warning)."""
    book = inc.Book()
    violation(
        book, CTX, "started", T0 + 2, labels=["bench"], frames_seen=NEED - 1, frames=8, scores={"bench": 0.42}
    )
    [incident] = book.open.values()
    assert incident.review
    return book, incident


def act(book: inc.Book, incident: inc.Incident, action: str, at: float, **kw: Any) -> list[inc.Effect]:
    params: dict[str, Any] = {"by": "zhang", "reason": ""} | kw
    effects = inc.on_operator(book, CTX, incident_id=incident.incident_id, action=action, at=at, **params)
    assert effects is not None
    return effects


def warns(effects: list[inc.Effect]) -> list[dict[str, Any]]:
    return [e.value for e in effects if e.kind == "warn"]


def test_confirm_clears_the_review_and_asks_for_the_automatic_warning() -> None:
    book, incident = review_book()
    effects = act(book, incident, "confirm", T0 + 10, reason="goods on the walkway")
    [warn] = warns(effects)
    # the same request the automatic warning makes, on the camera's speaker, asked by the operator
    assert warn["kind"] == "auto" and warn["speaker_id"] == "spk-a"
    assert warn["incident_id"] == incident.incident_id and warn["camera_id"] == "cam-a"
    assert warn["text"] == CTX.warning_text("cam-a", "out_of_store_business")
    assert warn["requested_by"] == "zhang" and warn["force"] is False
    assert warn["request_id"] == inc.make_id("cmd", incident.incident_id, "confirm")
    assert incident.review is False and incident.warn_pending
    alert = [e.value for e in effects if e.kind == "alert"][-1]
    assert alert["review"] is False
    assert alert["history"][-1]["by"] == "zhang"
    assert alert["history"][-1]["note"] == (
        "confirmed by operator zhang: goods on the walkway; warning requested"
    )


def test_the_policys_answer_warns_and_grace_leads_to_dispatch() -> None:
    book, incident = review_book()
    assert incident.grace_until is not None
    inc.on_tick(book, CTX, incident.grace_until + 1)  # grace ran out while under review
    assert incident.grace_until is None and incident.state == "open"
    at = T0 + 600
    act(book, incident, "confirm", at)
    assert incident.grace_until == at + CTX.cfg.categories["out_of_store_business"].grace_s
    inc.on_outcome(
        book, CTX, incident_id=incident.incident_id, decision="sent", reason="", text="t", at=at + 1
    )
    assert incident.state == "warned" and incident.warnings == 1
    assert incident.grace_until is not None
    effects = inc.on_tick(book, CTX, incident.grace_until + 1)
    assert "dispatch" in [e.kind for e in effects] and incident.state == "dispatched"


def test_a_repeated_confirmation_asks_for_no_second_warning() -> None:
    book, incident = review_book()
    first = act(book, incident, "confirm", T0 + 10)
    again = act(book, incident, "confirm", T0 + 11)
    assert len(warns(first)) == 1 and again == []


def test_an_incident_not_under_review_is_not_confirmed() -> None:
    book = inc.Book()
    violation(book, CTX, "started", T0 + 2, labels=["bench"], frames_seen=NEED + 2, frames=8)
    [incident] = book.open.values()
    history = list(incident.history)
    assert act(book, incident, "confirm", T0 + 10) == []
    assert incident.history == history


def test_confirm_on_a_held_camera_clears_the_review_but_warns_nobody() -> None:
    book, incident = review_book()
    inc.set_held(book, CTX, held=True, reason="camera offline", at=T0 + 5)
    effects = act(book, incident, "confirm", T0 + 10)
    assert warns(effects) == [] and incident.review is False
    assert incident.history[-1]["note"] == (
        "confirmed by operator zhang; no warning: camera offline: automatic warnings held"
    )


def test_dispatch_and_close_work_on_review_incidents() -> None:
    book, incident = review_book()
    effects = act(book, incident, "dispatch", T0 + 10)
    assert "dispatch" in [e.kind for e in effects] and incident.state == "dispatched"
    assert incident.review is False  # the operator decided
    book, incident = review_book()
    effects = act(book, incident, "close", T0 + 10, reason="a bench, street furniture")
    assert book.open == {} and incident.incident_id in book.closed
    alert = [e.value for e in effects if e.kind == "alert"][-1]
    assert alert["state"] == "closed" and alert["history"][-1]["note"].endswith("street furniture")
