"""Fixtures: learnt by place over a learning period, matched by place whatever the label, stored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from detectors.fixture_store import KeptFixtures, fixtures_path, load, save
from detectors.fixtures import (
    CameraFixtures,
    Fixture,
    Learner,
    ZoneFixtures,
    add_fixture,
    iou,
    matching,
)
from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline
from detectors.types import Frame
from streams.config import Config, parse_config
from streams.contract.errors import FixturesError
from streams.contract.records import DetectedObject
from tests.unit.detectors.test_pipeline import StaticTracker, boxes

T0 = 1_790_000_000.0

CONFIG = """
version: 1
site: {{name: t}}
fixtures: {{dir: {dir}, max_per_zone: 3}}
categories:
  out_of_store_business: {{code: "200504", name: 店外经营, labels: [chair, bench, suitcase, potted plant]}}
grids: [{{id: g, unit: u}}]
units: [{{id: u}}]
cameras:
  - id: cam-1
    source: x.mp4
    location: {{address: a}}
    grid: g
    learn_fixtures_s: {learn}
    zones:
      - {{id: walkway, polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], categories: [out_of_store_business]}}
"""

BENCH = [0.30, 0.60, 0.40, 0.80]


def config(tmp_path: Path, learn: float = 3) -> Config:
    return parse_config(CONFIG.format(dir=tmp_path / "fx", learn=learn))


def obj(label: str, box: list[float], zones: list[str] | None = None, score: float = 0.5) -> DetectedObject:
    return DetectedObject(track_id=None, label=label, score=score, box=box, zones=zones or ["walkway"])


def bench_fixture() -> Fixture:
    return Fixture.make("walkway", BENCH, "bench", "learned", T0)


def book(tmp_path: Path, stored: dict[str, ZoneFixtures] | None = None, learn: float = 0) -> CameraFixtures:
    cfg = config(tmp_path, learn)
    return CameraFixtures(
        cfg.cameras[0].zones, cfg.fixtures, stored or {}, camera_learn_s=cfg.cameras[0].learn_fixtures_s
    )


def test_iou_of_same_disjoint_and_half_overlapping_boxes() -> None:
    assert iou(BENCH, BENCH) == pytest.approx(1.0)
    assert iou(BENCH, [0.5, 0.6, 0.6, 0.8]) == 0.0
    assert iou([0, 0, 2, 1], [1, 0, 3, 1]) == pytest.approx(1 / 3)


# -- matching: the cases of the issue


@pytest.mark.parametrize(
    ("label", "box", "is_fixture"),
    [
        ("bench", BENCH, True),  # in its place
        ("suitcase", [0.305, 0.61, 0.405, 0.80], True),  # replaced: another label, same place
        ("potted plant", [0.31, 0.58, 0.41, 0.79], True),  # jitter of the box
        ("suitcase", [0.42, 0.65, 0.50, 0.80], False),  # new, next to the fixture
        ("suitcase", [0.36, 0.70, 0.44, 0.80], False),  # new, partly in front of it
        ("bench", [0.60, 0.60, 0.70, 0.80], False),  # the fixture moved well away
        ("bench", [0.33, 0.60, 0.43, 0.80], True),  # moved a little: still its place (IoU 0.54)
        ("bench", [0.35, 0.60, 0.45, 0.80], False),  # moved by half its width (IoU 0.33)
    ],
)
def test_a_box_is_a_fixture_by_place_whatever_its_label(
    label: str, box: list[float], is_fixture: bool
) -> None:
    assert (matching(box, [bench_fixture()], 0.5) is not None) is is_fixture
    fixtures = CameraFixtures(
        parse_config(CONFIG.format(dir="x", learn=0)).cameras[0].zones,
        parse_config(CONFIG.format(dir="x", learn=0)).fixtures,
        {"walkway": ZoneFixtures([bench_fixture()], T0)},
    )
    (out,), learnt = fixtures.apply(T0 + 10, [obj(label, box)])
    assert learnt == []
    assert out.zones == ([] if is_fixture else ["walkway"])
    assert (out.model_extra or {}).get("fixtures", []) == (["walkway"] if is_fixture else [])


def test_a_fixture_only_mutes_its_own_zone(tmp_path: Path) -> None:
    fixtures = book(tmp_path, {"walkway": ZoneFixtures([bench_fixture()], T0)})
    (out,), _ = fixtures.apply(T0, [obj("bench", BENCH, zones=["walkway", "other"])])
    assert out.zones == ["other"]


# -- learning


def test_learning_keeps_what_stays_and_drops_who_passes_by(tmp_path: Path) -> None:
    fixtures = book(tmp_path, learn=3)
    assert fixtures.learning("walkway")
    learnt: list[str] = []
    for i in range(7):  # 2 fps over 3 s
        t = T0 + i * 0.5
        seen = [obj("person", [0.1 * i, 0.6, 0.1 * i + 0.05, 0.9])]  # walks through
        if i != 2:  # the model misses the bench once
            jitter = 0.003 * (i % 2)
            seen.append(obj("bench" if i == 0 else "suitcase", [v + jitter for v in BENCH], score=0.31))
        out, learnt = fixtures.apply(t, seen)
        if i < 6:
            assert all(o.zones == [] for o in out), "a zone counts nothing while it learns"
    assert learnt == ["walkway"]
    zf = fixtures.zones["walkway"]
    assert zf.learned_at == T0 + 3
    assert [(f.label, f.source) for f in zf.fixtures] == [("suitcase", "learned")]
    assert iou(zf.fixtures[0].box, BENCH) > 0.95
    # after learning: the bench is muted, something new beside it counts
    out, _ = fixtures.apply(T0 + 4, [obj("bench", BENCH), obj("suitcase", [0.5, 0.7, 0.58, 0.85])])
    assert [o.zones for o in out] == [[], ["walkway"]]


def test_learning_looks_at_every_label_and_score_in_the_zone(tmp_path: Path) -> None:
    fixtures = book(tmp_path, learn=1)
    # the zone's own filters (labels, min_score) left it out of ``zones``: it still stands there
    for i in range(3):
        fixtures.apply(T0 + i * 0.5, [obj("person", BENCH, zones=[])])
    assert [f.label for f in fixtures.zones["walkway"].fixtures] == ["person"]
    fixtures.apply(T0 + 2, [])
    (out,), _ = fixtures.apply(T0 + 3, [obj("suitcase", BENCH)])
    assert out.zones == []


def test_learnt_fixtures_are_bounded_per_zone(tmp_path: Path) -> None:
    fixtures = book(tmp_path, learn=1)
    many = [obj("chair", [0.05 * i, 0.6, 0.05 * i + 0.04, 0.7]) for i in range(10)]
    for i in range(3):
        fixtures.apply(T0 + i * 0.5, many)
    assert len(fixtures.zones["walkway"].fixtures) == 3  # fixtures.max_per_zone


def test_learner_candidates_are_bounded() -> None:
    learner = Learner("walkway", 10, 0.5, 0.5, max_candidates=4)
    for i in range(50):
        learner.feed(T0 + i, [("person", [0.01 * i, 0.6, 0.01 * i + 0.005, 0.7])])
    assert len(learner.candidates) == 4


def test_a_stored_zone_does_not_learn_again_but_an_operator_request_does(tmp_path: Path) -> None:
    stored = {"walkway": ZoneFixtures([bench_fixture()], T0)}
    assert not book(tmp_path, stored, learn=3).learning("walkway")
    stored["walkway"].learn_s = 2
    again = book(tmp_path, stored, learn=3)
    assert again.learning("walkway") and again.learners["walkway"].duration_s == 2


def test_learning_again_keeps_operator_fixtures(tmp_path: Path) -> None:
    mine = Fixture.make("walkway", [0.8, 0.6, 0.9, 0.7], "kiosk", "operator", T0)
    fixtures = book(tmp_path, {"walkway": ZoneFixtures([bench_fixture(), mine], T0, learn_s=1)})
    for i in range(3):
        fixtures.apply(T0 + i * 0.5, [])
    assert [f.label for f in fixtures.zones["walkway"].fixtures] == ["kiosk"]


def test_add_fixture_is_bounded_and_idempotent() -> None:
    zf = ZoneFixtures()
    assert add_fixture(zf, bench_fixture(), 1)
    assert add_fixture(zf, bench_fixture(), 1)
    assert not add_fixture(zf, Fixture.make("walkway", [0, 0.6, 0.1, 0.7], "x", "operator", T0), 1)
    assert len(zf.fixtures) == 1


# -- the file


def test_file_round_trip(tmp_path: Path) -> None:
    path = fixtures_path(tmp_path, "cam-1")
    zones = {"walkway": ZoneFixtures([bench_fixture()], T0 + 0.5, learn_s=None)}
    save(path, "cam-1", zones)
    assert load(path) == zones
    assert load(tmp_path / "missing.json") == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ('{"v": 2, "zones": {}}', "not a fixtures file"),
        ('{"v": 1, "zones": {"walkway": {"fixtures": [{"id": "a"}]}}}', "zone 'walkway'"),
        (
            '{"v": 1, "zones": {"walkway": {"fixtures": [{"id": "a", "box": [0.5, 0, 0.1, 1], "label": "x",'
            ' "source": "learned", "added_at": "2026-01-01T00:00:00.000Z"}]}}}',
            "x1 < x2",
        ),
    ],
)
def test_a_bad_file_says_what_to_fix(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "cam-1.json"
    path.write_text(text, "utf-8")
    with pytest.raises(FixturesError, match=says):
        load(path)


def frame(seq: int, t: float) -> Frame:
    return Frame("cam-1", seq, np.zeros((100, 200, 3), np.uint8), t, 0.0, 0.0)


def run_frames(
    pipe: CameraPipeline, start: int, n: int, rows: list[tuple[str, float, list[float]]]
) -> list[list[str]]:
    zones = []
    for i in range(start, start + n):
        rec = pipe.record(
            frame(i, T0 + i * 0.5),
            boxes(rows),
            inference_ms=1,
            decision=GateDecision(True, 1, "motion"),
            now=T0,
        )
        zones.append([z for o in rec.objects for z in o.zones])
    return zones


def test_pipeline_learns_stores_and_survives_a_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path, learn=2)
    camera = cfg.cameras[0]
    bench = ("suitcase", 0.31, [60.0, 60.0, 80.0, 80.0])  # pixels of a 200x100 frame
    pipe = CameraPipeline(
        camera, cfg, StaticTracker(), model_name="m", fixtures=KeptFixtures.open(camera, cfg)
    )
    assert run_frames(pipe, 0, 6, [bench]) == [[]] * 6
    stored = json.loads(fixtures_path(cfg.fixtures.dir, "cam-1").read_text("utf-8"))
    assert [f["label"] for f in stored["zones"]["walkway"]["fixtures"]] == ["suitcase"]

    # a restart reads the file: no new learning, the bench is muted at once, a new box counts
    again = CameraPipeline(
        camera, cfg, StaticTracker(), model_name="m", fixtures=KeptFixtures.open(camera, cfg)
    )
    assert again.fixtures is not None and not again.fixtures.fixtures.learners
    new = ("chair", 0.8, [120.0, 60.0, 140.0, 90.0])
    assert run_frames(again, 10, 2, [bench, new]) == [["walkway"], ["walkway"]]


def test_pipeline_takes_an_operator_change_without_restart(tmp_path: Path) -> None:
    cfg = config(tmp_path, learn=0)
    camera = cfg.cameras[0]
    chair = ("chair", 0.8, [60.0, 60.0, 80.0, 80.0])
    pipe = CameraPipeline(
        camera, cfg, StaticTracker(), model_name="m", fixtures=KeptFixtures.open(camera, cfg)
    )
    assert run_frames(pipe, 0, 1, [chair]) == [["walkway"]]
    path = fixtures_path(cfg.fixtures.dir, "cam-1")
    save(
        path,
        "cam-1",
        {"walkway": ZoneFixtures([Fixture.make("walkway", [0.3, 0.6, 0.4, 0.8], "chair", "operator", T0)])},
    )
    os.utime(path, ns=(1, 1))  # a distinct stamp even on a coarse clock
    assert run_frames(pipe, 10, 1, [chair]) == [[]]


def test_pipeline_keeps_its_fixtures_when_the_file_turns_bad(tmp_path: Path) -> None:
    cfg = config(tmp_path, learn=0)
    camera = cfg.cameras[0]
    path = fixtures_path(cfg.fixtures.dir, "cam-1")
    save(
        path,
        "cam-1",
        {"walkway": ZoneFixtures([Fixture.make("walkway", [0.3, 0.6, 0.4, 0.8], "chair", "operator", T0)])},
    )
    chair = ("chair", 0.8, [60.0, 60.0, 80.0, 80.0])
    pipe = CameraPipeline(
        camera, cfg, StaticTracker(), model_name="m", fixtures=KeptFixtures.open(camera, cfg)
    )
    path.write_text("{", "utf-8")
    assert run_frames(pipe, 10, 1, [chair]) == [[]]
    with pytest.raises(FixturesError, match="not JSON"):
        KeptFixtures.open(camera, cfg)
