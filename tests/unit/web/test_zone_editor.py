"""The zone editor's API without a broker: the zones and detections it starts from, checks with
problems per zone (400 only for a malformed body, never 500), the picture, and saving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from streams.config import load_config
from streams.web.state import WebState

from ...config_support import web_site, write_config
from ...web_support import JPEG, bearer, make_state, run_client

KERB = {"id": "kerb", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], "categories": ["illegal_parking"]}
NEW = {
    "id": "bay",
    "name": "车位",
    "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]],
    "categories": ["illegal_parking"],
}


def editor(tmp_path: Path, writable: bool = False) -> WebState:
    state = make_state(tmp_path, web={"config_writable": writable})
    site = web_site(state.evidence.root, {"config_writable": writable})
    state.config_path = write_config(tmp_path / "cameras.yaml", site)
    return state


def live(state: WebState, objects: list[dict[str, Any]]) -> None:
    folder = state.evidence.root / "live"
    folder.mkdir(exist_ok=True)
    (folder / "cam-b.jpg").write_bytes(JPEG)
    sidecar = {"v": 1, "camera_id": "cam-b", "captured_at": "2026-05-26T02:14:03.120Z", "frame_size": [1, 1]}
    sidecar |= {"fps": 2, "status": "ok", "objects": objects}
    (folder / "cam-b.json").write_text(json.dumps(sidecar), encoding="utf-8")


def post(state: WebState, body: Any, role: str = "operator") -> tuple[int, dict[str, Any]]:
    async def scenario(client: Any) -> tuple[int, dict[str, Any]]:
        res = await client.post("/api/cameras/cam-b/zones", json=body, headers=bearer(role))
        return res.status, await res.json()

    return run_client(state, scenario)


def get(state: WebState, path: str) -> tuple[int, Any]:
    async def scenario(client: Any) -> tuple[int, Any]:
        res = await client.get(path, headers=bearer("operator"))
        kind = res.headers.get("Content-Type", "")
        return res.status, await (res.json() if "json" in kind else res.read())

    return run_client(state, scenario)


def test_the_editor_starts_from_the_file_and_the_latest_detections(tmp_path: Path) -> None:
    state = editor(tmp_path)
    status, body = get(state, "/api/cameras/cam-b/zones")
    assert status == 200
    assert [z["id"] for z in body["zones"]] == ["kerb", "pile"]
    assert {c["key"] for c in body["categories"]} == {
        "out_of_store_business",
        "illegal_parking",
        "piled_materials",
    }
    assert body["picture"] is False and body["live"] is None and body["writable"] is False
    status, missing = get(state, "/cameras/cam-b/zones/picture.jpg")
    assert status == 404 and "no picture of camera cam-b yet" in missing["error"]
    live(state, [{"label": "car", "score": 0.9, "box": [0.2, 0.6, 0.3, 0.8]}, {"label": "car"}])
    status, body = get(state, "/api/cameras/cam-b/zones")
    assert body["picture"] is True
    assert body["live"]["objects"] == [{"label": "car", "score": 0.9, "box": [0.2, 0.6, 0.3, 0.8]}]
    assert get(state, "/cameras/cam-b/zones/picture.jpg") == (200, JPEG)


def test_a_check_gives_the_yaml_the_file_and_which_detections_each_zone_holds(tmp_path: Path) -> None:
    state = editor(tmp_path)
    live(state, [{"label": "car", "score": 0.9, "box": [0.2, 0.6, 0.3, 0.8]}])
    before = state.config_path.read_text(encoding="utf-8") if state.config_path else ""
    status, body = post(state, {"zones": [KERB, NEW], "save": False})
    assert status == 200 and body["ok"] is True and body["problems"] == []
    assert body["inside"] == {"kerb": [0], "bay": []}
    assert yaml.safe_load(body["zones_yaml"])["zones"][1] == NEW
    assert [z["id"] for z in yaml.safe_load(body["config_yaml"])["cameras"][1]["zones"]] == ["kerb", "bay"]
    assert body["saved"] is False and body["backup"] is None
    assert state.config_path is not None and state.config_path.read_text(encoding="utf-8") == before


def test_bad_zones_are_problems_beside_their_polygon_never_errors(tmp_path: Path) -> None:
    state = editor(tmp_path)
    bad = [
        {**NEW, "polygon": [[0.1, 0.1], [0.2, 0.2]]},
        {**NEW, "id": "x", "polygon": [["a", None]], "categories": ["nope"], "active_hours": "25:00-26:00"},
        {**KERB, "id": "bay"},
    ]
    status, body = post(state, {"zones": bad, "save": True})
    assert status == 403  # not writable: refused before anything is checked
    assert "set web.config_writable: true" in body["error"]
    status, body = post(state, {"zones": bad})
    assert status == 200 and body["ok"] is False
    where = {(p["zone"], p["field"]) for p in body["problems"]}
    assert {(0, "polygon"), (1, "polygon"), (1, "active_hours"), (2, "id")} <= where
    assert all(p["message"] for p in body["problems"])
    assert body["inside"] == {"bay": []}  # only the zones valid on their own hold detections
    for malformed in ({"zones": "kerb"}, {"zones": [], "save": "yes"}, {"zones": [], "extra": 1}):
        status, body = post(state, malformed)
        assert status == 400 and "field" in body["error"], malformed


def test_saving_writes_the_file_and_keeps_the_previous_one(tmp_path: Path) -> None:
    state = editor(tmp_path, writable=True)
    assert state.config_path is not None
    before = state.config_path.read_text(encoding="utf-8")
    status, body = post(state, {"zones": [KERB, {**NEW, "id": ""}], "save": True})
    assert status == 200 and body["saved"] is False  # a problem: nothing written
    assert state.config_path.read_text(encoding="utf-8") == before
    status, body = post(state, {"zones": [KERB, NEW], "save": True})
    assert status == 200 and body["ok"] and body["saved"] is True
    assert body["backup"] == str(tmp_path / "cameras.yaml.bak")
    assert Path(body["backup"]).read_text(encoding="utf-8") == before
    assert state.config_path.read_text(encoding="utf-8") == body["config_yaml"]
    assert [z.id for z in load_config(state.config_path).cameras[1].zones] == ["kerb", "bay"]
    assert post(state, {"zones": [KERB], "save": True}, role="viewer")[0] == 403
