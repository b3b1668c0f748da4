"""Scoring of `citywatch eval` on hand-made incidents and truth; the clip runner on fake boxes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from detectors.types import Boxes
from streams.config import Config
from streams.contract.errors import UsageError
from streams.dev.eval import HIT_WINDOW_S, Opened, Truth, load_truth, parse_truth, report_lines, score
from streams.dev.eval_clip import run_clip

from ...config_support import REAR_HALF, parse

Z, C = "walkway", "out_of_store_business"
HOUR = 3600.0


def truth(start: float, end: float, zone: str = Z, category: str = C) -> Truth:
    return Truth(zone, category, start, end)


def opened(at: float, *, warned: bool = True, zone: str = Z, category: str = C) -> Opened:
    return Opened(zone, category, at, warned)


def test_an_incident_opened_between_the_start_and_ten_seconds_after_the_end_is_a_hit() -> None:
    t = [truth(100, 200)]
    for at in (100, 150, 200, 200 + HIT_WINDOW_S):
        s = score(t, [opened(at)], duration_s=HOUR)
        assert (s.total.hits, s.total.found, s.total.false_alarms) == (1, 1, 0), at
        assert s.total.precision == 1 and s.total.recall == 1
        assert s.total.delays_s == [at - 100]


@pytest.mark.parametrize(
    "o",
    [
        opened(99.9),  # before the violation started
        opened(200 + HIT_WINDOW_S + 0.1),  # long after it ended
        opened(150, zone="other"),
        opened(150, category="illegal_parking"),
    ],
    ids=["early", "late", "other-zone", "other-category"],
)
def test_any_other_incident_is_a_false_alarm_and_the_truth_is_missed(o: Opened) -> None:
    s = score([truth(100, 200)], [o], duration_s=HOUR)
    assert (s.total.hits, s.total.found, s.total.false_alarms, s.total.false_warnings) == (0, 0, 1, 1)
    assert s.total.precision == 0 and s.total.recall == 0
    assert s.false_per_hour == 1.0 and s.false_warnings_per_camera_hour == 1.0


def test_a_false_alarm_left_for_review_is_no_false_warning() -> None:
    s = score([], [opened(10, warned=False), opened(20, warned=True)], duration_s=HOUR / 2)
    assert s.total.false_alarms == 2 and s.total.false_warnings == 1
    assert s.false_per_hour == 4.0 and s.false_warnings_per_camera_hour == 2.0


def test_two_incidents_for_one_violation_are_both_hits_and_it_is_found_once() -> None:
    s = score([truth(0, 60), truth(100, 160)], [opened(70), opened(30), opened(500)], duration_s=HOUR)
    assert s.total.found == 1 and s.total.recall == 0.5
    assert s.total.hits == 2 and s.total.false_alarms == 1
    assert s.total.precision == pytest.approx(2 / 3)
    assert s.total.delays_s == [30.0]  # the first hit


def test_per_category_and_per_camera_hour() -> None:
    s = score(
        [truth(0, 10), truth(0, 10, category="illegal_parking")],
        [opened(5), opened(50, category="illegal_parking", warned=False)],
        duration_s=1800,
        cameras=2,
        categories=["bike_parking"],
    )
    assert s.camera_hours == 1.0
    assert list(s.categories) == ["bike_parking", "illegal_parking", C]
    assert s.categories[C].recall == 1 and s.categories[C].false_alarms == 0
    park = s.categories["illegal_parking"]
    assert park.recall == 0 and park.false_alarms == 1 and park.false_warnings == 0
    assert s.categories["bike_parking"].precision is None and s.categories["bike_parking"].recall is None
    assert s.false_per_hour == 1.0 and s.false_warnings_per_camera_hour == 0.0


def test_nothing_to_find_and_nothing_opened_reads_n_a_and_zero() -> None:
    lines = report_lines(score([], [], duration_s=10, categories=[C]))
    assert lines[-1] == "RESULT precision=n/a recall=n/a false_per_hour=0 false_warnings_per_camera_hour=0"
    assert any(line.startswith(C) for line in lines)


def test_result_line_numbers() -> None:
    s = score([truth(0, 10), truth(20, 30)], [opened(5), opened(500)], duration_s=HOUR)
    assert report_lines(s)[-1] == (
        "RESULT precision=0.5 recall=0.5 false_per_hour=1 false_warnings_per_camera_hour=1"
    )


def test_truth_lines_parse_with_comments_and_blank_lines() -> None:
    got = parse_truth(
        [
            "# a comment",
            "",
            '{"zone_id": "walkway", "category": "out_of_store_business", "start_s": 3.5, "end_s": 10}',
        ]
    )
    assert got == [truth(3.5, 10.0)]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"zone_id": "z", "category": "c", "start_s": 1}', "missing end_s"),
        ('{"zone_id": "z", "category": "c", "start_s": 1, "end_s": 2, "x": 1}', "unknown x"),
        ('{"zone_id": "", "category": "c", "start_s": 1, "end_s": 2}', "zone_id must be"),
        ('{"zone_id": "z", "category": "c", "start_s": -1, "end_s": 2}', "start_s must be"),
        ('{"zone_id": "z", "category": "c", "start_s": true, "end_s": 2}', "start_s must be"),
        ('{"zone_id": "z", "category": "c", "start_s": 5, "end_s": 2}', "before start_s"),
    ],
)
def test_a_bad_truth_line_names_its_line_and_the_fix(line: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as err:
        parse_truth(["# ok", line], "t.jsonl")
    assert "t.jsonl:2" in str(err.value)


def test_a_missing_truth_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read truth file"):
        load_truth(tmp_path / "nope.jsonl")


# ------------------------------------------------------------------ the runner, on fake boxes


def clip_config(tmp: Path, learn: float) -> Config:
    """cam-1 watching its walkway for goods out of a shop, learning fixtures for ``learn`` s."""
    oob = {"code": "200504", "name": "店外经营", "labels": ["chair", "bench"]}
    camera = {"id": "cam-1", "source": "x.mp4", "location": {"address": "a", "shop": "s"}, "grid": "g"}
    camera |= {"speaker": "spk", "detect_fps": 2, "stationary_recheck_s": 1, "learn_fixtures_s": learn}
    camera["zones"] = [{"id": "walkway", "polygon": REAR_HALF, "categories": ["out_of_store_business"]}]
    district = {
        "version": 1,
        "site": {"name": "t", "timezone": "Asia/Shanghai"},
        "fixtures": {"dir": f"{tmp}/fixtures"},
        "categories": {"out_of_store_business": oob | {"dwell_s": 4, "inertia": 2, "gap_s": 2, "clear_s": 3}},
        "grids": [{"id": "g", "unit": "u"}],
        "units": [{"id": "u"}],
        "speakers": [{"id": "spk"}],
        "cameras": [camera],
    }
    return parse(district, "cameras.yaml")


BENCH = [10.0, 60.0, 60.0, 95.0]  # pixels of a 200x100 picture, in the walkway
CHAIR = [120.0, 60.0, 160.0, 95.0]


class FakeDetector:
    """The bench in every picture; a chair where the picture shows one (a white patch)."""

    name = "fake"

    def detect(self, images: Sequence[np.ndarray]) -> list[Boxes]:
        out = []
        for image in images:
            rows = [("bench", 0.9, BENCH)]
            if image[70, 140, 0] > 0:
                rows.append(("chair", 0.8, CHAIR))
            out.append(
                Boxes(
                    np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
                    np.array([r[1] for r in rows], np.float32),
                    np.zeros(len(rows), np.float32),
                    tuple(str(r[0]) for r in rows),
                )
            )
        return out


def fake_clip(chair_from: float | None, seconds: float = 12.0, fps: float = 10.0) -> Iterator:
    for i in range(int(seconds * fps)):
        t = i / fps
        image = np.zeros((100, 200, 3), np.uint8)
        image[60:95, 10:60] = 90  # the bench
        if chair_from is not None and t >= chair_from:
            image[60:95, 120:160] = 255
        yield t, image


def test_the_runner_counts_a_new_chair_and_not_the_learnt_bench(tmp_path: Path) -> None:
    cfg = clip_config(tmp_path, learn=2)
    got = run_clip(cfg, "cam-1", fake_clip(chair_from=4.0), FakeDetector(), start=1_779_760_800.0)
    assert got.frames == 120 and 0 < got.inferred <= 25
    assert got.duration_s == pytest.approx(12.0)
    assert len(got.opened) == 1, got.opened
    o = got.opened[0]
    assert (o.zone_id, o.category, o.warned) == (Z, C, True)
    assert 8.0 <= o.opened_s <= 9.5  # media time: the chair at 4 s plus the 4 s dwell
    assert not (tmp_path / "fixtures").exists()  # learnt into a scratch store, not the deployment's
    s = score([truth(4.0, 12.0)], got.opened, duration_s=got.duration_s)
    assert s.total.recall == 1 and s.total.precision == 1


def test_the_runner_without_learning_takes_the_bench_for_goods(tmp_path: Path) -> None:
    cfg = clip_config(tmp_path, learn=0)
    got = run_clip(cfg, "cam-1", fake_clip(chair_from=None), FakeDetector(), start=1_779_760_800.0)
    assert [(o.zone_id, o.warned) for o in got.opened] == [(Z, True)]
    s = score([], got.opened, duration_s=got.duration_s)
    assert s.total.false_warnings == 1 and s.false_warnings_per_camera_hour == pytest.approx(300.0)


def test_the_runner_names_an_unknown_camera(tmp_path: Path) -> None:
    cfg = clip_config(tmp_path, learn=0)
    with pytest.raises(UsageError, match=r"no camera 'cam-9'.*cam-1"):
        run_clip(cfg, "cam-9", fake_clip(None), FakeDetector(), start=0.0)
