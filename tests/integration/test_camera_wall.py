"""The camera wall and a camera's page on a real worker (embedded broker) in headless Chromium:
every camera's live picture with its zones and boxes, a camera gone offline when its files go,
a camera page with zones and incidents (one opened on the board), the broadcast form for an
operator only, and the API refused to callers without a reader's token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from ultralytics.utils import ASSETS

from streams.contract.timeutil import to_iso

from ..streams_support import produce, wait_for
from ..web_support import TOKENS, alert, http, live_sidecar, save_screenshot, write_live
from . import test_web
from .test_web import Running, chrome, login

pytestmark = [pytest.mark.integration, pytest.mark.slow]

web_worker = test_web.web_worker  # a worker with its web server, for this module's tests


def pictures() -> dict[str, bytes]:
    """Live pictures of cam-a and cam-b as the edge writes them: a real frame (ultralytics'
    bus.jpg), at most 640 px wide, JPEG quality 70; cam-b's mirrored."""
    frame = cv2.imread(str(ASSETS / "bus.jpg"))
    assert frame is not None
    small = cv2.resize(frame, (480, 640), interpolation=cv2.INTER_AREA)
    out = {}
    for camera_id, image in (("cam-a", small), ("cam-b", np.ascontiguousarray(small[:, ::-1]))):
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
        assert ok
        out[camera_id] = data.tobytes()
    return out


def publish_live(evidence: Path, camera_id: str, picture: bytes) -> None:
    """The camera's picture and a fresh sidecar (a bus, in cam-a's storefront zone)."""
    record = live_sidecar(camera_id, to_iso(time.time()), frame_size=[810, 1080], fps=1.8)
    record["objects"] = [
        {"label": "bus", "score": 0.87, "box": [0.02, 0.23, 0.98, 0.74], "zones": ["storefront"]}
    ]
    write_live(evidence, camera_id, picture, record)


def loaded(driver: Any, selector: str) -> list[bool]:
    """Whether each picture matched by ``selector`` has loaded (naturalWidth > 0)."""
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(i => i.complete && i.naturalWidth > 0)",
            selector,
        )
    )


def test_the_api_needs_a_readers_token(web_worker: Running) -> None:
    base = web_worker.base
    for path in ("/api/cameras", "/api/cameras/cam-a", "/cameras/cam-a/live.jpg"):
        assert http("GET", base + path)[0] == 401, path
        assert http("GET", base + path, token=TOKENS["ingest"])[0] == 403, path
        assert http("GET", base + path, token=TOKENS["patrol_a"])[0] == 403, path
    status, body = http("GET", base + "/api/cameras/cam-zz", token=TOKENS["viewer"])
    assert status == 404 and "no camera 'cam-zz'" in body["error"]
    status, body = http("GET", base + "/api/cameras", token=TOKENS["viewer"])
    assert status == 200 and [c["id"] for c in body["cameras"]] == ["cam-a", "cam-b"]


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_camera_wall_and_camera_page_in_chromium(
    web_worker: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not look for drivers on the network
    base, evidence = web_worker.base, web_worker.evidence
    shots = pictures()
    for camera_id, picture in shots.items():
        publish_live(evidence, camera_id, picture)
    open_one = alert(
        "inc-wall-open", camera="cam-a", state="open", unit=None, case_id=None, at=to_iso(time.time())
    )
    closed_one = alert("inc-wall-closed", camera="cam-a", state="closed", at=to_iso(time.time()))
    produce(
        web_worker.bootstrap,
        web_worker.topics.alerts,
        [(a["incident_id"], a) for a in (open_one, closed_one)],
    )
    assert wait_for(
        lambda: http("GET", base + "/api/cameras/cam-a", token=TOKENS["viewer"])[1]["open_incidents"] == 1,
        30,
    )

    driver = chrome(tmp_path, 1600, 1000)
    try:
        wait = WebDriverWait(
            driver, 30, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
        )
        login(driver, base, TOKENS["viewer"])
        # the board links to the wall
        driver.get(base + "/")
        wait.until(lambda d: d.find_elements(By.ID, "to-cameras"))
        driver.find_element(By.ID, "to-cameras").click()
        wait.until(lambda d: d.current_url.endswith("/cameras"))

        # every camera's picture has loaded, with its zone and the bus drawn over it
        wait.until(lambda d: loaded(d, ".tile img") == [True, True])
        tiles = driver.find_elements(By.CSS_SELECTOR, ".tile")
        assert [t.get_attribute("data-camera") for t in tiles] == ["cam-a", "cam-b"]
        assert [t.get_attribute("data-status") for t in tiles] == ["online", "online"]
        assert driver.find_elements(
            By.CSS_SELECTOR, '.tile[data-camera="cam-a"] svg polygon[data-zone="storefront"]'
        )
        assert driver.find_elements(
            By.CSS_SELECTOR, '.tile[data-camera="cam-b"] svg polygon[data-zone="kerb"]'
        )
        assert driver.find_elements(
            By.CSS_SELECTOR, '.tile[data-camera="cam-a"] svg rect.in-zone[data-label="bus"]'
        )
        count = driver.find_element(By.CSS_SELECTOR, '.tile[data-camera="cam-a"] .count')
        assert count.text == "1 open"
        assert "1.8 fps" in driver.find_element(By.CSS_SELECTOR, '.tile[data-camera="cam-a"] .meta').text
        # the picture is the frame's aspect (810 x 1080), zones drawn on the same box
        pic = driver.find_element(By.CSS_SELECTOR, '.tile[data-camera="cam-a"] .pic')
        assert abs(pic.size["width"] / pic.size["height"] - 810 / 1080) < 0.02, pic.size
        save_screenshot(driver, "camera-wall")

        # cam-b's files go: at the next refresh its tile is offline, without a picture
        for name in ("cam-b.jpg", "cam-b.json"):
            (evidence / "live" / name).unlink()
        tile_b = '.tile[data-camera="cam-b"]'
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, tile_b).get_attribute("data-status") == "offline"
        )
        assert driver.find_element(By.CSS_SELECTOR, f"{tile_b} .st-badge").text == "offline"
        assert "no picture yet" in driver.find_element(By.CSS_SELECTOR, tile_b).text
        assert not driver.find_elements(By.CSS_SELECTOR, f"{tile_b} img")

        # a tile opens its camera's page: picture, zones, incidents; a viewer has no broadcast form
        publish_live(evidence, "cam-a", shots["cam-a"])
        driver.find_element(By.CSS_SELECTOR, '.tile[data-camera="cam-a"]').click()
        wait.until(lambda d: d.current_url.endswith("/cameras/cam-a"))
        wait.until(lambda d: loaded(d, "#cam-pic img") == [True])
        assert driver.find_elements(By.CSS_SELECTOR, '#cam-pic svg polygon[data-zone="storefront"]')
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#zones tr[data-zone="storefront"]'))
        assert "out_of_store_business" in driver.find_element(By.ID, "zones").text
        assert driver.find_element(By.ID, "edit-zones").get_attribute("href") == base + "/cameras/cam-a/zones"
        wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '#open-incidents li[data-incident-id="inc-wall-open"]')
        )
        assert driver.find_elements(
            By.CSS_SELECTOR, '#closed-incidents li[data-incident-id="inc-wall-closed"]'
        )
        assert "spk-a" in driver.find_element(By.ID, "speaker").text
        assert not driver.find_elements(By.ID, "bc-form")
        assert "Broadcasts need an operator token" in driver.find_element(By.ID, "speaker").text
        # an incident's detail on the page, and the closed one opened on the board
        driver.find_element(By.CSS_SELECTOR, '#open-incidents li[data-incident-id="inc-wall-open"] a').click()
        wait.until(lambda d: "inc-wall-open" in d.find_element(By.ID, "inc-detail").text)
        assert "step 1" in driver.find_element(By.ID, "inc-detail").text  # its timeline
        driver.find_element(
            By.CSS_SELECTOR, '#closed-incidents li[data-incident-id="inc-wall-closed"] a.to-board'
        ).click()
        wait.until(lambda d: "inc-wall-closed" in d.find_element(By.ID, "detail").text)

        # an operator sees the form, and a broadcast on cam-a's speaker is decided
        login(driver, base, TOKENS["operator"])
        driver.get(base + "/cameras/cam-a")
        wait.until(lambda d: d.find_element(By.ID, "bc-form").is_displayed())
        save_screenshot(driver, "camera-page")
        driver.find_element(By.ID, "bc-text").send_keys("请勿占道经营")
        driver.find_element(By.ID, "bc-reason").send_keys("camera page test")
        driver.find_element(By.ID, "bc-send").click()
        wait.until(lambda d: d.find_element(By.ID, "bc-result").get_attribute("data-decision"))
        result = driver.find_element(By.ID, "bc-result")
        assert result.get_attribute("data-decision") == "sent", result.text
        assert "SENT on spk-a" in result.text
    finally:
        driver.quit()
