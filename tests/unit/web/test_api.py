"""The command centre's routes, without a broker: every route for every role, sessions and
CSRF, malformed input (400, never 500), evidence paths that try to escape, live events."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest

from streams.contract.records import CameraCommand, decode
from streams.contract.timeutil import from_iso
from streams.logic.worktime import SlaClocks
from streams.web.board import Board, Event
from streams.web.state import WebState

from ...config_support import streams_config, web_site, write_config
from ...web_support import (
    JPEG,
    FakePublisher,
    SseEvent,
    alert,
    bearer,
    make_state,
    read_sse,
    run_client,
)

ROLES = ["none", "viewer", "operator", "admin", "patrol_a", "patrol_d", "ingest", "integration"]
READ = {
    "none": 401,
    "viewer": 200,
    "operator": 200,
    "admin": 200,
    "patrol_a": 403,
    "patrol_d": 403,
    "ingest": 403,
    "integration": 403,
}
OPERATE = {**READ, "viewer": 403, "operator": 202, "admin": 202}
EDIT = {**READ, "viewer": 403}
OPS = ("operator", "admin")
UNIT_A = {**READ, "patrol_a": 200}
ANY = {**dict.fromkeys(ROLES, 200), "none": 401}
PATROL_A = {**READ, "viewer": 403, "operator": 403, "admin": 202, "patrol_a": 202}
# a patrol asking for what is not its own gets 403 whether it exists or not (no 404 to probe with)
MISSING = {**READ, "viewer": 404, "operator": 404, "admin": 404}
MISSING_CASE = {**MISSING, "viewer": 403, "operator": 403}
# the city's case system: its integration token only, refused before the body is looked at
CASE_SYSTEM = {**dict.fromkeys(ROLES, 403), "none": 401}
CALLBACK = "/api/integrations/case-system/callback"

EVIDENCE_REL = "cam-a/20260526/cam-a-00000001-021403120.jpg"


def seeded(tmp_path: Path) -> WebState:
    state = make_state(tmp_path)
    state.config_path = write_config(tmp_path / "cameras.yaml", web_site(state.evidence.root))
    picture = state.evidence.root / EVIDENCE_REL
    picture.parent.mkdir(parents=True)
    picture.write_bytes(JPEG)
    state.board.apply_alert(alert("inc-1", evidence=[str(picture)]))
    state.board.apply_alert(alert("inc-2", camera="cam-b", state="warned", unit=None, case_id=None))
    state.board.apply_decision(
        {
            "v": 1,
            "request_id": "req-known",
            "speaker_id": "spk-a",
            "decision": "sent",
            "reason": "",
            "command_id": "cmd-1",
            "source": "operator",
            "requested_by": "zhang",
            "at": "2026-05-26T02:14:03.120Z",
        }
    )
    return state


# method, path, body, expected status per role
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/healthz", None, dict.fromkeys(ROLES, 200)),
    ("GET", "/api/whoami", None, ANY),
    ("GET", "/api/options", None, ANY),
    ("GET", "/api/incidents", None, READ),
    (
        "GET",
        "/api/incidents?state=dispatched&category=out_of_store_business&grid=grid-a&camera=cam-a",
        None,
        READ,
    ),
    ("GET", "/api/incidents/inc-1", None, READ),
    ("POST", "/api/incidents/inc-2/actions", {"action": "acknowledge"}, OPERATE),
    ("GET", "/api/broadcasts", None, READ),
    ("GET", "/api/broadcasts/req-known", None, READ),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a", "text": "请勿占道经营", "reason": "test"}, OPERATE),
    ("GET", "/api/units/unit-a/cases", None, UNIT_A),
    ("POST", "/api/cases/case-1/updates", {"status": "accepted", "note": "on my way"}, PATROL_A),
    ("GET", "/metrics", None, READ),
    ("POST", CALLBACK, {"case_id": "case-1", "status": "已处置"}, {**CASE_SYSTEM, "integration": 202}),
    ("POST", CALLBACK, {"案件编号": "case-1", "状态": "处置中"}, {**CASE_SYSTEM, "integration": 202}),
    ("POST", CALLBACK, {"case_id": "case-1", "status": "done"}, {**CASE_SYSTEM, "integration": 400}),
    ("POST", CALLBACK, "not an object", {**CASE_SYSTEM, "integration": 400}),
    ("POST", CALLBACK, {"case_id": "case-404", "status": "已处置"}, {**CASE_SYSTEM, "integration": 404}),
    # this zone is clean now: operators have the detector re-capture its reference background
    ("POST", "/api/cameras/cam-b/zones/pile/background", {"reason": "swept"}, OPERATE),
    ("POST", "/api/cameras/cam-b/zones/pile/background", None, OPERATE),
    ("POST", "/api/cameras/cam-b/background", None, OPERATE),
    # unknown camera or zone: 404, a zone without a static-object category: 409 (to operators)
    ("POST", "/api/cameras/cam-zz/zones/pile/background", None, {**OPERATE, "operator": 404, "admin": 404}),
    ("POST", "/api/cameras/cam-b/zones/nope/background", None, {**OPERATE, "operator": 404, "admin": 404}),
    ("POST", "/api/cameras/cam-b/zones/kerb/background", None, {**OPERATE, "operator": 409, "admin": 409}),
    ("POST", "/api/cameras/cam-a/background", None, {**OPERATE, "operator": 409, "admin": 409}),
    # the zone editor: operators check zones; saving needs web.config_writable (403 without it)
    ("GET", "/cameras/cam-b/zones", None, EDIT),
    ("GET", "/cameras/cam-zz/zones", None, {**EDIT, "operator": 404, "admin": 404}),
    ("GET", "/cameras/cam-b/zones/picture.jpg", None, {**EDIT, "operator": 404, "admin": 404}),
    ("GET", "/api/cameras/cam-b/zones", None, EDIT),
    ("POST", "/api/cameras/cam-b/zones", {"zones": [], "save": False}, EDIT),
    (
        "POST",
        "/api/cameras/cam-b/zones",
        {"zones": [], "save": True},
        {**EDIT, "operator": 403, "admin": 403},
    ),
    ("POST", "/api/cameras/cam-b/zones", {"zones": 3}, {**EDIT, **dict.fromkeys(OPS, 400)}),
    ("GET", "/api/reports/kpis?from=2026-05-01&to=2026-06-01&by=unit", None, READ),
    (
        "GET",
        "/api/reports/kpis?from=2026-06-01&to=2026-05-01",
        None,
        {**READ, **dict.fromkeys(("viewer", "operator", "admin"), 400)},
    ),
    ("GET", "/api/reports/kpis.xlsx?from=2026-05-01&to=2026-06-01&by=unit", None, READ),
    ("GET", "/api/reports/kpis?from=2026-05-01&to=2026-06-01&format=xlsx", None, READ),
    ("GET", "/api/reports/kpis?from=2026-05-01&to=2026-06-01&charts=1", None, READ),
    (
        "GET",
        "/api/reports/kpis?from=2026-05-01&to=2026-06-01&format=pdf",
        None,
        {**READ, **dict.fromkeys(("viewer", "operator", "admin"), 400)},
    ),
    ("GET", "/reports", None, READ),
    # the camera wall: readers only; an unknown camera is 404, a camera without a live picture too
    ("GET", "/cameras", None, READ),
    ("GET", "/cameras/cam-a", None, READ),
    ("GET", "/cameras/cam-zz", None, MISSING),
    ("GET", "/cameras/cam-a/live.jpg", None, MISSING),
    ("GET", "/api/cameras", None, READ),
    ("GET", "/api/cameras/cam-b", None, READ),
    ("GET", "/api/cameras/cam-zz", None, MISSING),
    ("GET", "/static/cameras.css", None, ANY),
    ("GET", "/static/reports.js", None, ANY),
    ("GET", "/static/vendor/echarts.min.js", None, ANY),
    ("GET", "/map", None, READ),
    ("GET", "/api/map", None, READ),
    ("GET", "/wall", None, READ),
    ("GET", "/static/wall.js", None, ANY),
    ("GET", "/static/wall.css", None, ANY),
    ("GET", "/static/map.js", None, ANY),
    ("GET", "/static/vendor/leaflet.js", None, ANY),
    ("GET", "/static/vendor/leaflet.css", None, ANY),
    ("GET", f"/evidence/{EVIDENCE_REL}", None, UNIT_A),
    ("GET", "/patrol/unit-a", None, UNIT_A),
    ("GET", "/static/app.css", None, ANY),
    ("GET", "/static/board.js", None, ANY),
    ("GET", "/", None, {**READ, "patrol_a": 302, "patrol_d": 302}),
    # sensor incidents take actions too (their subject is the sensor, not a camera)
    ("POST", "/api/incidents/inc-s/actions", {"action": "dispatch"}, OPERATE),
    ("POST", "/api/incidents/inc-s/actions", {"action": "close", "reason": "checked"}, OPERATE),
    # an incident opened for review: confirmed (the warning it did not send), dispatched, closed
    ("POST", "/api/incidents/inc-r/actions", {"action": "confirm"}, OPERATE),
    ("POST", "/api/incidents/inc-r/actions", {"action": "confirm", "reason": "goods out"}, OPERATE),
    ("POST", "/api/incidents/inc-r/actions", {"action": "dispatch"}, OPERATE),
    ("POST", "/api/incidents/inc-r/actions", {"action": "close", "reason": "a bench"}, OPERATE),
    ("GET", "/api/incidents/inc-r", None, READ),
    # existence is not told to those who may not see it
    ("GET", "/api/units/unit-zz/cases", None, MISSING),
    ("GET", "/patrol/unit-zz", None, MISSING),
    ("POST", "/api/cases/case-404/updates", {"status": "accepted"}, MISSING_CASE),
    ("GET", "/evidence/cam-b/nothing.jpg", None, MISSING),
    ("GET", "/api/incidents/inc-404", None, MISSING),
    # photos go only with arrived and resolved
    (
        "POST",
        "/api/cases/case-1/updates",
        {"status": "accepted", "photo": base64.b64encode(JPEG).decode()},
        {**PATROL_A, "admin": 400, "patrol_a": 400},
    ),
    (
        "POST",
        "/api/cases/case-1/updates",
        {"status": "arrived", "photo": base64.b64encode(JPEG).decode()},
        PATROL_A,
    ),
]


def sensor_alert(incident_id: str, *, state: str = "open") -> dict[str, Any]:
    """An incident of a sensor: no camera, its sensor is the subject."""
    return {
        **alert(incident_id, state=state, unit=None, case_id=None, category="illegal_parking"),
        "camera_id": None,
        "zone_id": None,
        "sensor_id": "snd-1",
    }


def review_alert(incident_id: str, *, state: str = "open") -> dict[str, Any]:
    """An incident the camera saw in too few frames for a warning: it waits for an operator."""
    return {
        **alert(incident_id, state=state, unit=None, case_id=None),
        "warnings": 0,
        "review": True,
        "frames_seen": 2,
        "frames": 8,
        "scores": {"bench": 0.42},
        "history": [
            {"at": "2026-05-26T02:10:00.000Z", "state": "open", "by": "rules", "note": "bench in zone"},
            {
                "at": "2026-05-26T02:10:00.000Z",
                "state": "open",
                "by": "policy",
                "note": "no warning: needs review: seen in 2 of 8 frames (a warning needs 3)",
            },
        ],
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX]
)
def test_every_route_for_every_role(
    tmp_path: Path, method: str, path: str, body: Any, expected: dict[str, int]
) -> None:
    state = seeded(tmp_path)
    state.board.apply_alert(sensor_alert("inc-s", state="open"))
    state.board.apply_alert(review_alert("inc-r"))

    async def scenario(client: Any) -> dict[str, int]:
        got: dict[str, int] = {}
        for role in ROLES:
            headers = bearer(role) if role != "none" else {}
            res = await client.request(method, path, json=body, headers=headers, allow_redirects=False)
            got[role] = res.status
            if res.status >= 400 and path.startswith(("/api/", "/metrics", "/evidence/")):
                assert "error" in await res.json(), (role, path)
        return got

    assert run_client(state, scenario) == expected


def test_live_events_need_a_token_and_stream_for_readers_and_patrols(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        got: dict[str, Any] = {}
        for role in ROLES:
            res = await client.get("/api/events", headers=bearer(role) if role != "none" else {})
            got[role] = (res.status, res.headers.get("Content-Type", "").split(";")[0])
            res.close()
        return got

    got = run_client(state, scenario)
    assert got["none"] == (401, "application/json")
    assert got["ingest"] == (403, "application/json")
    for role in ("viewer", "operator", "admin", "patrol_a", "patrol_d"):
        assert got[role] == (200, "text/event-stream"), role


def test_unknown_or_malformed_tokens_are_401(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> list[int]:
        out = []
        for header in ("Bearer nope-nope-nope", "Basic dXNlcjpwYXNz", "Bearer ", "viewer-token-0001"):
            res = await client.get("/api/incidents", headers={"Authorization": header})
            out.append(res.status)
        page = await client.get("/")
        out.append(page.status)
        assert "Access token" in await page.text()  # a browser gets the login form with the 401
        return out

    assert run_client(state, scenario) == [401, 401, 401, 401, 401]


def test_live_events_arrive_at_once_and_a_patrol_sees_only_its_unit(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    board = state.board

    async def read_events(res: Any, n: int) -> list[SseEvent]:
        return await read_sse(res, lambda events: len(events) >= n, 2.0)

    async def scenario(client: Any) -> dict[str, Any]:
        viewer = await client.get("/api/events", headers=bearer("viewer"))
        patrol_a = await client.get("/api/events", headers=bearer("patrol_a"))
        patrol_d = await client.get("/api/events", headers=bearer("patrol_d"))
        await asyncio.sleep(0.05)
        # an incident of unit-a changes; a decision is made; then one of unit-d
        for ev in (
            board.apply_alert(alert("inc-1", state="accepted", history=3)),
            board.apply_decision({"request_id": "r2", "speaker_id": "spk-a", "decision": "suppressed"}),
            board.apply_alert(alert("inc-9", camera="cam-b", unit="unit-d", case_id="case-9")),
        ):
            assert isinstance(ev, Event)
            state.hub.publish(ev)
        got_viewer = await read_events(viewer, 3)
        got_a = await read_events(patrol_a, 1)
        got_d = await read_events(patrol_d, 1)
        for res in (viewer, patrol_a, patrol_d):
            res.close()
        return {"viewer": got_viewer, "a": got_a, "d": got_d}

    got = run_client(state, scenario)
    assert [k for k, _ in got["viewer"]] == ["alert", "decision", "alert"]
    assert got["a"] == [("alert", got["viewer"][0][1])]
    assert got["a"][0][1]["state"] == "accepted"
    assert got["d"][0][1]["incident_id"] == "inc-9"  # unit-d never saw unit-a's incident nor the decision


def test_browser_session_cookie_and_csrf(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        bad = await client.post(
            "/login", data={"token": "wrong-token-123", "next": "/"}, allow_redirects=False
        )
        out["bad_login"] = bad.status
        res = await client.post(
            "/login", data={"token": "operator-token-0001", "next": "/?x=1"}, allow_redirects=False
        )
        out["login"] = (res.status, res.headers["Location"])
        cookie = res.headers["Set-Cookie"]
        out["cookie_flags"] = ("HttpOnly" in cookie, "SameSite=Strict" in cookie)
        me = await (await client.get("/api/whoami")).json()
        out["me"] = (me["name"], me["role"], bool(me["csrf"]))
        body = {"action": "acknowledge", "reason": "seen"}
        no_csrf = await client.post("/api/incidents/inc-2/actions", json=body)
        out["no_csrf"] = no_csrf.status
        wrong = await client.post(
            "/api/incidents/inc-2/actions", json=body, headers={"X-CSRF-Token": "guess"}
        )
        out["wrong_csrf"] = wrong.status
        other_site = await client.post(
            "/api/incidents/inc-2/actions",
            json=body,
            headers={"X-CSRF-Token": me["csrf"], "Origin": "https://evil.example"},
        )
        out["other_site"] = other_site.status
        ok = await client.post(
            "/api/incidents/inc-2/actions", json=body, headers={"X-CSRF-Token": me["csrf"]}
        )
        out["ok"] = ok.status
        out["logout_without_csrf"] = (await client.post("/logout")).status
        out["logout"] = (await client.post("/logout", headers={"X-CSRF-Token": me["csrf"]})).status
        out["after"] = (await client.get("/api/whoami")).status
        out["off_site_next"] = (
            await client.post(
                "/login", data={"token": "viewer-token-0001", "next": "//evil"}, allow_redirects=False
            )
        ).headers["Location"]
        return out

    out = run_client(state, scenario)
    assert out["bad_login"] == 401
    assert out["login"] == (303, "/?x=1")
    assert out["cookie_flags"] == (True, True)
    assert out["me"] == ("zhang", "operator", True)
    assert out["no_csrf"] == 403
    assert out["wrong_csrf"] == 403
    assert out["other_site"] == 403
    assert out["ok"] == 202
    assert out["logout_without_csrf"] == 403
    assert out["logout"] == 200
    assert out["after"] == 401
    assert out["off_site_next"] == "/"
    assert len(state.publisher.sent) == 1  # type: ignore[attr-defined]


def test_a_patrol_logs_in_to_its_own_page(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> tuple[str, int]:
        res = await client.post(
            "/login", data={"token": "patrol-a-token-0001", "next": "/"}, allow_redirects=False
        )
        other = await client.get("/patrol/unit-d")
        return res.headers["Location"], other.status

    assert run_client(state, scenario) == ("/patrol/unit-a", 403)


BAD_INPUT: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/incidents/inc-2/actions", "not json", "not JSON"),
    ("POST", "/api/incidents/inc-2/actions", [1, 2], "JSON object"),
    ("POST", "/api/incidents/inc-2/actions", {}, "action"),
    ("POST", "/api/incidents/inc-2/actions", {"action": "explode"}, "action"),
    ("POST", "/api/incidents/inc-2/actions", {"action": "close"}, "reason"),
    ("POST", "/api/incidents/inc-2/actions", {"action": "close", "reason": 5}, "reason"),
    ("POST", "/api/incidents/inc-2/actions", {"action": "acknowledge", "extra": 1}, "extra"),
    ("POST", "/api/cameras/cam-b/zones/pile/background", {"reason": "x" * 501}, "reason"),
    ("POST", "/api/cameras/cam-b/zones/pile/background", {"zone": "pile"}, "extra"),
    ("POST", "/api/cameras/cam-b/zones/pile/background", "not json", "not JSON"),
    ("POST", "/api/broadcasts", {"text": "hi"}, "speaker_id or camera_id"),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a", "camera_id": "cam-a", "text": "x"}, "exactly one"),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a"}, "text or template"),
    (
        "POST",
        "/api/broadcasts",
        {"speaker_id": "spk-a", "text": "x", "template": "illegal_parking"},
        "exactly one",
    ),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-zz", "text": "x"}, "unknown speaker"),
    ("POST", "/api/broadcasts", {"camera_id": "cam-zz", "text": "x"}, "unknown camera"),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a", "template": "nope"}, "unknown template"),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a", "text": "x" * 501}, "text"),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-a", "text": "x", "force": "maybe"}, "force"),
    ("POST", "/api/cases/case-1/updates", {"status": "teleported"}, "status"),
    ("POST", "/api/cases/case-1/updates", {"status": "resolved", "photo": "%%%"}, "base64"),
    (
        "POST",
        "/api/cases/case-1/updates",
        {"status": "resolved", "photo": base64.b64encode(b"GIF89a").decode()},
        "JPEG",
    ),
    ("POST", "/api/cases/case-1/updates", b"\xff\xfe", "not JSON"),
    ("POST", "/api/cases/case-1/updates", "", "empty"),
    ("GET", "/api/incidents?state=sleeping", None, "unknown state"),
    ("GET", "/api/incidents?category=noise", None, "unknown category"),
    ("GET", "/api/incidents?grid=grid-zz", None, "unknown grid"),
    ("GET", "/api/incidents?camera=cam-zz", None, "unknown camera"),
    ("GET", "/api/incidents?open=perhaps", None, "true or false"),
    ("GET", "/api/incidents?limit=lots", None, "whole number"),
    ("GET", "/api/incidents?limit=0", None, "between"),
    ("GET", "/api/broadcasts?limit=-1", None, "between"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "message"), BAD_INPUT, ids=[f"{m} {p} {b!r:.30}" for m, p, b, _ in BAD_INPUT]
)
def test_malformed_input_is_a_400_with_a_message(
    tmp_path: Path, method: str, path: str, body: Any, message: str
) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        if isinstance(body, str | bytes):
            kwargs: dict[str, Any] = {"data": body}
        else:
            kwargs = {"json": body} if body is not None else {}
        res = await client.request(method, path, headers=bearer("admin"), **kwargs)
        return res.status, await res.json()

    status, data = run_client(state, scenario)
    assert status == 400, data
    assert message.lower() in data["error"].lower()
    assert state.publisher.sent == []  # type: ignore[attr-defined]


CONFLICTS: list[tuple[str, Any, int, str]] = [
    ("/api/incidents/inc-404/actions", {"action": "acknowledge"}, 404, "no incident"),
    ("/api/incidents/inc-1/actions", {"action": "dispatch"}, 409, "already dispatched"),
    ("/api/incidents/inc-closed/actions", {"action": "close", "reason": "again"}, 409, "closed"),
    ("/api/cases/case-404/updates", {"status": "accepted"}, 404, "no case"),
    (
        "/api/cameras/cam-zz/zones/pile/background",
        {},
        404,
        "unknown camera 'cam-zz'; known cameras: cam-a, cam-b",
    ),
    (
        "/api/cameras/cam-b/zones/nope/background",
        {},
        404,
        "camera cam-b has no zone 'nope'; its zones: kerb, pile",
    ),
    (
        "/api/cameras/cam-b/zones/kerb/background",
        {},
        409,
        "zone kerb of camera cam-b has no reference background to re-capture: none of its categories "
        "(illegal_parking) counts the label 'static_object' (piled materials, exposed garbage); "
        "zones of cam-b that have one: pile",
    ),
    ("/api/cameras/cam-a/background", {}, 409, "camera cam-a has no zone with a reference background"),
    # only an open incident waiting for review is confirmed
    ("/api/incidents/inc-2/actions", {"action": "confirm"}, 409, "does not wait for review (it is warned)"),
    ("/api/incidents/inc-1/actions", {"action": "confirm"}, 409, "does not wait for review"),
    ("/api/incidents/inc-r-dispatched/actions", {"action": "confirm"}, 409, "it is dispatched"),
    ("/api/incidents/inc-closed/actions", {"action": "confirm"}, 409, "closed"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), CONFLICTS)
def test_unknown_and_finished_things_are_404_and_409(
    tmp_path: Path, path: str, body: Any, status: int, message: str
) -> None:
    state = seeded(tmp_path)
    state.board.apply_alert(alert("inc-closed", state="closed", unit=None, case_id=None))
    state.board.apply_alert(review_alert("inc-r-dispatched", state="dispatched"))

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post(path, json=body, headers=bearer("admin"))
        return res.status, await res.json()

    got_status, data = run_client(state, scenario)
    assert got_status == status
    assert message in data["error"]


def test_unknown_pages_and_units_are_json_404(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> list[int]:
        paths = [
            "/api/nothing",
            "/api/units/unit-zz/cases",
            "/patrol/unit-zz",
            "/static/nope.js",
            "/static/login.html",
        ]
        return [(await client.get(p, headers=bearer("admin"))).status for p in paths]

    assert run_client(state, scenario) == [404, 404, 404, 404, 404]


def test_evidence_paths_cannot_escape_the_evidence_directory(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(JPEG)
    (state.evidence.root / "escape.jpg").symlink_to(secret)
    (state.evidence.root / "notes.txt").write_text("not a picture")
    attempts = [
        "/evidence/..%2Fsecret.jpg",
        "/evidence/cam-a/..%2F..%2Fsecret.jpg",
        "/evidence/%2E%2E/secret.jpg",
        "/evidence/%2F" + str(secret).lstrip("/").replace("/", "%2F"),
        "/evidence/escape.jpg",
        "/evidence/notes.txt",
        "/evidence/cam-a%5C..%5C..%5Csecret.jpg",
        "/evidence/cam-a//x.jpg",
    ]

    async def scenario(client: Any) -> list[tuple[int, str]]:
        out = []
        for path in attempts:
            res = await client.get(path, headers=bearer("admin"))
            out.append((res.status, (await res.read())[:3].hex()))
        ok = await client.get(f"/evidence/{EVIDENCE_REL}", headers=bearer("admin"))
        out.append((ok.status, ok.headers["Content-Type"]))
        return out

    got = run_client(state, scenario)
    for (status, head), path in zip(got[:-1], attempts, strict=True):
        assert status in (400, 403, 404), path
        assert head != "ffd8ff", f"{path} served a picture"
    assert got[-1] == (200, "image/jpeg")


def test_a_patrol_sees_only_its_own_cases_pictures(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    other = state.evidence.root / "cam-b" / "other.jpg"
    other.parent.mkdir(parents=True)
    other.write_bytes(JPEG)

    async def scenario(client: Any) -> list[int]:
        return [
            (await client.get(f"/evidence/{EVIDENCE_REL}", headers=bearer("patrol_a"))).status,
            (await client.get("/evidence/cam-b/other.jpg", headers=bearer("patrol_a"))).status,
            (await client.get("/evidence/cam-b/other.jpg", headers=bearer("viewer"))).status,
        ]

    assert run_client(state, scenario) == [200, 403, 200]


def operator_input(publisher: FakePublisher, camera_id: str) -> dict[str, Any]:
    """The one operator action published: on the incident inputs, keyed by the incident's
    camera, dated; what it says, without its time."""
    [(topic, key, value)] = publisher.sent
    assert (topic, key) == ("t.citywatch.internal.incident-inputs", camera_id)
    assert value["at"].endswith("Z")
    return {k: value[k] for k in ("kind", "incident_id", "action", "by", "reason")}


def test_incident_action_goes_to_the_incident_inputs_keyed_by_camera(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)

    async def scenario(client: Any) -> int:
        res = await client.post(
            "/api/incidents/inc-2/actions",
            json={"action": "close", "reason": "goods gone"},
            headers=bearer("operator"),
        )
        return res.status

    assert run_client(state, scenario) == 202
    assert operator_input(publisher, "cam-b") == {
        "kind": "operator",
        "incident_id": "inc-2",
        "action": "close",
        "by": "zhang",
        "reason": "goods gone",
    }


def test_confirm_goes_to_the_incident_inputs_with_who_confirmed(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    state.board.apply_alert(review_alert("inc-r"))
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post(
            "/api/incidents/inc-r/actions",
            json={"action": "confirm", "reason": "goods on the walkway"},
            headers=bearer("operator"),
        )
        view = await client.get("/api/incidents/inc-r", headers=bearer("viewer"))
        return res.status, await view.json()

    status, view = run_client(state, scenario)
    assert status == 202
    assert operator_input(publisher, "cam-a") == {
        "kind": "operator",
        "incident_id": "inc-r",
        "action": "confirm",
        "by": "zhang",
        "reason": "goods on the walkway",
    }
    # the page reads why no warning was sent from the incident itself
    assert (view["review"], view["frames_seen"], view["frames"], view["scores"]) == (
        True,
        2,
        8,
        {"bench": 0.42},
    )
    assert view["warning"] == {
        "sent": False,
        "count": 0,
        "status": "review",
        "why": "no warning: needs review: seen in 2 of 8 frames (a warning needs 3)",
    }


def test_options_tell_each_categorys_frames_for_a_warning(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        res = await client.get("/api/options", headers=bearer("viewer"))
        data: dict[str, Any] = await res.json()
        return data

    categories = {c["key"]: c for c in run_client(state, scenario)["categories"]}
    for key, cat in state.cfg.categories.items():
        assert categories[key]["warn_min_frames"] == cat.warn_min_frames


def test_broadcast_by_camera_goes_to_its_speaker_and_its_decision_is_reported(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)

    async def scenario(client: Any) -> list[dict[str, Any]]:
        res = await client.post(
            "/api/broadcasts",
            json={"camera_id": "cam-b", "template": "illegal_parking", "reason": "car at the kerb"},
            headers=bearer("operator"),
        )
        sent = await res.json()
        pending = await (
            await client.get(f"/api/broadcasts/{sent['request_id']}", headers=bearer("viewer"))
        ).json()
        state.board.apply_decision(
            {
                "request_id": sent["request_id"],
                "speaker_id": "spk-b",
                "decision": "suppressed",
                "reason": "quiet hours",
            }
        )
        done = await (
            await client.get(f"/api/broadcasts/{sent['request_id']}", headers=bearer("viewer"))
        ).json()
        return [sent, pending, done]

    _sent, pending, done = run_client(state, scenario)
    [(topic, key, value)] = publisher.sent
    assert (topic, key) == ("t.citywatch.broadcast-requests", "spk-b")
    assert value["template"] == "illegal_parking" and value["text"] is None
    assert value["requested_by"] == "zhang" and value["camera_id"] == "cam-b"
    assert pending["status"] == "pending"
    assert (done["status"], done["reason"]) == ("suppressed", "quiet hours")


def test_a_zone_clean_now_sends_a_camera_command_keyed_by_camera(tmp_path: Path) -> None:
    state = make_state(tmp_path, now=lambda: from_iso("2026-05-26T02:14:03.120Z"))
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)

    async def scenario(client: Any) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for path, body in (
            ("/api/cameras/cam-b/zones/pile/background", {"reason": " swept at 10:00 "}),
            ("/api/cameras/cam-b/background", None),
        ):
            res = await client.post(path, json=body, headers=bearer("operator"))
            out.append((res.status, await res.json()))
        return out

    [(status, one), (status_all, every)] = run_client(state, scenario)
    assert (status, status_all) == (202, 202)
    [(topic, key, value), (_, key_all, value_all)] = publisher.sent
    assert (topic, key, key_all) == ("t.citywatch.camera-commands", "cam-b", "cam-b")
    assert decode(CameraCommand, value).model_dump() == {
        "v": 1,
        "command_id": value["command_id"],
        "camera_id": "cam-b",
        "zone_id": "pile",
        "action": "recapture_background",
        "requested_by": "zhang",
        "reason": "swept at 10:00",
        "requested_at": "2026-05-26T02:14:03.120Z",
    }
    assert one == {"status": "sent", **value}
    assert value_all["zone_id"] is None and every["zone_id"] is None
    assert value_all["command_id"] != value["command_id"]


def test_options_name_the_zones_with_a_background_to_recapture(tmp_path: Path) -> None:
    state = make_state(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        res = await client.get("/api/options", headers=bearer("viewer"))
        data: dict[str, Any] = await res.json()
        return data

    cameras = {c["id"]: c for c in run_client(state, scenario)["cameras"]}
    assert cameras["cam-a"]["background_zones"] == []
    assert cameras["cam-b"]["background_zones"] == ["pile"]


def test_resolved_with_a_photo_stores_it_in_the_evidence_directory(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    publisher = state.publisher
    assert isinstance(publisher, FakePublisher)
    photo = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()

    async def scenario(client: Any) -> int:
        res = await client.post(
            "/api/cases/case-1/updates",
            json={"status": "resolved", "note": "goods moved inside", "photo": photo},
            headers=bearer("patrol_a"),
        )
        return res.status

    assert run_client(state, scenario) == 202
    [(topic, key, value)] = publisher.sent
    assert (topic, key) == ("t.citywatch.dispatch-updates", "case-1")
    assert (value["unit_id"], value["status"]) == ("unit-a", "resolved")
    assert value["note"] == "goods moved inside (photo attached)"
    saved = Path(value["photo"])
    assert saved.read_bytes() == JPEG
    assert state.evidence.relative(str(saved)) is not None  # inside the evidence directory
    assert os.path.commonpath([saved.resolve(), state.evidence.root.resolve()]) == str(
        state.evidence.root.resolve()
    )


def test_a_too_large_photo_is_refused(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    big = base64.b64encode(b"\xff\xd8\xff" + b"\0" * (9 * 1024 * 1024)).decode()

    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post(
            "/api/cases/case-1/updates", json={"status": "resolved", "photo": big}, headers=bearer("patrol_a")
        )
        return res.status, await res.json()

    status, data = run_client(state, scenario)
    assert status == 413 and "MB" in data["error"]


def test_incidents_filter_and_count(tmp_path: Path) -> None:
    state = seeded(tmp_path)
    state.board.apply_alert(
        alert("inc-3", camera="cam-b", state="closed", unit=None, case_id=None, category="illegal_parking")
    )

    async def scenario(client: Any) -> list[dict[str, Any]]:
        out = []
        for q in (
            "",
            "?open=1",
            "?camera=cam-b",
            "?state=closed",
            "?category=illegal_parking&open=true",
            "?limit=1",
        ):
            out.append(await (await client.get("/api/incidents" + q, headers=bearer("viewer"))).json())
        return out

    every, open_, cam_b, closed, parking_open, one = run_client(state, scenario)
    assert every["total"] == 3 and every["counts"]["state"] == {"dispatched": 1, "warned": 1, "closed": 1}
    assert {i["incident_id"] for i in open_["incidents"]} == {"inc-1", "inc-2"}
    assert {i["incident_id"] for i in cam_b["incidents"]} == {"inc-2", "inc-3"}
    assert [i["incident_id"] for i in closed["incidents"]] == ["inc-3"]
    assert parking_open["total"] == 0
    assert len(one["incidents"]) == 1 and one["total"] == 3
    inc1 = next(i for i in every["incidents"] if i["incident_id"] == "inc-1")
    assert inc1["evidence_items"][0]["url"] == f"/evidence/{EVIDENCE_REL}"
    assert inc1["evidence_items"][0]["label"] == "before"


def test_options_show_a_patrol_only_its_unit(tmp_path: Path) -> None:
    state = seeded(tmp_path)

    async def scenario(client: Any) -> list[dict[str, Any]]:
        return [
            await (await client.get("/api/options", headers=bearer(role))).json()
            for role in ("patrol_a", "viewer")
        ]

    patrol, viewer = run_client(state, scenario)
    assert [u["id"] for u in patrol["units"]] == ["unit-a"] and "cameras" not in patrol
    assert [u["id"] for u in viewer["units"]] == ["unit-a", "unit-d"]
    assert viewer["speakers"][0] == {"id": "spk-a", "name": "", "cameras": ["cam-a"]}


def test_the_board_replaces_an_incident_only_with_a_newer_record(tmp_path: Path) -> None:
    board = Board()
    assert board.apply_alert(alert("inc-1", state="accepted", history=3)) is not None
    assert board.apply_alert(alert("inc-1", state="dispatched", history=2)) is None  # stale redelivery
    assert board.incident("inc-1")["state"] == "accepted"  # type: ignore[index]
    assert board.apply_alert(alert("inc-1", state="accepted", history=3)) is None  # the same record again


def test_an_open_cases_time_left_is_in_every_view_of_it(tmp_path: Path) -> None:
    board = Board(clocks=SlaClocks(streams_config()))  # as the worker's web builds it
    state = make_state(
        tmp_path, board, now=lambda: from_iso("2026-05-26T02:14:03.120Z")
    )  # an hour before due
    state.board.apply_alert(alert("inc-1"))

    async def scenario(client: Any) -> list[dict[str, Any]]:
        paths = ("/api/incidents/inc-1", "/api/incidents", "/api/units/unit-a/cases")
        got = [await (await client.get(p, headers=bearer("admin"))).json() for p in paths]
        return [got[0], got[1]["incidents"][0], got[2]["cases"][0]]

    for view in run_client(state, scenario):
        # a dispatched category counts working time; without working hours that is every second
        assert (view["sla_clock"], view["working_left_s"]) == ("working", 3600)
