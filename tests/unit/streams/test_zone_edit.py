"""Zones edited as text (only that camera's block changes), checked as `citywatch check` does,
each problem tied to its zone; saved atomically; reloaded from the file by mtime."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from detectors.detect import run_detect
from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline, DetectionLoop, RunLimits, StatusReporter, run_edge
from detectors.types import Frame
from streams.config import parse_config
from streams.config.watch import ConfigWatch, zone_changes
from streams.config.write import save_config_text
from streams.config.zone_check import check_zones
from streams.config.zone_yaml import replace_zones, zones_block
from streams.contract.topics import Topics
from streams.web.zone_editor import detections_inside, live_objects

from ...config_support import streams_site, to_yaml
from ..detectors.test_pipeline import StaticTracker, boxes

TEXT = """\
# the district's cameras (a comment to keep)
version: 1
site: {name: t, timezone: Asia/Shanghai}
categories:
  out_of_store_business: {code: "200504", name: 店外经营, labels: [chair, bench]}
  illegal_parking: {code: "200505", name: 机动车乱停放, labels: [car]}
grids: [{id: g, unit: u}]
units: [{id: u}]
cameras:
  - id: cam-1   # the shop
    source: x.mp4
    location: {address: a}
    grid: g
    zones:
      # the walkway in front of the shop
      - {id: walkway, polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories: [out_of_store_business]}
    detect_fps: 2  # after the zones
  - id: cam-2
    source: y.mp4
    location: {address: b}
    grid: g
# the end
"""

MOTION = GateDecision(True, 0.5, "motion")
SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


def zone(zone_id: str = "kerb", **fields: Any) -> dict[str, Any]:
    return {"id": zone_id, "polygon": SQUARE, "categories": ["illegal_parking"], **fields}


def test_only_the_cameras_zones_block_changes_and_comments_stay() -> None:
    out = replace_zones(TEXT, "cam-1", [zone(name="路边", active_hours="08:00-20:00", min_score=0.4)])
    before, after = TEXT.split("\n"), out.split("\n")
    assert after[:14] == before[:14]  # up to "zones:"
    assert after[-5:] == before[-5:]  # detect_fps, cam-2 and the last comment
    assert "    detect_fps: 2  # after the zones" in after
    cam = yaml.safe_load(out)["cameras"][0]
    assert cam["zones"] == [
        {
            "id": "kerb",
            "name": "路边",
            "polygon": SQUARE,
            "categories": ["illegal_parking"],
            "active_hours": "08:00-20:00",
            "min_score": 0.4,
        }
    ]
    assert cam["detect_fps"] == 2
    parse_config(out)


def test_a_camera_without_zones_gets_its_block_after_its_id() -> None:
    out = replace_zones(TEXT, "cam-2", [zone()])
    assert "  - id: cam-2\n    zones:\n      - id: kerb\n" in out
    assert out.startswith("# the district's cameras") and out.endswith("# the end\n")
    assert [c.zones[0].id for c in parse_config(out).cameras] == ["walkway", "kerb"]


def test_text_the_edit_cannot_keep_is_dumped_again_with_the_same_data() -> None:
    text = to_yaml(streams_site())  # cam-a and cam-b share one polygon through a YAML anchor
    assert "&id001" in text
    out = replace_zones(text, "cam-a", [zone()])
    data = yaml.safe_load(out)
    assert data["cameras"][0]["zones"] == [zone()]
    assert data["cameras"][1]["zones"][0]["polygon"] == [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
    parse_config(out)


def test_empty_optional_fields_are_left_out_and_no_zones_is_an_empty_list() -> None:
    assert zones_block([zone(name="", active_hours=None)]) == (
        "zones:\n  - id: kerb\n    polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]\n"
        "    categories: [illegal_parking]\n"
    )
    assert zones_block([], 4) == "    zones: []\n"
    assert yaml.safe_load(replace_zones(TEXT, "cam-1", []))["cameras"][0]["zones"] == []


@pytest.mark.parametrize(
    ("edited", "field", "words"),
    [
        (zone(polygon=[[0.1, 0.1], [0.4, 0.4]]), "polygon", "at least 3 points"),
        (zone(polygon=[[0.1, 0.1], [1.4, 0.1], [0.5, 0.5]]), "polygon", "outside the frame"),
        (zone(polygon=[[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]), "polygon", "cross"),
        (zone(categories=["ilegal_parking"]), "categories", "did you mean illegal_parking"),
        (zone(categories=[]), "categories", "at least 1 item"),
        (zone(active_hours="8-20"), "active_hours", "HH:MM-HH:MM"),
        (zone("bad id!"), "id", "should match pattern"),
        (zone(colour="red"), "colour", "unknown key 'colour'"),
    ],
)
def test_each_problem_is_tied_to_its_zone_and_field(edited: dict[str, Any], field: str, words: str) -> None:
    check = check_zones(TEXT, "cameras.yaml", "cam-1", [zone("ok-zone"), edited])
    assert not check.ok
    assert [(p.zone, p.zone_id, p.field) for p in check.problems] == [(1, edited["id"], field)]
    assert words in check.problems[0].message
    assert check.cfg is None


def test_duplicate_ids_are_a_problem_of_the_second_zone() -> None:
    check = check_zones(TEXT, "cameras.yaml", "cam-1", [zone(), zone()])
    assert [(p.zone, p.field) for p in check.problems] == [(1, "id")]
    assert "duplicate" in check.problems[0].message


def test_good_zones_give_their_yaml_and_the_whole_file() -> None:
    check = check_zones(TEXT, "cameras.yaml", "cam-1", [zone()])
    assert check.ok and check.cfg is not None
    assert check.zones_yaml == zones_block([zone()])
    assert check.config_yaml == replace_zones(TEXT, "cam-1", [zone()])


def test_a_zone_that_is_not_an_object_and_an_unknown_camera() -> None:
    check = check_zones(TEXT, "cameras.yaml", "cam-1", [zone(), "walkway"])
    assert [(p.zone, p.field) for p in check.problems] == [(1, None)]
    with pytest.raises(KeyError):
        check_zones(TEXT, "cameras.yaml", "cam-9", [])


def test_problems_elsewhere_in_the_file_are_tied_to_no_zone() -> None:
    text = TEXT.replace("grid: g\n# the end", "grid: nowhere\n# the end")
    check = check_zones(text, "cameras.yaml", "cam-1", [zone()])
    assert [(p.zone, p.field) for p in check.problems] == [(None, "cameras[1].grid")]
    assert check.problems[0].message.startswith("line ")


def test_detections_inside_use_the_detectors_anchor_and_filters() -> None:
    objects = live_objects(
        {
            "objects": [
                {"label": "car", "score": 0.9, "box": [0.2, 0.2, 0.3, 0.4]},  # bottom centre inside
                {"label": "car", "score": 0.9, "box": [0.2, 0.3, 0.3, 0.7]},  # centre in, bottom out
                {"label": "car", "score": 0.1, "box": [0.2, 0.2, 0.3, 0.4]},  # under min_score
                {"label": "car", "score": "high", "box": [0.2, 0.2, 0.3, 0.4]},  # malformed: left out
            ]
        }
    )
    assert len(objects) == 3
    centre = zone("centre", anchor="center")
    assert detections_inside([zone(), centre, zone(polygon=[[0, 0]]), "x"], objects) == [
        [0],
        [0, 1],
        None,
        None,
    ]


def test_saving_keeps_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "cameras.yaml"
    path.write_text(TEXT, encoding="utf-8")
    os.chmod(path, 0o640)
    backup = save_config_text(path, "new: 1\n")
    assert backup == tmp_path / "cameras.yaml.bak"
    assert backup.read_text(encoding="utf-8") == TEXT
    assert path.read_text(encoding="utf-8") == "new: 1\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cameras.yaml", "cameras.yaml.bak"]


def _rewrite(path: Path, text: str, stamp: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stamp, stamp))  # a new mtime, however fast the test runs


def test_the_watch_hands_out_changed_zones_of_valid_versions_only(tmp_path: Path) -> None:
    path = tmp_path / "cameras.yaml"
    _rewrite(path, TEXT, 1_000_000_000)
    watch = ConfigWatch(path, parse_config(TEXT), every_s=2)
    assert watch.poll(0.0) == {}
    _rewrite(path, "cameras: [", 2_000_000_000)
    assert watch.poll(1.0) == {}  # not yet looked at: every 2 s
    assert watch.poll(2.0) == {}  # looked at: not YAML, the running zones stay
    edited = replace_zones(TEXT, "cam-2", [zone()])
    _rewrite(path, edited, 3_000_000_000)
    changes = watch.poll(4.0)
    assert [(cam, [z.id for z in zones]) for cam, zones in changes.items()] == [("cam-2", ["kerb"])]
    assert [z.id for z in watch.cfg.cameras[1].zones] == ["kerb"]
    assert watch.poll(6.0) == {}  # the same version again


def test_zones_with_a_category_this_process_lacks_wait_for_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cameras.yaml"
    _rewrite(path, TEXT, 1_000_000_000)
    watch = ConfigWatch(path, parse_config(TEXT), every_s=0)
    more = TEXT.replace(
        "categories:\n", "categories:\n  bins: {code: '200103', name: 垃圾桶, labels: [bin]}\n"
    )
    _rewrite(path, replace_zones(more, "cam-2", [zone(categories=["bins"])]), 2_000_000_000)
    assert watch.poll(1.0) == {}
    assert watch.cfg.cameras[1].zones == []


def test_zone_changes_name_only_cameras_whose_zones_differ() -> None:
    old = parse_config(TEXT)
    new = parse_config(replace_zones(TEXT, "cam-1", [zone()]))
    assert list(zone_changes(old, new)) == ["cam-1"]
    assert zone_changes(old, old) == {}


def test_a_pipeline_counts_objects_in_its_new_zones() -> None:
    cfg = parse_config(TEXT)
    pipe = CameraPipeline(cfg.cameras[1], cfg, StaticTracker(), model_name="yolo11n")
    frame = Frame("cam-2", 1, np.zeros((100, 200, 3), np.uint8), 1_790_000_000.0, 0.0, 0.0)
    car = boxes([("car", 0.9, [40, 20, 60, 40])])  # bottom centre (0.25, 0.4)

    def zones_seen() -> list[list[str]]:
        rec = pipe.record(frame, car, inference_ms=1.0, decision=MOTION, now=1_790_000_000.1)
        return [o.zones for o in rec.objects]

    assert zones_seen() == [[]]
    new = parse_config(replace_zones(TEXT, "cam-2", [zone()]))
    pipe.apply_zones(new, new.cameras[1].zones)
    assert zones_seen() == [["kerb"]]


def test_the_edge_and_detect_loops_apply_edited_zones_between_rounds(tmp_path: Path) -> None:
    from ..detectors.test_camera_commands import FakeConsumer, FakePublisher, NoDetector, Rounds

    path = tmp_path / "cameras.yaml"
    topics = Topics("t.")
    for role in ("edge", "detect"):
        _rewrite(path, TEXT, 1_000_000_000)
        cfg = parse_config(TEXT)
        watch = ConfigWatch(path, cfg, every_s=0)
        pipe = CameraPipeline(cfg.cameras[1], cfg, StaticTracker(), model_name="yolo11n")
        loop = DetectionLoop({"cam-2": pipe}, NoDetector(), FakePublisher(), topics)  # type: ignore[arg-type]
        _rewrite(path, replace_zones(TEXT, "cam-2", [zone()]), 2_000_000_000)
        limits = RunLimits()
        limits.on_round = Rounds(limits, 2)
        if role == "edge":
            status = StatusReporter({}, FakePublisher(), topics, health=lambda: None)  # type: ignore[arg-type,return-value]
            run_edge({}, loop, status, limits, threading.Event(), 1, None, watch)
        else:
            run_detect(FakeConsumer([]), lambda camera_id: None, loop, limits, 1, None, watch)
        assert [z.id for z in pipe.camera.zones] == ["kerb"], role
        assert pipe.policy.relevant == {"kerb": frozenset({"car"})}
