"""The map page on a real worker and the embedded broker, in headless Chromium: every configured
camera, sensor and speaker is a marker, grid outlines are drawn, an incident produced on the
alerts topic appears, changes colour and leaves live, popups open on a click and an incident's
link opens it on the board; without map_tiles nothing is asked of any other server, with
map_tiles pointing at a local tile server its tiles load. Screenshots: CITYWATCH_SCREENSHOTS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from streams.contract.timeutil import to_iso
from streams.dev.broker import EmbeddedBroker

from ..config_support import map_site
from ..streams_support import produce
from ..web_support import TOKENS, WebWorker, alert, live_sidecar, save_screenshot, web_worker_on, write_live
from .test_web import chrome, login

pytestmark = [pytest.mark.integration, pytest.mark.slow]


MapWorker = WebWorker


class Tiles:
    """A tile server on localhost: every /{z}/{x}/{y}.png is one light-grey 256 px PNG."""

    def __init__(self) -> None:
        import cv2
        import numpy as np

        ok, png = cv2.imencode(".png", np.full((256, 256, 3), 225, np.uint8))
        assert ok
        body = png.tobytes()
        asked: list[str] = []
        self.asked = asked

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def plain(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapWorker]:
    """A worker without map tiles."""
    tmp = tmp_path_factory.mktemp("map")
    with web_worker_on(broker.bootstrap, tmp, map_site(tmp / "evidence"), config_name="map.yaml") as running:
        yield running


OPAQUE = "const e = document.querySelector(arguments[0]); return !!e && getComputedStyle(e).opacity === '1';"


def marker(kind: str, ident: str) -> str:
    return f'.cw-mk[data-kind="{kind}"][data-id="{ident}"]'


def data_state(driver: Any, selector: str) -> str | None:
    value = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.dataset.state;", selector
    )
    return None if value is None else str(value)


def centre(driver: Any, selector: str) -> tuple[int, int]:
    """Where an element's centre is on the screen, in whole pixels."""
    x, y = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.left + r.width / 2, r.top + r.height / 2];",
        selector,
    )
    return round(x), round(y)


def foreign_requests(driver: Any, allowed: set[str]) -> list[str]:
    """Every resource the page loaded from a host:port not in ``allowed``."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([...document.querySelectorAll('img')].map(i => i.src))"
    )
    return [n for n in names if urlsplit(n).scheme in ("http", "https") and urlsplit(n).netloc not in allowed]


def incident_at(incident_id: str, state: str, revision: int, lat: float, lon: float) -> dict[str, Any]:
    record = alert(incident_id, camera="cam-a", state=state, unit=None, case_id=None, at=to_iso(time.time()))
    record["location"] |= {"lat": lat, "lon": lon}
    return {**record, "revision": revision}


def open_map(driver: Any, base: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    login(driver, base, TOKENS["viewer"])
    driver.get(base + "/map")
    wait = WebDriverWait(driver, 30, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, marker("camera", "cam-a")))
    return wait


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_map_places_everything_and_follows_an_incident_live(
    plain: MapWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not look for drivers on the network
    driver = chrome(tmp_path, 1600, 1000)
    try:
        wait = open_map(driver, plain.base)
        for kind, ident in [
            ("camera", "cam-a"),
            ("camera", "cam-b"),
            ("sensor", "pm-a"),
            ("speaker", "spk-a"),
            ("speaker", "spk-b"),
        ]:
            assert driver.find_elements(By.CSS_SELECTOR, marker(kind, ident)), (kind, ident)
        assert data_state(driver, marker("camera", "cam-a")) == "unknown"
        # cam-c has no lat/lon: listed beside the map, not drawn
        assert not driver.find_elements(By.CSS_SELECTOR, marker("camera", "cam-c"))
        assert "cam-c" in driver.find_element(By.ID, "unplaced").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "path.cw-grid")) == 2
        assert driver.find_elements(By.CSS_SELECTOR, "path.cw-graticule")  # the plain canvas

        # an incident on the alerts topic: drawn where it is, recoloured as it moves on, gone once closed
        produce(
            plain.bootstrap,
            plain.topics.alerts,
            [("inc-map-1", incident_at("inc-map-1", "open", 1, 39.9205, 116.4455))],
        )
        wait.until(lambda d: data_state(d, marker("incident", "inc-map-1")) == "open")
        produce(
            plain.bootstrap,
            plain.topics.alerts,
            [("inc-map-1", incident_at("inc-map-1", "warned", 2, 39.9205, 116.4455))],
        )
        wait.until(lambda d: data_state(d, marker("incident", "inc-map-1")) == "warned")
        assert "st-warned" in driver.find_element(
            By.CSS_SELECTOR, marker("incident", "inc-map-1")
        ).get_attribute("class")

        driver.find_element(By.CSS_SELECTOR, marker("camera", "cam-a")).click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.leaflet-popup .cw-popup[data-id="cam-a"]'))
        popup = driver.find_element(By.CSS_SELECTOR, '.leaflet-popup .cw-popup[data-id="cam-a"]')
        assert "老王便利店 · 和平路12号" in popup.text and "unknown" in popup.text
        assert popup.find_element(By.CSS_SELECTOR, "a").get_attribute("href") == plain.base + "/cameras/cam-a"

        driver.find_element(By.CSS_SELECTOR, marker("incident", "inc-map-1")).click()
        wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '.leaflet-popup .cw-popup[data-id="inc-map-1"]')
        )
        popup = driver.find_element(By.CSS_SELECTOR, '.leaflet-popup .cw-popup[data-id="inc-map-1"]')
        assert "店外经营 200504" in popup.text and "warned" in popup.text
        wait.until(lambda d: d.execute_script(OPAQUE, '.leaflet-popup:has(.cw-popup[data-id="inc-map-1"])'))
        save_screenshot(driver, "map-incident")
        assert foreign_requests(driver, {urlsplit(plain.base).netloc}) == []
        assert not driver.find_elements(By.CSS_SELECTOR, "img.leaflet-tile")

        # its link opens it on the board
        popup.find_element(By.CSS_SELECTOR, "a").click()
        wait.until(lambda d: "inc-map-1" in d.find_element(By.ID, "detail").text)
        assert driver.current_url == plain.base + "/#incident=inc-map-1"

        driver.get(plain.base + "/map")
        wait.until(lambda d: data_state(d, marker("incident", "inc-map-1")) == "warned")
        produce(
            plain.bootstrap,
            plain.topics.alerts,
            [("inc-map-1", incident_at("inc-map-1", "closed", 3, 39.9205, 116.4455))],
        )
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, marker("incident", "inc-map-1")))
        assert driver.find_elements(By.CSS_SELECTOR, marker("camera", "cam-a"))

        # an incident whose record has no lat/lon is drawn at its camera; at cam-c (no lat/lon either)
        # it is listed beside the map
        at_b = {**incident_at("inc-map-2", "open", 1, 0, 0), "camera_id": "cam-b"}
        at_b["location"] |= {"lat": None, "lon": None}
        at_c = {**at_b, "incident_id": "inc-map-3", "camera_id": "cam-c"}
        produce(plain.bootstrap, plain.topics.alerts, [("inc-map-2", at_b), ("inc-map-3", at_c)])
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, marker("incident", "inc-map-2")))
        assert centre(driver, marker("incident", "inc-map-2")) == centre(driver, marker("camera", "cam-b"))
        wait.until(lambda d: "inc-map-3" in d.find_element(By.ID, "unplaced").text)
        assert not driver.find_elements(By.CSS_SELECTOR, marker("incident", "inc-map-3"))
        assert driver.find_element(By.ID, "unplaced-count").text == "(2)"
    finally:
        driver.quit()


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_map_tiles_come_from_the_configured_tile_server(
    broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SE_OFFLINE", "true")
    tiles = Tiles()
    web = {"map_tiles": tiles.url + "/{z}/{x}/{y}.png", "map_attribution": "© 测试 GIS"}
    (tmp_path / "worker").mkdir()
    site = map_site(tmp_path / "worker" / "evidence", web)
    try:
        with web_worker_on(broker.bootstrap, tmp_path / "worker", site, config_name="map.yaml") as running:
            _tiles_load(running, tmp_path, tiles)
    finally:
        tiles.close()


def _tiles_load(running: MapWorker, tmp_path: Path, tiles: Tiles) -> None:
    from selenium.webdriver.common.by import By

    driver = chrome(tmp_path, 1280, 900)
    try:
        wait = open_map(driver, running.base)
        wait.until(
            lambda d: (
                d.execute_script(
                    "return [...document.querySelectorAll('img.leaflet-tile')]"
                    ".filter(i => i.complete && i.naturalWidth === 256).length"
                )
                > 0
            )
        )
        assert tiles.asked and all(p.endswith(".png") and p.count("/") == 3 for p in tiles.asked), tiles.asked
        assert driver.find_element(By.CSS_SELECTOR, ".cw-attribution").text == "© 测试 GIS"
        assert not driver.find_elements(By.CSS_SELECTOR, "path.cw-graticule")
        allowed = {urlsplit(running.base).netloc, urlsplit(tiles.url).netloc}
        assert foreign_requests(driver, allowed) == []
        save_screenshot(driver, "map-tiles")
    finally:
        driver.quit()


WALL_METRICS = """
const root = document.documentElement;
const tally = (g) => {  // -1 until the counts are drawn
  const b = document.querySelector(`.tally[data-group="${g}"] b`);
  return b ? Number(b.textContent) : -1;
};
const listed = (states) => [...document.querySelectorAll("li.wall-inc")]
  .filter((li) => states.includes(li.dataset.state)).length;
return {
  overflow: [root.scrollWidth - innerWidth, root.scrollHeight - innerHeight],
  rem: parseFloat(getComputedStyle(root).fontSize),
  alarm: [tally("alarm"), listed(["open", "reopened"])],
  warned: [tally("warned"), listed(["warned"])],
  ids: [...document.querySelectorAll("li.wall-inc")].map((li) => li.dataset.id),
  pictures: Object.fromEntries([...document.querySelectorAll(".wall-tile")].map((t) => [t.dataset.camera,
    t.querySelector("img") ? t.querySelector("img").complete && t.querySelector("img").naturalWidth : 0])),
  markers: document.querySelectorAll("#map .cw-mk").length,
};
"""


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_the_wall_screen_holds_counts_live_list_map_and_cameras_on_one_screen(
    plain: MapWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_camera_wall import pictures

    monkeypatch.setenv("SE_OFFLINE", "true")
    for camera_id, picture in pictures().items():  # cam-a and cam-b have pictures; cam-c none
        write_live(plain.evidence, camera_id, picture, live_sidecar(camera_id, to_iso(time.time())))
    produce(
        plain.bootstrap,
        plain.topics.alerts,
        [
            ("inc-wall-1", incident_at("inc-wall-1", "open", 1, 39.9209, 116.4440)),
            ("inc-wall-2", incident_at("inc-wall-2", "warned", 2, 39.9199, 116.4420)),
        ],
    )
    # the 1080p screen first (inc-wall-2 is closed there, live), then a 4K one
    for width, height, wanted in [(1920, 1080, {"inc-wall-1", "inc-wall-2"}), (3840, 2160, {"inc-wall-1"})]:
        driver = chrome(tmp_path, width, height)
        try:
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the screen, exactly
            login(driver, plain.base, TOKENS["viewer"])
            driver.get(plain.base + "/wall")
            wait = WebDriverWait(
                driver, 30, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
            )
            wait.until(lambda d: d.find_element("id", "live").text == "live")
            wait.until(lambda d, wanted=wanted: wanted <= set(d.execute_script(WALL_METRICS)["ids"]))
            wait.until(
                lambda d: all(d.execute_script(WALL_METRICS)["pictures"].get(c) for c in ("cam-a", "cam-b"))
            )
            seen = driver.execute_script(WALL_METRICS)
            # the counts are those of the list, every part is on one screen, the text grows with it
            assert seen["alarm"][0] == seen["alarm"][1] >= 1 and seen["warned"][0] == seen["warned"][1], seen
            assert seen["overflow"][0] <= 0 and seen["overflow"][1] <= 0, seen
            assert seen["rem"] >= (30 if width > 3000 else 16), seen
            assert seen["pictures"]["cam-c"] == 0 and seen["markers"] >= 5, seen
            # the map knows the cameras' states from their live pictures, as the camera wall does
            assert data_state(driver, marker("camera", "cam-a")) == "online"
            save_screenshot(driver, f"wall-{height}p")
            if "inc-wall-2" in wanted:  # live: a closed incident leaves the list and the counts
                assert seen["warned"][0] >= 1, seen
                produce(
                    plain.bootstrap,
                    plain.topics.alerts,
                    [("inc-wall-2", incident_at("inc-wall-2", "closed", 3, 39.9199, 116.4420))],
                )
                wait.until(lambda d: "inc-wall-2" not in d.execute_script(WALL_METRICS)["ids"])
                after = driver.execute_script(WALL_METRICS)
                assert after["warned"] == [seen["warned"][0] - 1, seen["warned"][1] - 1], after
        finally:
            driver.quit()
