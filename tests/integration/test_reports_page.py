"""The reports page on a real worker whose case record holds a scripted day of the district: in
headless Chromium, the tiles and the charts show the API's numbers; the XLSX download opens with
openpyxl; a viewer may open both, an anonymous caller neither. Screenshots of the wall (1920×1080)
and phone layouts go to var/screenshots/ (CITYWATCH_SCREENSHOTS=docs/img refreshes the README's)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker, free_port
from streams.kafka_io import ensure_topics

from ..config_support import category, streams_site, write_config
from ..conftest import REPO
from ..reports_support import DAY, T0, District, fresh_engine
from ..streams_support import start_worker, stop, wait_for
from ..unit.streams.test_reports import closed_loop, dispatched
from ..web_support import TOKENS, TOKENS_TEXT, http
from .test_web import chrome, login

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# where the screenshots go: var/screenshots, or CITYWATCH_SCREENSHOTS=docs/img to refresh the README's
IMG = Path(os.environ.get("CITYWATCH_SCREENSHOTS") or REPO / "var" / "screenshots")
PERIOD = f"from={DAY[0]}&to={DAY[1]}"
WORKER_LOG = Path("/nonexistent")  # the module's worker's log, once it runs


def scripted_day() -> District:
    """Two cases on cam-b (one closed on time, one still open) and a warning on cam-a that worked."""
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)
    dispatched(d, T0 + 100)
    worked = d.seen(T0 + 300)
    d.warned(worked, T0 + 300.5, played=T0 + 301)
    d.seen(T0 + 302, "cleared")
    return d


@pytest.fixture(scope="module")
def base(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("reports-page")
    engine = fresh_engine(tmp / "record.db")
    scripted_day().store(engine)
    engine.dispose()
    topics = Topics(f"r{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(broker.bootstrap, topics.all(), partitions=4)
    site = streams_site()
    site["categories"]["camera_offline"] = category("camera_offline", grace_s=120, sla_s=600)
    config = write_config(tmp / "reports.yaml", site)
    env = {
        **os.environ,
        "CITYWATCH_KAFKA": broker.bootstrap,
        "CITYWATCH_TOPIC_PREFIX": topics.prefix,
        "CITYWATCH_DB": f"sqlite:///{tmp / 'record.db'}",
    }
    global WORKER_LOG  # the failures' messages quote it
    port, log = free_port(), tmp / "worker.log"
    WORKER_LOG = log
    proc = start_worker(config, env, tmp / "faust", log, web_port=port, tokens=TOKENS_TEXT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: http("GET", url + "/healthz", timeout=2)[0] == 200, 90, 0.5), log.read_text()[
            -3000:
        ]
        yield url
    finally:
        stop(proc)


def api(base: str, by: str, extra: str = "") -> dict[str, Any]:
    status, body = http("GET", f"{base}/api/reports/kpis?{PERIOD}&by={by}{extra}", token=TOKENS["viewer"])
    assert status == 200, body
    return dict(body)


def test_the_xlsx_download_and_who_may_have_it(base: str) -> None:
    import urllib.request

    from openpyxl import load_workbook

    url = f"{base}/api/reports/kpis.xlsx?{PERIOD}&by=unit"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKENS['viewer']}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as res:  # noqa: S310  # our own local server
        ctype, disposition, body = res.headers["Content-Type"], res.headers["Content-Disposition"], res.read()
    assert ctype.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert 'filename="kpis-2026-05-26-2026-05-27-unit.xlsx"' in disposition
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["汇总", "按单位", "喊话决定"]
    rows = list(book["按单位"].values)
    assert rows[0][:3] == ("单位", "名称", "派遣案件数")
    assert rows[-1][0] == "合计" and rows[-1][2] == api(base, "unit")["total"]["cases_dispatched"] == 2
    same = http("GET", f"{base}/api/reports/kpis?{PERIOD}&format=xlsx", token=TOKENS["viewer"])
    assert same[0] == 200
    assert http("GET", url)[0] == 401
    assert http("GET", f"{base}/reports")[0] == 401  # the login form
    assert http("GET", url, token=TOKENS["patrol_a"])[0] == 403
    assert http("GET", f"{base}/api/reports/kpis?{PERIOD}&format=pdf", token=TOKENS["viewer"])[0] == 400
    assert http("GET", f"{base}/reports", token=TOKENS["viewer"])[0] == 200
    assert http("GET", f"{base}/static/vendor/echarts.min.js", token=TOKENS["viewer"])[0] == 200


def option(driver: Any, chart: str) -> dict[str, Any]:
    return dict(
        driver.execute_script(
            "return echarts.getInstanceByDom(document.getElementById(arguments[0])).getOption();", chart
        )
    )


def loaded(driver: Any) -> str:
    """The period the page has drawn ("error" when a request failed), once it is done."""
    return str(driver.execute_script("return document.body.dataset.loaded || '';"))


def wait_loaded(driver: Any) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        done = WebDriverWait(driver, 60, poll_frequency=0.1).until(loaded)
    except TimeoutException:
        done = "(never: still loading)"
    if done != "/".join(DAY):
        said = driver.execute_script("return document.getElementById('r-result').textContent;")
        console = "\n".join(str(e.get("message")) for e in driver.get_log("browser"))
        worker = WORKER_LOG.read_text(errors="replace")[-4000:] if WORKER_LOG.exists() else ""
        pytest.fail(
            f"the reports page at {driver.current_url} loaded {done!r}; it says {said!r}\n"
            f"console:\n{console}\nworker log:\n{worker}\npage:\n{driver.page_source[:1500]}"
        )


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_the_reports_page_shows_the_apis_numbers(base: str, tmp_path: Path) -> None:
    by_day, by_unit, by_camera = api(base, "day", "&charts=1"), api(base, "unit"), api(base, "camera")
    by_speaker = [g for g in api(base, "speaker")["groups"] if g["incidents_warned"]]
    assert by_speaker, "the page's day has warnings to draw per loudspeaker"
    total = by_day["total"]
    assert (total["cases_dispatched"], total["cases_closed"], total["close_rate"]) == (2, 1, 0.5)
    assert (total["incidents_warned"], total["warnings_effective"]) == (3, 1)  # each case was warned first
    IMG.mkdir(parents=True, exist_ok=True)
    for width, height, shot in ((1920, 1080, "reports-wall.png"), (390, 844, "reports-phone.png")):
        driver = chrome(tmp_path, width, height)
        try:
            phone = width < 600
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the viewport, exactly
            login(driver, base, TOKENS["viewer"])
            driver.get(f"{base}/reports?{PERIOD}")
            wait_loaded(driver)
            raw = driver.execute_script(
                "return Object.fromEntries([...document.querySelectorAll('.tile')].map("
                "(t) => [t.id.slice(5), JSON.parse(t.querySelector('.value').dataset.raw)]));"
            )
            assert raw == {
                "cases_dispatched": total["cases_dispatched"], "cases_closed": total["cases_closed"],
                "on_time_rate": total["on_time_rate"], "rework_rate": total["rework_rate"],
                "overdue": total["overdue"]["cases"], "warning_effectiveness": total["warning_effectiveness"],
            }  # fmt: skip
            trend = option(driver, "chart-trend")
            assert trend["xAxis"][0]["data"] == by_day["charts"]["days"] == ["2026-05-26"]
            assert {s["name"]: s["data"] for s in trend["series"]} == by_day["charts"]["per_day_category"]
            units = option(driver, "chart-units")
            assert units["series"][0]["data"] == [g["on_time_rate"] for g in by_unit["groups"]]
            cameras = option(driver, "chart-cameras")
            assert cameras["yAxis"][0]["data"] == [
                g["camera"] for g in by_camera["groups"] if g["cases_dispatched"]
            ]
            speakers = option(driver, "chart-speakers")
            assert speakers["yAxis"][0]["data"] == [g["speaker"] for g in by_speaker]
            assert speakers["series"][0]["data"] == [g["warning_effectiveness"] for g in by_speaker]
            resolve = option(driver, "chart-resolve")
            assert resolve["series"][0]["data"] == by_day["charts"]["resolve_minutes"]["counts"]
            assert sum(resolve["series"][0]["data"]) == total["cases_resolved"] == 1
            IMG.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(IMG / shot))
        finally:
            driver.quit()
