"""The map: its features from the configuration and the board (``map_view``), /api/map, and the
map's configuration (grid outlines, speaker places, tiles) with its errors and warnings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config import Config
from streams.config.verify_map import map_warnings
from streams.web.board import Board
from streams.web.map import map_view

from ...config_support import map_site, parse, problems_for
from ...web_support import alert, bearer, make_state, run_client


def map_config(tmp_path: Path, edit: Any = None, web: dict[str, Any] | None = None) -> Config:
    site = map_site(tmp_path, web)
    if edit is not None:
        edit(site)
    return parse(site, "map.yaml")


def placed(alert_record: dict[str, Any], lat: float | None, lon: float | None) -> dict[str, Any]:
    return {**alert_record, "location": {**alert_record["location"], "lat": lat, "lon": lon}}


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items}


def test_every_configured_thing_is_placed_or_listed_as_unplaced(tmp_path: Path) -> None:
    view = map_view(map_config(tmp_path), [])
    assert view["tiles"] is None and view["attribution"] == ""
    cams = by_id(view["cameras"])
    assert set(cams) == {"cam-a", "cam-b"}
    assert cams["cam-a"] | {"open_incidents": 0} == {
        "id": "cam-a",
        "name": "",
        "address": "老王便利店 · 和平路12号",
        "grid": "grid-a",
        "speaker": "spk-a",
        "status": "unknown",
        "open_incidents": 0,
        "lat": 39.9212,
        "lon": 116.4431,
    }
    assert [(u["kind"], u["id"]) for u in view["unplaced"]] == [("camera", "cam-c")]
    sensors = by_id(view["sensors"])
    assert sensors["pm-a"]["lat"] == 39.9214 and sensors["pm-a"]["kind"] == "pm25"
    speakers = by_id(view["speakers"])
    # spk-a has no place of its own: drawn at the first camera that uses it; spk-b on its pole
    assert (speakers["spk-a"]["lat"], speakers["spk-a"]["lon"], speakers["spk-a"]["placed_at"]) == (
        39.9212,
        116.4431,
        "cam-a",
    )
    assert (speakers["spk-b"]["lat"], speakers["spk-b"]["address"], speakers["spk-b"]["placed_at"]) == (
        39.919,
        "兴华街口",
        None,
    )
    grids = by_id(view["grids"])
    assert grids["grid-a"]["polygon"][0] == [39.923, 116.4385] and grids["grid-a"]["unit"] == "unit-a"
    assert len(grids["grid-b"]["polygon"]) == 4


def test_a_speaker_without_a_place_or_a_placed_camera_is_unplaced(tmp_path: Path) -> None:
    def edit(site: dict[str, Any]) -> None:
        del site["speakers"][1]["location"]
        for cam in site["cameras"]:
            cam["speaker"] = "spk-b" if cam["id"] == "cam-c" else None

    view = map_view(map_config(tmp_path, edit), [])
    assert view["speakers"] == []
    assert {(u["kind"], u["id"]) for u in view["unplaced"]} == {
        ("camera", "cam-c"),
        ("speaker", "spk-a"),
        ("speaker", "spk-b"),
    }


def test_open_incidents_are_placed_by_their_record_else_at_their_camera(tmp_path: Path) -> None:
    incidents = [
        placed(alert("inc-own", state="warned", at="2026-05-26T02:15:00.000Z"), 39.92, 116.44),
        alert("inc-at-cam", camera="cam-b", state="overdue"),  # no lat/lon in the record
        alert("inc-nowhere", camera="cam-c", state="open"),
        alert("inc-closed", state="closed"),
        {
            **alert("inc-sensor", state="open", unit=None, case_id=None),
            "camera_id": None,
            "sensor_id": "pm-a",
        },
    ]
    view = map_view(map_config(tmp_path), incidents)
    shown = by_id(view["incidents"])
    assert set(shown) == {"inc-own", "inc-at-cam", "inc-sensor"}
    assert (shown["inc-own"]["lat"], shown["inc-own"]["lon"], shown["inc-own"]["state"]) == (
        39.92,
        116.44,
        "warned",
    )
    assert (shown["inc-at-cam"]["lat"], shown["inc-at-cam"]["lon"]) == (39.9187, 116.4402)
    assert (shown["inc-sensor"]["lat"], shown["inc-sensor"]["lon"]) == (39.9214, 116.4436)
    own = shown["inc-own"]
    assert own["category"] == {"key": "out_of_store_business", "name": "店外经营", "code": "200504"}
    assert own["camera_id"] == "cam-a" and own["opened_at"] == "2026-05-26T02:10:00.000Z"
    assert own["address"] == "老王便利店 · 和平路12号" and own["grid"] == "grid-a"
    assert [(u["kind"], u["id"]) for u in view["unplaced"]] == [
        ("camera", "cam-c"),
        ("incident", "inc-nowhere"),
    ]
    cams = by_id(view["cameras"])
    assert cams["cam-a"]["open_incidents"] == 1 and cams["cam-b"]["open_incidents"] == 1
    assert by_id(view["sensors"])["pm-a"]["open_incidents"] == 1


def test_a_camera_is_offline_while_its_offline_incident_is_open_else_its_known_status(tmp_path: Path) -> None:
    offline = alert("inc-off", camera="cam-b", state="open", category="camera_offline")
    stale = {**alert("inc-stale", category="sensor_stale"), "camera_id": None, "sensor_id": "pm-a"}
    cfg = map_config(tmp_path)
    view = map_view(cfg, [offline, stale], camera_status={"cam-a": "online", "cam-b": "online"})
    cams = by_id(view["cameras"])
    assert (cams["cam-a"]["status"], cams["cam-b"]["status"]) == ("online", "offline")
    assert by_id(view["sensors"])["pm-a"]["status"] == "stale"
    closed = map_view(cfg, [{**offline, "state": "closed"}])
    assert by_id(closed["cameras"])["cam-b"]["status"] == "unknown"


def test_tiles_and_attribution_come_from_the_web_section(tmp_path: Path) -> None:
    web = {"map_tiles": "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png", "map_attribution": "© 城市 GIS"}
    view = map_view(map_config(tmp_path, web=web), [])
    assert (view["tiles"], view["attribution"]) == (web["map_tiles"], "© 城市 GIS")


def test_api_map_serves_the_boards_open_incidents(tmp_path: Path) -> None:
    board = Board()
    board.apply_alert(alert("inc-1", state="dispatched"))
    board.apply_alert(alert("inc-2", state="closed"))
    state = make_state(tmp_path, board)
    state.cfg = map_config(tmp_path)

    async def scenario(client: Any) -> dict[str, Any]:
        res = await client.get("/api/map", headers=bearer("viewer"))
        assert res.status == 200
        body: dict[str, Any] = await res.json()
        return body

    body = run_client(state, scenario)
    assert [(i["id"], i["state"], i["lat"]) for i in body["incidents"]] == [("inc-1", "dispatched", 39.9212)]
    assert body["final_states"] == ["closed"]


# ---------------------------------------------------------------- configuration


def sample_text(edit: Any) -> str:
    site = copy.deepcopy(map_site(Path("evidence")))
    edit(site)
    return yaml.safe_dump(site, allow_unicode=True)


@pytest.mark.parametrize(
    ("case", "edit", "expected"),
    [
        (
            "two corners",
            lambda s: s["grids"][0].update(polygon=[[39.92, 116.44], [39.93, 116.45]]),
            ("grids[0].polygon", "grid grid-a: an outline needs at least 3 corners, this one has 2"),
        ),
        (
            "lat and lon swapped",
            lambda s: s["grids"][0].update(polygon=[[116.44, 39.92], [39.93, 116.45], [39.92, 116.45]]),
            ("grids[0].polygon[0]", "lat must be -90..90 and lon -180..180 (lat and lon swapped?"),
        ),
        (
            "edges cross",
            lambda s: s["grids"][0].update(polygon=[[0, 0], [1, 1], [0, 1], [1, 0]]),
            ("grids[0].polygon", "outline edges 0->1 and 2->3 cross each other"),
        ),
        (
            "a corner of three numbers",
            lambda s: s["grids"][0].update(polygon=[[39.92, 116.44, 3], [39.93, 116.45], [39.92, 116.45]]),
            ("grids[0].polygon[0]", "at most 2 items"),
        ),
        (
            "tiles without {z}",
            lambda s: s.update(web={"map_tiles": "https://gis.example/tiles/{x}/{y}.png"}),
            ("web.map_tiles", "lacks {z}; give a tile URL template"),
        ),
        (
            "tiles on no scheme",
            lambda s: s.update(web={"map_tiles": "gis.example/{z}/{x}/{y}.png"}),
            ("web.map_tiles", "neither an http(s):// URL nor a path of this server"),
        ),
        (
            "speaker off the globe",
            lambda s: s["speakers"][0].update(location={"lat": 139.9, "lon": 116.4}),
            ("speakers[0].location.lat", "less than or equal to 90"),
        ),
        (
            "speaker place without lon",
            lambda s: s["speakers"][0].update(location={"lat": 39.9}),
            ("speakers[0].location.lon", "required key 'lon' is missing"),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_map_config_is_refused_with_what_to_fix(case: str, edit: Any, expected: tuple[str, str]) -> None:
    problems = problems_for(sample_text(edit))
    path, text = expected
    assert any(p.path == path and text in p.message for p in problems), [str(p) for p in problems]
    assert all(p.line for p in problems), [str(p) for p in problems]


def test_tiles_may_be_served_by_this_server_and_the_map_keys_are_optional() -> None:
    cfg = parse(map_site(Path("evidence"), {"map_tiles": "/tiles/{z}/{x}/{y}.png"}), "map.yaml")
    assert cfg.web.map_tiles == "/tiles/{z}/{x}/{y}.png"
    bare = map_site(Path("evidence"))
    for grid in bare["grids"]:
        del grid["polygon"]
    del bare["speakers"][1]["location"]
    cfg = parse(bare, "bare.yaml")
    assert cfg.web.map_tiles is None and all(g.polygon is None for g in cfg.grids)
    assert map_view(cfg, [])["grids"] == []


def test_check_warns_of_a_camera_or_sensor_outside_its_grids_outline() -> None:
    site = map_site(Path("evidence"))
    assert map_warnings(parse(site, "map.yaml")) == []
    site["cameras"][1]["location"]["lat"] = 39.95  # north of grid-a
    site["sensors"][0]["grid"] = "grid-b"
    warnings = map_warnings(parse(site, "map.yaml"))
    assert warnings == [
        "warning: camera cam-b at [39.95, 116.4402] lies outside the outline of its grid grid-a "
        "(grids[].polygon): check its lat/lon or the grid's corners",
        "warning: sensor pm-a at [39.9214, 116.4436] lies outside the outline of its grid grid-b "
        "(grids[].polygon): check its lat/lon or the grid's corners",
    ]


def test_the_sample_config_draws_its_grids_around_its_cameras() -> None:
    from streams.config import load_config

    from ...conftest import REPO

    cfg = load_config(REPO / "cameras.yaml")
    view = map_view(cfg, [])
    assert {g["id"] for g in view["grids"]} == {g.id for g in cfg.grids}
    assert view["unplaced"] == [] and map_warnings(cfg) == []


def test_the_map_page_loads_nothing_from_another_host() -> None:
    import re
    from importlib import resources

    static = resources.files("streams.web").joinpath("static")
    page = static.joinpath("map.html").read_text("utf-8")
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert "/static/vendor/leaflet.js" in refs and "/static/vendor/leaflet.css" in refs
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    leaflet = static.joinpath("vendor", "leaflet.js").read_text("utf-8")
    assert leaflet.startswith("/* @preserve\n * Leaflet 1.9.4")
    assert "BSD 2-Clause" in static.joinpath("vendor", "LEAFLET-LICENSE").read_text("utf-8")
