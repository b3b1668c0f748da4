"""The zone editor on a real worker and the embedded broker: in headless Chromium an operator
draws a zone on the camera's latest picture, checks it (the file it gives passes the real
`citywatch check`), sees a bad polygon's problem beside it, and saves; a zone saved through the
API reaches the running worker and the detector's zone membership, and a car in it opens an
incident without a restart."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline
from detectors.types import Boxes, Frame
from streams.config import load_config
from streams.config.watch import ConfigWatch
from streams.dev.broker import EmbeddedBroker

from ..config_support import web_site
from ..streams_support import Collector, citywatch, produce, wait_for
from ..web_support import TOKENS, WebWorker, http, save_screenshot, web_worker_on
from .test_web import chrome, click, login

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT = 90
RELOAD_TIMEOUT = 30
ALERT_TIMEOUT = 60
WIDTH, HEIGHT = 1600, 900


Running = WebWorker


def live_picture(evidence: Path, camera_id: str, objects: list[dict[str, Any]]) -> None:
    """What the edge writes for a camera: its latest frame and the detections on it."""
    import json

    folder = evidence / "live"
    folder.mkdir(parents=True, exist_ok=True)
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    cv2.rectangle(image, (500, 300), (700, 500), (40, 40, 200), -1)  # the car of the sidecar
    assert cv2.imwrite(str(folder / f"{camera_id}.jpg"), image)
    sidecar = {"v": 1, "camera_id": camera_id, "captured_at": "2026-05-26T02:14:03.120Z"}
    sidecar |= {"frame_size": [WIDTH, HEIGHT], "fps": 2.0, "status": "ok", "objects": objects}
    (folder / f"{camera_id}.json").write_text(json.dumps(sidecar), encoding="utf-8")


@pytest.fixture(scope="module")
def editor_worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A worker with its web server and a writable cameras.yaml (its own topics)."""
    tmp = tmp_path_factory.mktemp("zones")
    site = web_site(tmp / "evidence", {"config_writable": True})
    with web_worker_on(broker.bootstrap, tmp, site, config_name="cameras.yaml") as running:
        yield running


def click_at(driver: Any, element: Any, x: float, y: float) -> None:
    """Click at the normalised point (x, y) of ``element``."""
    from selenium.webdriver.common.action_chains import ActionChains

    w, h = element.size["width"], element.size["height"]
    ActionChains(driver).move_to_element_with_offset(element, x * w - w / 2, y * h - h / 2).click().perform()


def checked(driver: Any, ok: str) -> bool:
    return bool(driver.execute_script("return document.getElementById('z-result').dataset.ok;") == ok)


def passes_check(running: Running, path: Path) -> str:
    """``citywatch check --no-model PATH``: its output, which must say OK."""
    done = citywatch(running.env, "check", "--no-model", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_draw_check_and_save_a_zone_in_chromium(editor_worker: Running, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    car = {"label": "bench", "score": 0.9, "box": [0.32, 0.34, 0.43, 0.55], "zones": []}
    live_picture(editor_worker.evidence, "cam-a", [car])
    driver = chrome(tmp_path, 1400, 1000)
    wait = WebDriverWait(driver, 30, poll_frequency=0.1)
    try:
        login(driver, editor_worker.base, TOKENS["operator"])
        driver.get(editor_worker.base + "/cameras/cam-a/zones")
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
        wait.until(lambda d: d.find_element(By.ID, "z-picture").is_displayed())
        assert checked(driver, "true")  # the zones of the file as they are

        overlay = driver.find_element(By.ID, "z-overlay")
        click(driver, "#z-new")
        for x, y in [(0.25, 0.25), (0.55, 0.25), (0.55, 0.65), (0.25, 0.65), (0.25, 0.25)]:
            click_at(driver, overlay, x, y)  # the last click, on the first point, closes it
        wait.until(lambda d: d.find_element(By.ID, "z-form").is_displayed())
        # drag its third vertex down and to the right, then back where it was
        shape = driver.find_element(By.CSS_SELECTOR, "#z-overlay polygon.selected")
        drawn = shape.get_attribute("points")
        vertex = driver.find_element(By.CSS_SELECTOR, '#z-overlay circle.vertex[data-vertex="2"]')
        ActionChains(driver).drag_and_drop_by_offset(vertex, 40, 30).perform()
        moved = driver.find_element(By.CSS_SELECTOR, "#z-overlay polygon.selected").get_attribute("points")
        assert moved != drawn
        vertex = driver.find_element(By.CSS_SELECTOR, '#z-overlay circle.vertex[data-vertex="2"]')
        ActionChains(driver).drag_and_drop_by_offset(vertex, -40, -30).perform()
        zone_id = driver.find_element(By.ID, "z-id")
        zone_id.send_keys(Keys.CONTROL, "a")
        zone_id.send_keys("doorway")
        Select(driver.find_element(By.ID, "z-categories")).select_by_value("out_of_store_business")
        click(driver, "#z-check")
        wait.until(lambda d: checked(d, "true"))
        shown = driver.find_element(By.ID, "z-yaml").text
        assert "- id: doorway" in shown and "categories: [out_of_store_business]" in shown
        assert driver.find_elements(By.CSS_SELECTOR, "rect.det.inside")  # the bench stands in it
        save_screenshot(driver, "zone-editor-checked")

        downloaded = driver.execute_async_script(
            "const done = arguments[0];"
            "fetch(document.getElementById('z-download').href).then(r => r.text()).then(done);"
        )
        path = tmp_path / "cameras.yaml"
        path.write_text(downloaded, encoding="utf-8")
        assert "doorway[out_of_store_business]" in passes_check(editor_worker, path)

        # two points and "Close polygon": its problem shows beside it
        click(driver, "#z-new")
        click_at(driver, overlay, 0.7, 0.2)
        click_at(driver, overlay, 0.9, 0.3)
        click(driver, "#z-close")
        Select(driver.find_element(By.ID, "z-categories")).select_by_value("out_of_store_business")
        click(driver, "#z-check")
        wait.until(lambda d: checked(d, "false"))
        note = driver.find_element(By.CSS_SELECTOR, '.z-note[data-zone="2"]')
        assert "at least 3 points" in note.text
        assert not driver.find_elements(By.CSS_SELECTOR, '.z-note[data-zone="1"]')
        save_screenshot(driver, "zone-editor-problem")

        click(driver, "#z-del-zone")
        click(driver, "#z-save")
        wait.until(
            lambda d: d.execute_script("return document.getElementById('z-result').dataset.saved") == "true"
        )
        save_screenshot(driver, "zone-editor-saved")
    finally:
        driver.quit()
    written = load_config(editor_worker.config)
    assert [z.id for z in written.cameras[0].zones] == ["storefront", "doorway"]
    assert editor_worker.config.with_name("cameras.yaml.bak").is_file()
    passes_check(editor_worker, editor_worker.config)


class OneTrack:
    def update(self, boxes: Boxes) -> list[int | None]:
        return [1] * len(boxes)


def test_a_saved_zone_opens_incidents_without_a_restart(editor_worker: Running) -> None:
    running, t = editor_worker, editor_worker.topics
    detector_zones = ConfigWatch(running.config, load_config(running.config), every_s=0)
    pipeline = CameraPipeline(
        detector_zones.cfg.cameras[1], detector_zones.cfg, OneTrack(), model_name="yolo11n", gate=False
    )
    bay = {"id": "bay", "polygon": [[0.55, 0.05], [0.95, 0.05], [0.95, 0.45], [0.55, 0.45]]}  # no other
    bay["categories"] = ["illegal_parking"]
    status, got = http("GET", f"{running.base}/api/cameras/cam-b/zones", token=TOKENS["operator"])
    assert status == 200
    status, saved = http(
        "POST",
        f"{running.base}/api/cameras/cam-b/zones",
        token=TOKENS["operator"],
        body={"zones": [*got["zones"], bay], "save": True},
    )
    assert status == 200 and saved["saved"], saved

    # the detector's side: its watch hands the new zones to the pipeline, whose records count them
    changes = detector_zones.poll(time.monotonic())
    assert [z.id for z in changes["cam-b"]] == ["kerb", "pile", "bay"]
    pipeline.apply_zones(detector_zones.cfg, changes["cam-b"])
    assert wait_for(lambda: "cam-b: zones reloaded" in running.log.read_text(), RELOAD_TIMEOUT), (
        running.log.read_text()[-3000:]
    )

    small = (WIDTH // 10, HEIGHT // 10)  # the picture's size is all the record needs of it
    car = Boxes(
        np.array([[0.7 * small[0], 0.2 * small[1], 0.8 * small[0], 0.4 * small[1]]], np.float32),
        np.array([0.9], np.float32),
        np.zeros(1, np.float32),
        ("car",),
    )
    image = np.zeros((small[1], small[0], 3), np.uint8)
    start, moving = time.time() - 8, GateDecision(True, 0.5, "motion")  # frames up to now
    records: list[tuple[str, dict[str, Any] | bytes]] = []
    for i in range(16):
        frame = Frame("cam-b", i, image, start + i * 0.5, 0.0, i * 0.5)
        rec = pipeline.record(frame, car, inference_ms=1.0, decision=moving, now=start)
        assert [o.zones for o in rec.objects] == [["bay"]]
        records.append(("cam-b", rec.to_bytes()))
    with Collector(running.bootstrap, [t.alerts]) as collector:
        produce(running.bootstrap, t.detections, records)
        opened = wait_for(
            lambda: any(a.get("zone_id") == "bay" for a in collector.values(t.alerts)), ALERT_TIMEOUT
        )
        assert opened, running.log.read_text()[-3000:]
    os.kill(running.pid, 0)  # the same worker process: it was never restarted
