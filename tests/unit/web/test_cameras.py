"""The camera wall's data (streams/web/cameras.py): status from the sidecar's age, the camera
view, open incidents per camera, and the routes on the app without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.contract.timeutil import from_iso
from streams.web.cameras import camera_status, camera_view, open_counts, read_sidecar, zone_view

from ...web_support import JPEG, alert, bearer, live_sidecar, make_state, run_client, web_config, write_live

NOW = from_iso("2026-05-26T02:14:03.120Z")


@pytest.mark.parametrize(
    ("sidecar", "status"),
    [
        (None, "offline"),
        ({}, "offline"),
        ({"captured_at": "2026-05-26T02:14:00.000Z", "status": "online"}, "online"),
        ({"captured_at": "2026-05-26T02:14:00.000Z", "status": "degraded"}, "degraded"),
        ({"captured_at": "2026-05-26T02:14:00.000Z", "status": "whatever"}, "degraded"),
        ({"captured_at": "2026-05-26T02:12:03.120Z", "status": "online"}, "online"),  # exactly the timeout
        ({"captured_at": "2026-05-26T02:12:03.119Z", "status": "online"}, "offline"),  # just over it
        ({"captured_at": "yesterday", "status": "online"}, "offline"),
        ({"captured_at": None, "status": "online"}, "offline"),
    ],
)
def test_status_comes_from_the_sidecar_and_its_age(sidecar: dict[str, Any] | None, status: str) -> None:
    assert camera_status(sidecar, NOW, timeout_s=120) == status


def test_open_incidents_are_counted_per_camera() -> None:
    incidents = [
        alert("i1", camera="cam-a", state="open"),
        alert("i2", camera="cam-a", state="dispatched"),
        alert("i3", camera="cam-a", state="closed"),
        alert("i4", camera="cam-b", state="warned"),
        {**alert("i5", state="open"), "camera_id": None},  # a sensor's incident
    ]
    assert open_counts(incidents) == {"cam-a": 2, "cam-b": 1}


def test_a_camera_view_has_its_config_live_state_zones_and_objects(tmp_path: Path) -> None:
    cfg = web_config(tmp_path)
    cam = cfg.cameras[0]
    sidecar = live_sidecar("cam-a", "2026-05-26T02:14:01.000Z")
    view = camera_view(cam, cfg, sidecar, now=NOW, open_incidents=3, has_picture=True)
    assert view["id"] == "cam-a" and view["address"] == "和平路12号" and view["speaker"] == "spk-a"
    assert view["grid"] == "grid-a" and view["lat"] is None
    assert view["status"] == "online" and view["fps"] == 2.0 and view["open_incidents"] == 3
    assert view["snapshot_at"] == "2026-05-26T02:14:01.000Z"
    assert view["snapshot_url"] == "/cameras/cam-a/live.jpg?t=2026-05-26T02%3A14%3A01.000Z"
    assert view["objects"] == sidecar["objects"]
    assert view["zones"] == zone_view(cam, cfg)
    assert view["zones"][0]["id"] == "storefront" and view["zones"][0]["categories"] == [
        "out_of_store_business"
    ]
    assert view["zones"][0]["polygon"] == [list(p) for p in cam.zones[0].polygon]

    nothing = camera_view(cam, cfg, None, now=NOW, open_incidents=0, has_picture=False)
    assert nothing["status"] == "offline" and nothing["snapshot_url"] is None and nothing["objects"] == []
    assert nothing["fps"] is None and nothing["snapshot_at"] is None


def test_a_zone_without_hours_of_its_own_shows_its_categorys() -> None:
    from ...config_support import parse, web_site

    site = web_site(Path("evidence"))
    site["categories"]["out_of_store_business"]["active_hours"] = "07:00-22:00"
    cfg = parse(site, "hours.yaml")
    assert zone_view(cfg.cameras[0], cfg)[0]["active_hours"] == "07:00-22:00"
    assert zone_view(cfg.cameras[1], cfg)[0]["active_hours"] is None


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"x" * (300 * 1024)])
def test_an_unreadable_sidecar_is_no_sidecar(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cam-a.json"
    path.write_bytes(content)
    assert read_sidecar(path) is None
    assert read_sidecar(tmp_path / "missing.json") is None


def test_the_api_lists_every_camera_with_its_picture_and_incidents(tmp_path: Path) -> None:
    state = make_state(tmp_path, now=lambda: NOW)
    write_live(state.evidence.root, "cam-a", JPEG, live_sidecar("cam-a", "2026-05-26T02:14:02.000Z"))
    state.board.apply_alert(alert("i1", camera="cam-a", state="open"))
    state.board.apply_alert(alert("i2", camera="cam-a", state="closed"))

    async def scenario(client: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        res = await client.get("/api/cameras", headers=bearer("viewer"))
        out["list"] = await res.json()
        res = await client.get("/api/cameras/cam-b", headers=bearer("viewer"))
        out["one"] = await res.json()
        res = await client.get("/api/cameras/cam-zz", headers=bearer("viewer"))
        out["unknown"] = (res.status, (await res.json())["error"])
        res = await client.get(out["list"]["cameras"][0]["snapshot_url"], headers=bearer("viewer"))
        out["picture"] = (
            res.status,
            res.headers["Content-Type"],
            res.headers["Cache-Control"],
            await res.read(),
        )
        res = await client.get("/cameras/cam-b/live.jpg", headers=bearer("viewer"))
        out["none"] = (res.status, (await res.json())["error"])
        return out

    got = run_client(state, scenario)
    cams = got["list"]["cameras"]
    assert [c["id"] for c in cams] == ["cam-a", "cam-b"]
    assert cams[0]["status"] == "online" and cams[0]["open_incidents"] == 1
    assert cams[0]["objects"][0]["label"] == "bench"
    assert cams[1]["status"] == "offline" and cams[1]["snapshot_url"] is None
    assert got["one"] == cams[1]
    assert got["unknown"] == (404, "no camera 'cam-zz' in the configuration (cameras: cam-a, cam-b)")
    assert got["picture"] == (200, "image/jpeg", "no-store", JPEG)
    assert got["none"] == (404, "camera cam-b has no live picture yet (is its edge detector running?)")


def test_pages_of_the_wall_and_of_a_camera(tmp_path: Path) -> None:
    state = make_state(tmp_path)

    async def scenario(client: Any) -> list[tuple[int, str]]:
        out = []
        for path in (
            "/cameras",
            "/cameras/cam-a",
            "/cameras/cam-zz",
            "/static/cameras.js",
            "/static/camera.js",
        ):
            res = await client.get(path, headers=bearer("viewer"))
            out.append((res.status, await res.text()))
        return out

    wall, page, unknown, wall_js, page_js = run_client(state, scenario)
    assert wall[0] == 200 and 'id="wall"' in wall[1] and "/static/cameras.css" in wall[1]
    assert page[0] == 200 and 'id="bc-form"' in page[1] and 'id="edit-zones"' in page[1]
    assert unknown[0] == 404 and "no camera 'cam-zz'" in unknown[1]
    assert wall_js[0] == 200 and page_js[0] == 200
