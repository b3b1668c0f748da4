"""Street- and department-scoped tokens: parsing, the pure scope functions (role x in/out of
scope), and every kind of request on the app without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.contract.errors import WebError
from streams.contract.topics import Topics
from streams.web.auth import Sessions, TokenRegistry, parse_tokens
from streams.web.board import Board, Event
from streams.web.events import Hub
from streams.web.evidence import EvidenceFiles
from streams.web.scope import camera_in_scope, event_in_scope, incident_in_scope, scopes_of, speaker_in_scope
from streams.web.state import WebState

from ...config_support import parse
from ...web_support import JPEG, FakePublisher, alert, empty_case_record, run_client
from ..test_levels_config import levels_site

CFG = parse(levels_site())
SCOPES = scopes_of(CFG)
UNITS = [u.id for u in CFG.units]
TOKENS = {
    "viewer": "viewer-token-01",
    "operator": "operator-token-01",
    "admin": "admin-token-001",
    "north_viewer": "north-viewer-01",
    "north_operator": "north-operator-01",
    "parking": "dept-parking-01",
    "patrol_a": "patrol-a-token-01",
}
ROLES = {
    "viewer": "viewer",
    "operator": "operator",
    "admin": "admin",
    "north_viewer": "viewer:street:north",
    "north_operator": "operator:street:north",
    "parking": "dept:parking",
    "patrol_a": "patrol:unit-a",
}
TEXT = "\n".join(f"{TOKENS[k]}={ROLES[k]}@{k}" for k in TOKENS)
WHO = {who.name: who for _, who in parse_tokens(TEXT, "tokens.txt", UNITS, SCOPES)}


def test_scoped_roles_parse_to_their_scope() -> None:
    north, operator, dept = WHO["north_viewer"], WHO["north_operator"], WHO["parking"]
    assert (north.role, north.describe()) == ("viewer", "viewer:street:north")
    assert north.scope is not None and north.scope.grids == {"grid-a"}
    assert north.scope.units == {"unit-a", "office-n"}  # its grids' units and its office
    assert (operator.role, operator.describe(), operator.can_operate) == (
        "operator",
        "operator:street:north",
        True,
    )
    assert (dept.role, dept.describe(), dept.can_operate) == ("operator", "dept:parking", True)
    assert dept.scope is not None and dept.scope.categories == {"illegal_parking"}
    assert WHO["viewer"].scope is None and WHO["admin"].scope is None


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (
            "viewer:street:east",
            "street 'east' is not under streets: in the configuration (known: north, south)",
        ),
        ("operator:street:", "a street role needs an id"),
        (
            "dept:water",
            "department 'water' is not under departments: in the configuration (known: parking, shops)",
        ),
        ("dept:", "a department role needs an id"),
        ("admin:street:north", "unknown role 'admin:street:north'"),
        (
            "viewer:north",
            "unknown role 'viewer:north'; use viewer, operator, admin, ingest, integration, patrol:UNIT_ID",
        ),
    ],
)
def test_a_bad_scoped_role_names_the_known_ids(role: str, message: str) -> None:
    with pytest.raises(WebError) as err:
        parse_tokens(f"# ok\nabcdefgh1={role}", "tokens.txt", UNITS, SCOPES)
    assert message in str(err.value) and "tokens.txt:2" in str(err.value)


def test_without_streets_configured_a_street_role_is_refused() -> None:
    with pytest.raises(WebError, match=r"known: none"):
        parse_tokens("abcdefgh1=viewer:street:north", "t", UNITS)


def incident(grid: str, category: str, camera: str) -> dict[str, Any]:
    out = alert(f"inc-{grid}-{category}", camera=camera, category=category)
    out["location"] = {**out["location"], "grid_id": grid}
    return out


NORTH_SHOP = incident("grid-a", "out_of_store_business", "cam-a")
NORTH_PARKING = incident("grid-a", "illegal_parking", "cam-a")
SOUTH_PARKING = incident("grid-b", "illegal_parking", "cam-b")
# what each role sees: (north shop, north parking, south parking), cam-a, cam-b, spk-a, spk-b
SEES: dict[str, tuple[tuple[bool, bool, bool], bool, bool, bool, bool]] = {
    "viewer": ((True, True, True), True, True, True, True),
    "operator": ((True, True, True), True, True, True, True),
    "admin": ((True, True, True), True, True, True, True),
    "north_viewer": ((True, True, False), True, False, True, False),
    "north_operator": ((True, True, False), True, False, True, False),
    "parking": ((False, True, True), False, True, False, True),
    "patrol_a": ((False, False, False), False, False, False, False),
}
OPERATES = {"viewer": (False,) * 3, "operator": (True,) * 3, "admin": (True,) * 3}
OPERATES |= {
    "north_viewer": (False,) * 3,
    "north_operator": (True, True, False),
    "parking": (False, True, True),
}
OPERATES |= {"patrol_a": (False,) * 3}


@pytest.mark.parametrize("name", list(SEES))
def test_the_scope_functions_for_each_role(name: str) -> None:
    who = WHO[name]
    items, cam_a, cam_b, spk_a, spk_b = SEES[name]
    incidents = (NORTH_SHOP, NORTH_PARKING, SOUTH_PARKING)
    assert tuple(incident_in_scope(who, CFG, i) for i in incidents) == items
    assert tuple(who.can_operate_on(i) for i in incidents) == OPERATES[name]
    assert (
        camera_in_scope(who, CFG, CFG.camera("cam-a")),
        camera_in_scope(who, CFG, CFG.camera("cam-b")),
    ) == (
        cam_a,
        cam_b,
    )
    assert (speaker_in_scope(who, CFG, "spk-a"), speaker_in_scope(who, CFG, "spk-b")) == (spk_a, spk_b)
    # a report row (grid_id and a plain category) and a case without a grid (from its camera)
    row = {"grid_id": "grid-b", "category": "illegal_parking", "camera_id": "cam-b"}
    assert incident_in_scope(who, CFG, row) == items[2]
    bare = {"camera_id": "cam-b", "category": {"key": "illegal_parking"}}
    assert incident_in_scope(who, CFG, bare) == items[2]


def test_live_events_follow_the_incident_as_the_board_has_it() -> None:
    board = Board()
    board.apply_alert(SOUTH_PARKING)
    north, parking = WHO["north_viewer"], WHO["parking"]
    south_case = Event("case", {"case_id": "case-9"}, incident_id=SOUTH_PARKING["incident_id"])
    assert not event_in_scope(north, CFG, board, south_case)
    assert event_in_scope(parking, CFG, board, south_case)
    decision = Event("decision", {"request_id": "r", "speaker_id": "spk-a"})
    assert event_in_scope(north, CFG, board, decision) and not event_in_scope(parking, CFG, board, decision)
    hub = Hub(in_scope=lambda who, ev: event_in_scope(who, CFG, board, ev))
    assert hub.visible(WHO["viewer"], south_case) and not hub.visible(north, south_case)


# ---------------------------------------------------------------- every kind of request

PICTURE = {
    "north": "cam-a/20260526/cam-a-00000001-021403120.jpg",
    "south": "cam-b/20260526/cam-b-00000001.jpg",
}
# pictures of incidents only in the case record (not on the board)
STORED_PICTURE = {"north": "cam-a/20260101/cam-a-00000009.jpg", "south": "cam-b/20260101/cam-b-00000009.jpg"}


def scoped_state(tmp: Path) -> WebState:
    evidence = tmp / "evidence"
    cfg = parse(levels_site() | {"evidence": {"dir": str(evidence)}})
    state = WebState(
        cfg=cfg,
        topics=Topics("t.citywatch."),
        board=Board(),
        tokens=TokenRegistry(parse_tokens(TEXT, "test", UNITS, scopes_of(cfg))),
        sessions=Sessions(3600),
        evidence=EvidenceFiles(evidence, photos_max_bytes=1 << 20),
        publisher=FakePublisher(),
        case_record=empty_case_record(tmp / "record.db"),
    )
    for street, item in (("north", NORTH_SHOP), ("south", SOUTH_PARKING)):
        picture = evidence / PICTURE[street]
        picture.parent.mkdir(parents=True, exist_ok=True)
        picture.write_bytes(JPEG)
        state.board.apply_alert({**item, "incident_id": f"inc-{street}", "evidence": [str(picture)]})
        stored = evidence / STORED_PICTURE[street]
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(JPEG)
    return state


NAMES = ["viewer", "admin", "north_viewer", "north_operator", "parking"]


def row(viewer: int, admin: int, north_viewer: int, north_operator: int, parking: int) -> dict[str, int]:
    return dict(zip(NAMES, (viewer, admin, north_viewer, north_operator, parking), strict=True))


BROADCAST = {"text": "请勿占道", "reason": "test"}
REQUESTS: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/api/incidents/inc-north", None, row(200, 200, 200, 200, 403)),
    ("GET", "/api/incidents/inc-south", None, row(200, 200, 403, 403, 200)),
    ("GET", "/api/incidents/inc-nope", None, row(404, 404, 403, 403, 403)),  # the same 403: existence untold
    ("POST", "/api/incidents/inc-north/actions", {"action": "acknowledge"}, row(403, 202, 403, 202, 403)),
    ("POST", "/api/incidents/inc-south/actions", {"action": "acknowledge"}, row(403, 202, 403, 403, 202)),
    ("POST", "/api/incidents/inc-nope/actions", {"action": "acknowledge"}, row(403, 404, 403, 403, 403)),
    ("GET", f"/evidence/{PICTURE['north']}", None, row(200, 200, 200, 200, 403)),
    ("GET", f"/evidence/{PICTURE['south']}", None, row(200, 200, 403, 403, 200)),
    # a street's cameras' pictures; a department only those of the board's incidents
    ("GET", f"/evidence/{STORED_PICTURE['north']}", None, row(200, 200, 200, 200, 403)),
    ("GET", f"/evidence/{STORED_PICTURE['south']}", None, row(200, 200, 403, 403, 403)),
    ("POST", "/api/broadcasts", {"camera_id": "cam-a", **BROADCAST}, row(403, 202, 403, 202, 403)),
    ("POST", "/api/broadcasts", {"speaker_id": "spk-b", **BROADCAST}, row(403, 202, 403, 403, 202)),
    ("POST", "/api/cameras/cam-b/background", None, row(403, 409, 403, 403, 409)),  # 409: no such zone
    ("POST", "/api/cameras/cam-a/background", None, row(403, 409, 403, 409, 403)),
    ("GET", "/api/units/unit-a/cases", None, row(200, 200, 200, 200, 403)),
    ("GET", "/api/units/unit-b/cases", None, row(200, 200, 403, 403, 403)),
    ("GET", "/metrics", None, row(200, 200, 403, 403, 403)),
    ("GET", "/api/reports/kpis?from=2026-05-01&to=2026-06-01&by=grid", None, row(200, 200, 200, 200, 200)),
]


def test_every_kind_of_request_keeps_to_the_scope(tmp_path: Path) -> None:
    state = scoped_state(tmp_path)

    async def scenario(client: Any) -> list[str]:
        wrong = []
        for method, path, body, want in REQUESTS:
            for name, status in want.items():
                headers = {"Authorization": f"Bearer {TOKENS[name]}"}
                res = await client.request(method, path, json=body, headers=headers)
                if res.status != status:
                    wrong.append(f"{name} {method} {path}: {res.status} (want {status}) {await res.text()}")
                elif status == 403 and want["admin"] != 403 and want["viewer"] != 403:
                    assert "scope" in (await res.json())["error"], (name, path)
        return wrong

    assert run_client(state, scenario) == []


def test_lists_and_options_show_only_the_scope(tmp_path: Path) -> None:
    state = scoped_state(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        out = {}
        for name in ("viewer", "north_viewer", "parking"):
            headers = {"Authorization": f"Bearer {TOKENS[name]}"}
            listed = await (await client.get("/api/incidents", headers=headers)).json()
            options = await (await client.get("/api/options", headers=headers)).json()
            out[name] = (listed, options)
        return out

    seen = run_client(state, scenario)
    ids = {name: sorted(i["incident_id"] for i in listed["incidents"]) for name, (listed, _) in seen.items()}
    assert ids == {
        "viewer": ["inc-north", "inc-south"],
        "north_viewer": ["inc-north"],
        "parking": ["inc-south"],
    }
    north_list, north_options = seen["north_viewer"]
    assert north_list["total"] == 1 and north_list["all_counts"]["category"] == {"out_of_store_business": 1}
    assert [c["id"] for c in north_options["cameras"]] == ["cam-a"]
    assert [g["id"] for g in north_options["grids"]] == ["grid-a"]
    assert sorted(u["id"] for u in north_options["units"]) == ["office-n", "unit-a"]
    parking_options = seen["parking"][1]
    assert [c["id"] for c in parking_options["cameras"]] == ["cam-b"]
    assert [c["key"] for c in parking_options["categories"]] == ["illegal_parking"]
    assert [s["id"] for s in parking_options["speakers"]] == ["spk-b"]


def test_another_streets_incident_and_a_missing_one_get_the_same_answer(tmp_path: Path) -> None:
    state = scoped_state(tmp_path)

    async def scenario(client: Any) -> list[tuple[int, str]]:
        headers = {"Authorization": f"Bearer {TOKENS['north_viewer']}"}
        out = []
        for incident_id in ("inc-south", "inc-nope"):
            res = await client.get(f"/api/incidents/{incident_id}", headers=headers)
            out.append((res.status, (await res.json())["error"].replace(incident_id, "ID")))
        return out

    south, missing = run_client(state, scenario)
    assert (
        south == missing == (403, "forbidden: incident ID is not in street north's scope (or does not exist)")
    )
