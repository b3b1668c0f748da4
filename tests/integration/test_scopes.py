"""Street- and department-scoped tokens on a real worker with its web server, the embedded
broker and a case record written by the store: a street's token sees only its street's
incidents on the live list, the history, the live events and the reports, and gets 403 on
another street's incident, picture and loudspeaker; a department's token sees only its
categories; and in headless Chromium the board of a street's token lists only its street."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics
from streams.dev.broker import EmbeddedBroker
from streams.kafka_io import ensure_topics

from ..config_support import Site, web_site
from ..history_support import case_of, district, incident
from ..streams_support import produce, wait_for
from ..web_support import JPEG, TOKENS, TOKENS_TEXT, WebWorker, alert, http, web_worker_on
from .test_history import keyed, publish, store_everything
from .test_web import SseReader, chrome, login

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCOPED = {
    "north_viewer": "north-viewer-token-01",
    "north_operator": "north-operator-token-01",
    "parking": "dept-parking-token-01",
}
SCOPED_TEXT = ",".join(
    [
        f"{SCOPED['north_viewer']}=viewer:street:north@north-screen",
        f"{SCOPED['north_operator']}=operator:street:north@north-desk",
        f"{SCOPED['parking']}=dept:parking@parking-desk",
    ]
)
# the case record's district (tests/history_support.py) and a case of the south: grid g-1
# holds every incident but inc-x2 and inc-x8 (grid g-2, cam-b); inc-x3 and inc-x8 are
# illegal_parking
NORTH_STORED = {"inc-0", "inc-1", "inc-2", "inc-x1", "inc-x3", "inc-x4", "inc-x6", "inc-x7"}
EVERY_STORED = NORTH_STORED | {"inc-x2", "inc-x8"}
PARKING = ("illegal_parking", "机动车乱停放")


def south_case() -> list[tuple[str, Any]]:
    """inc-x8: illegal parking at cam-b in grid g-2, dispatched to unit-b as case-x8."""
    opened = incident(8, at=50, camera="cam-b", grid="g-2", case="case-x8", unit="unit-b", category=PARKING)
    where = {"grid_id": "g-2", "location": {"address": "兴华街1号", "grid_id": "g-2"}}
    category = {"key": PARKING[0], "code": "200501", "name": PARKING[1]}
    case = r.DispatchCase.model_validate(
        case_of(8, "unit-b", at=49).model_dump() | where | {"category": category}
    )
    return [("dispatch", case), ("alerts", opened)]


def scoped_site(evidence: Path) -> Site:
    """The web district with two streets (north: grid g-1 and cam-a, south: g-2 and cam-b), each
    with an office between its grid's unit and the district, and a parking department."""
    out = web_site(evidence)
    out["units"] = [
        {"id": "unit-a", "level": "street", "escalates_to": "office-n"},
        {"id": "unit-b", "level": "street", "escalates_to": "office-s"},
        {"id": "office-n", "level": "street_office", "escalates_to": "unit-d"},
        {"id": "office-s", "level": "street_office", "escalates_to": "unit-d"},
        {"id": "unit-d", "level": "district"},
    ]
    out["grids"] = [{"id": "g-1", "unit": "unit-a"}, {"id": "g-2", "unit": "unit-b"}]
    out["cameras"][0]["grid"], out["cameras"][1]["grid"] = "g-1", "g-2"
    out["streets"] = [
        {"id": "north", "name": "北街道", "grids": ["g-1"], "unit": "office-n"},
        {"id": "south", "name": "南街道", "grids": ["g-2"], "unit": "office-s"},
    ]
    out["departments"] = [{"id": "parking", "name": "停车管理", "categories": ["illegal_parking"]}]
    return out


Running = WebWorker


@pytest.fixture(scope="module")
def scoped_worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The district's records stored in a case record, and a worker with its web on them."""
    tmp = tmp_path_factory.mktemp("scopes")
    topics = Topics(f"s{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(broker.bootstrap, topics.all(), partitions=4)
    url = f"sqlite:///{tmp / 'record.db'}"
    records = keyed(district() + south_case())
    publish(broker.bootstrap, topics, records)
    store_everything(url, broker.bootstrap, topics, len(records))
    with web_worker_on(
        broker.bootstrap,
        tmp,
        scoped_site(tmp / "evidence"),
        topics=topics,
        tokens=f"{TOKENS_TEXT},{SCOPED_TEXT}",
        env={"CITYWATCH_DB": url},
        extra=("--no-restore",),
        ready=lambda body: (body or {}).get("board") == "ready",
    ) as running:
        yield running


def ids(base: str, path: str, token: str) -> set[str]:
    status, body = http("GET", base + path, token=token)
    assert status == 200, body
    return {i["incident_id"] for i in body["incidents"]}


def street_alert(running: Running, incident_id: str, camera: str, grid: str, picture: str) -> dict[str, Any]:
    """An alert of ``camera`` in ``grid`` with one evidence picture written under evidence/."""
    path = running.evidence / camera / "20260526" / picture
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG)
    record = alert(incident_id, camera=camera, state="open", unit=None, case_id=None, evidence=[str(path)])
    record["location"] = {**record["location"], "grid_id": grid}
    record["updated_at"] = to_iso(time.time())
    return record


def test_a_street_token_sees_its_street_only(scoped_worker: Running) -> None:
    base, north, parking = scoped_worker.base, SCOPED["north_viewer"], SCOPED["parking"]
    # the live board and the case record's history
    everything = ids(base, "/api/incidents?limit=1000", TOKENS["viewer"])
    assert {"inc-x1", "inc-x2", "inc-x8"} <= everything
    assert ids(base, "/api/incidents?limit=1000", north) == everything - {"inc-x2", "inc-x8"}
    assert ids(base, "/api/incidents?per_page=200", north) == NORTH_STORED
    assert ids(base, "/api/incidents?per_page=200", TOKENS["viewer"]) == EVERY_STORED
    assert ids(base, "/api/incidents?per_page=200&grid=g-2", north) == set()
    _, listed = http("GET", base + "/api/incidents?limit=1000", token=north)
    assert sum(listed["all_counts"]["state"].values()) == listed["total"] == len(listed["incidents"])
    # one incident: in its street, another street's, and one that does not exist (the same 403)
    assert http("GET", base + "/api/incidents/inc-x1", token=north)[0] == 200
    assert http("GET", base + "/api/incidents/inc-1", token=north)[0] == 200  # from the case record
    other, missing = (http("GET", f"{base}/api/incidents/{i}", token=north) for i in ("inc-x2", "inc-nope"))
    assert other[0] == missing[0] == 403
    assert other[1]["error"].replace("inc-x2", "ID") == missing[1]["error"].replace("inc-nope", "ID")
    # a department: its category only, in every street
    assert ids(base, "/api/incidents?per_page=200", parking) == {"inc-x3", "inc-x8"}
    assert ids(base, "/api/incidents?limit=1000", parking) == {"inc-x3", "inc-x8"}
    assert http("GET", base + "/api/incidents/inc-x1", token=parking)[0] == 403
    # options: its cameras, grids and units
    _, options = http("GET", base + "/api/options", token=north)
    assert [c["id"] for c in options["cameras"]] == ["cam-a"] and [g["id"] for g in options["grids"]] == [
        "g-1"
    ]
    assert sorted(u["id"] for u in options["units"]) == ["office-n", "unit-a"]
    assert http("GET", base + "/metrics", token=north)[0] == 403


def test_live_events_and_pictures_keep_to_the_scope(scoped_worker: Running) -> None:
    base, t = scoped_worker.base, scoped_worker.topics
    everyone = SseReader(base + "/api/events", TOKENS["viewer"])
    north = SseReader(base + "/api/events", SCOPED["north_viewer"])
    parking = SseReader(base + "/api/events", SCOPED["parking"])
    readers = (everyone, north, parking)
    try:
        assert wait_for(lambda: all(any(k == "hello" for _, k, _ in r.events) for r in readers), 10)
        south_rec = street_alert(scoped_worker, "inc-ev-s", "cam-b", "g-2", "cam-b-00000001-000000000.jpg")
        south_rec["category"] = {"key": "illegal_parking", "code": "200501", "name": "机动车乱停放"}
        north_rec = street_alert(scoped_worker, "inc-ev-n", "cam-a", "g-1", "cam-a-00000001-000000000.jpg")
        produce(scoped_worker.bootstrap, t.alerts, [(r["incident_id"], r) for r in (south_rec, north_rec)])

        def alerts(reader: SseReader) -> set[str]:
            return {d.get("incident_id") for _, k, d in reader.events if k == "alert"}

        assert wait_for(lambda: {"inc-ev-s", "inc-ev-n"} <= alerts(everyone), 30)
        assert wait_for(lambda: "inc-ev-n" in alerts(north) and "inc-ev-s" in alerts(parking), 30)
        # each event was offered to every stream at once: what the everyone stream got, the others
        # were given or refused already
        assert "inc-ev-s" not in alerts(north) and "inc-ev-n" not in alerts(parking)
    finally:
        for reader in readers:
            reader.close()
    north_pic, south_pic = (
        "cam-a/20260526/cam-a-00000001-000000000.jpg",
        "cam-b/20260526/cam-b-00000001-000000000.jpg",
    )
    assert http("GET", f"{base}/evidence/{north_pic}", token=SCOPED["north_viewer"])[0] == 200
    assert http("GET", f"{base}/evidence/{south_pic}", token=SCOPED["north_viewer"])[0] == 403
    assert http("GET", f"{base}/evidence/{south_pic}", token=SCOPED["parking"])[0] == 200
    assert http("GET", f"{base}/evidence/{north_pic}", token=SCOPED["parking"])[0] == 403
    assert http("GET", f"{base}/evidence/{south_pic}", token=TOKENS["viewer"])[0] == 200


def test_broadcasts_and_actions_keep_to_the_scope(scoped_worker: Running) -> None:
    base, operator, parking = scoped_worker.base, SCOPED["north_operator"], SCOPED["parking"]
    say = {"text": "请勿占道经营", "reason": "test"}
    assert (
        http("POST", base + "/api/broadcasts", token=operator, body={"camera_id": "cam-a", **say})[0] == 202
    )
    status, refused = http(
        "POST", base + "/api/broadcasts", token=operator, body={"speaker_id": "spk-b", **say}
    )
    assert status == 403 and "street north" in refused["error"]
    assert http("POST", base + "/api/broadcasts", token=parking, body={"camera_id": "cam-b", **say})[0] == 202
    assert http("POST", base + "/api/broadcasts", token=parking, body={"camera_id": "cam-a", **say})[0] == 403
    assert (
        http(
            "POST", base + "/api/broadcasts", token=SCOPED["north_viewer"], body={"camera_id": "cam-a", **say}
        )[0]
        == 403
    )
    act = {"action": "acknowledge"}
    assert http("POST", base + "/api/incidents/inc-x2/actions", token=operator, body=act)[0] == 403
    assert http("POST", base + "/api/incidents/inc-x4/actions", token=operator, body=act)[0] == 202
    assert http("POST", base + "/api/incidents/inc-x4/actions", token=parking, body=act)[0] == 403


def test_reports_count_the_scope_only(scoped_worker: Running) -> None:
    base = scoped_worker.base
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    tokens = {"all": TOKENS["viewer"], "north": SCOPED["north_viewer"], "parking": SCOPED["parking"]}
    for by in ("grid", "category"):
        for name, token in tokens.items():
            status, body = http(
                "GET", f"{base}/api/reports/kpis?from=2026-05-01&to=2026-07-01&by={by}", token=token
            )
            assert status == 200, body
            groups = {g.pop(by): g for g in body["groups"]}
            reports[name, by] = groups | {"*": body["total"]}
    assert set(reports["all", "grid"]) == {"g-1", "g-2", "*"}
    assert set(reports["north", "grid"]) == {"g-1", "*"}
    assert reports["north", "grid"]["g-1"] == reports["all", "grid"]["g-1"] == reports["north", "grid"]["*"]
    assert set(reports["parking", "category"]) == {"illegal_parking", "*"}
    assert reports["parking", "category"]["*"]["cases_dispatched"] == 1
    assert reports["parking", "category"]["illegal_parking"] == reports["all", "category"]["illegal_parking"]


@pytest.mark.sysdeps("chromium", "chromedriver")
def test_the_board_of_a_street_token_lists_only_its_street_in_chromium(
    scoped_worker: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not look for drivers on the network
    base = scoped_worker.base
    expected = ids(base, "/api/incidents?limit=1000", SCOPED["north_viewer"])
    assert "inc-x2" not in expected and "inc-x3" in expected
    driver = chrome(tmp_path, 1600, 1000)
    try:
        login(driver, base, SCOPED["north_viewer"])
        wait = WebDriverWait(driver, 30, poll_frequency=0.1)

        def cards(d: Any) -> set[str]:
            found = d.execute_script(
                "return [...document.querySelectorAll('#incidents .card')].map(c => c.dataset.incidentId);"
            )
            return set(found or [])

        # the board shows open incidents first: with the closed ones too, exactly the street's
        wait.until(lambda d: cards(d) and cards(d) <= expected)
        if driver.find_element(By.ID, "f-open").is_selected():
            driver.find_element(By.ID, "f-open").click()
        try:
            wait.until(lambda d: cards(d) == expected)
        except TimeoutException:
            pytest.fail(f"the board lists {sorted(cards(driver))}, not {sorted(expected)}")
        assert "north-screen" in driver.find_element(By.ID, "user").text
        assert "viewer:street:north" in driver.find_element(By.ID, "user").text
    finally:
        driver.quit()


def test_camera_wall_map_and_zone_editor_keep_to_the_scope(scoped_worker: Running) -> None:
    base, north, operator = scoped_worker.base, SCOPED["north_viewer"], SCOPED["north_operator"]
    # the camera wall: its street's cameras; another street's camera and an unknown one: one 403
    _, wall = http("GET", base + "/api/cameras", token=north)
    assert [c["id"] for c in wall["cameras"]] == ["cam-a"]
    _, everyone = http("GET", base + "/api/cameras", token=TOKENS["viewer"])
    assert [c["id"] for c in everyone["cameras"]] == ["cam-a", "cam-b"]
    assert http("GET", base + "/api/cameras/cam-a", token=north)[0] == 200
    other, missing = (http("GET", f"{base}/api/cameras/{c}", token=north) for c in ("cam-b", "cam-nope"))
    assert other[0] == missing[0] == 403
    assert other[1]["error"].replace("cam-b", "ID") == missing[1]["error"].replace("cam-nope", "ID")
    assert http("GET", base + "/cameras/cam-b", token=north)[0] == 403
    assert http("GET", base + "/cameras/cam-b/live.jpg", token=north)[0] == 403
    assert http("GET", base + "/api/cameras/cam-nope", token=TOKENS["viewer"])[0] == 404
    # the map: its cameras, grids and incidents only
    _, seen = http("GET", base + "/api/map", token=north)
    placed = seen["cameras"] + [u for u in seen["unplaced"] if u.get("kind") == "camera"]
    assert {c["id"] for c in placed} == {"cam-a"}
    text = json.dumps(seen, ensure_ascii=False)
    assert "g-2" not in text and "cam-b" not in text, text
    assert "g-2" in json.dumps(http("GET", base + "/api/map", token=TOKENS["viewer"])[1])
    incidents = seen["incidents"] + [u for u in seen["unplaced"] if u.get("kind") == "incident"]
    assert incidents and "inc-x1" in {i["id"] for i in incidents}  # the other tests add more of the north
    assert not {i["id"] for i in incidents} & {"inc-x2", "inc-x8"}
    # the zone editor writes the district's file: not for a scoped operator, even on its camera
    refused = http("GET", base + "/api/cameras/cam-a/zones", token=operator)
    assert refused[0] == 403 and "scope" in refused[1]["error"], refused
    assert http("GET", base + "/api/cameras/cam-a/zones", token=TOKENS["operator"])[0] == 200
