"""The capacity benchmark's pure pieces: stopping rule, SVG curve, /metrics and /proc readers,
the bench configuration, and the looped footage of the simulated cameras."""

from __future__ import annotations

import argparse
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from detectors.pipeline import CameraStats
from streams import role_metrics
from streams.config import parse_config
from streams.dev.bench import capacity, steps
from streams.dev.bench.steps import Step, failure, frame_counts, stat_cpu_ticks
from streams.dev.bench.svg_curve import curve_svg
from streams.dev.demo.camserver import Footage
from streams.role_health import _Collector

SVG = "{http://www.w3.org/2000/svg}"


def step(cameras: int, p99: float | None = 500.0, dropped: float = 0.0, unanswered: int = 0) -> Step:
    latencies = () if p99 is None else (100.0,) * 98 + (p99, p99)
    return Step(
        cameras=cameras,
        sampled_fps=1.0,
        dropped=dropped,
        inferred=1.0,
        latencies_ms=latencies,
        unanswered=unanswered,
        queued=3,
        cpu_cores=0.5 * cameras,
    )


@pytest.mark.parametrize(
    ("s", "reason"),
    [
        (step(1), None),
        (step(1, p99=2000.0), None),  # at the limit passes
        (step(1, p99=2000.5), "p99 2000 ms > 2000"),  # 2000.5 shows rounded
        (step(1, dropped=0.01), None),
        (step(1, dropped=0.02), "dropped 2.0% > 1.0%"),
        (step(1, p99=None), "no incident answered"),
        (step(1, unanswered=1), None),  # 1 of 101: under 1 in 100
        (step(1, unanswered=2), "2 without a command after 2000 ms"),
    ],
)
def test_failure(s: Step, reason: str | None) -> None:
    assert failure(s, 2000.0, 0.01) == reason


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        ([step(1), step(2), step(4, p99=2500.0), step(8)], 2),  # stops at the first failure
        ([step(1), step(2, dropped=0.5), step(4)], 1),  # a later pass does not count
        ([step(1, p99=3000.0), step(2)], None),
        ([step(1), step(2), step(4)], 4),
        ([], None),
    ],
)
def test_capacity_is_the_largest_step_before_the_first_failure(
    measured: list[Step], expected: int | None
) -> None:
    best = steps.capacity(measured, 2000.0, 0.01)
    assert (best.cameras if best else None) == expected


def test_step_figures() -> None:
    s = Step(4, 1.0, 0.0, 1.0, (100.0, 300.0, 200.0), 0, 0, cpu_cores=2.0)
    assert s.p50_ms == 200.0
    assert s.p99_ms == 300.0
    assert s.cpu_per_camera == 0.5
    assert math.isnan(step(1, p99=None).p99_ms)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,2,4", [1, 2, 4]), ("3", [3]), ("1, 2", [1, 2])],
)
def test_steps_argument(text: str, expected: list[int]) -> None:
    assert capacity._steps(text) == expected


@pytest.mark.parametrize("text", ["", "0,1", "2,1", "1,1", "1,x"])
def test_steps_argument_refuses_what_is_not_rising_counts(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="--steps"):
        capacity._steps(text)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own writer's output)


def _polyline(svg: str) -> list[tuple[float, float]]:
    root = _parse(svg)
    (line,) = root.iter(f"{SVG}polyline")
    return [(float(x), float(y)) for x, y in (p.split(",") for p in line.attrib["points"].split())]


def test_curve_svg_draws_each_measured_step_rising_with_its_p99() -> None:
    svg = curve_svg([(1, 400.0), (2, 800.0), (4, 2600.0)], 2000.0, "p99 <onnxruntime> & co")
    root = _parse(svg)  # well-formed, the title escaped
    assert root.tag == f"{SVG}svg"
    points = _polyline(svg)
    assert len(points) == 3
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert ys == sorted(ys, reverse=True)  # higher latency is higher on the page (smaller y)
    # x is proportional to the camera count from the axis at x=70: 1, 2, 4 cameras
    assert (xs[1] - 70) == pytest.approx(2 * (xs[0] - 70))
    assert (xs[2] - 70) == pytest.approx(4 * (xs[0] - 70))
    limit = [e for e in root.iter(f"{SVG}line") if e.attrib.get("stroke-dasharray")]
    assert len(limit) == 1
    limit_y = float(limit[0].attrib["y1"])
    assert ys[1] > limit_y > ys[2]  # 800 ms below the 2000 ms line, 2600 ms above it
    assert "limit 2000 ms" in svg
    assert "p99 &lt;onnxruntime&gt; &amp; co" in svg


def test_curve_svg_leaves_out_a_step_without_a_latency() -> None:
    svg = curve_svg([(1, 400.0), (2, float("nan")), (4, 900.0)], 2000.0, "t")
    assert len(_polyline(svg)) == 2
    assert len(list(_parse(svg).iter(f"{SVG}circle"))) == 2


def test_curve_svg_without_any_latency_still_draws_the_axes() -> None:
    svg = curve_svg([(1, float("nan"))], 2000.0, "t")
    root = _parse(svg)
    assert not list(root.iter(f"{SVG}polyline"))
    assert "limit 2000 ms" in svg


class _Pipeline:
    def __init__(self, sampled: int, missed: int) -> None:
        self.stats = CameraStats(sampled=sampled, inferred=sampled - 1, skipped=1, missed=missed)


class _Publisher:
    buffered = 0
    dropped = 0


def test_frame_counts_sum_the_edges_cameras_by_stage() -> None:
    registry = CollectorRegistry(auto_describe=False)
    pipelines = {"cam-a": _Pipeline(10, 2), "cam-b": _Pipeline(5, 0)}
    registry.register(_Collector(role_metrics.detector("edge", lambda: pipelines, _Publisher())))
    registry.register(_Collector(role_metrics.detector("detect", lambda: pipelines, _Publisher())))
    counts = frame_counts(generate_latest(registry).decode())
    assert counts == {"sampled": 15.0, "inferred": 13.0, "skipped": 2.0, "missed": 2.0}


def test_stat_cpu_ticks_reads_utime_and_stime_past_an_odd_command_name() -> None:
    stat = "4242 (py) thon (x)) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 37 0 0 20 0 3 0 999"
    assert stat_cpu_ticks(stat) == 287


def test_cpu_seconds_counts_this_process() -> None:
    import os

    assert steps.cpu_seconds([os.getpid()]) > 0


def test_bench_config_is_a_valid_configuration_with_a_zone_grid(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    capacity.add_arguments(parser)
    args = parser.parse_args(
        ["--source", "clip.mp4", "--grid", "3", "--backend", "openvino", "--imgsz", "320"]
    )
    urls = {"cam-00": "http://127.0.0.1:1/cam-00.mjpg", "cam-01": "http://127.0.0.1:1/cam-01.mjpg"}
    cfg = parse_config(capacity.bench_config(tmp_path, urls, args), "cameras.yaml")
    assert cfg.model.backend == "openvino" and cfg.model.imgsz == 320
    assert [c.id for c in cfg.cameras] == ["cam-00", "cam-01"]
    for camera in cfg.cameras:
        assert camera.detect_fps == 1.0
        assert len(camera.zones) == 9
        assert camera.speaker == f"spk-{camera.id}"
        # the cells cover the frame exactly once
        area = sum(
            (max(x for x, _ in z.polygon) - min(x for x, _ in z.polygon))
            * (max(y for _, y in z.polygon) - min(y for _, y in z.polygon))
            for z in camera.zones
        )
        assert area == pytest.approx(1.0, abs=1e-3)
    labels = {label for c in cfg.categories.values() for label in c.labels}
    assert {"person", "car"} <= labels
    for key in ("lawn", "illegal_parking"):
        cat = cfg.categories[key]
        # the frames a dwell spans at 1 fps are enough for the warning (else: an operator's review)
        assert cat.warn_min_frames <= cat.dwell_s * 1.0 + 1


def test_clips_name_the_missing_file() -> None:
    from streams.contract.errors import SourceError

    with pytest.raises(SourceError, match=r"no video file /nonexistent\.mp4"):
        capacity.clips(["/nonexistent.mp4"])


def test_footage_plays_in_a_loop_from_its_offset() -> None:
    clip = Footage((b"a", b"b", b"c"), fps=2.0)
    assert [clip.at(t) for t in (0.0, 0.49, 0.5, 1.0, 1.5)] == [b"a", b"a", b"b", b"c", b"a"]
    later = Footage(clip.frames, fps=2.0, offset_s=0.5)
    assert later.at(0.0) == b"b"


def test_a_step_counts_answered_unanswered_and_left_out_incidents_of_its_window() -> None:
    from streams.contract.ids import make_id
    from streams.dev.bench.stack import Observed

    seen = Observed()
    since = "2026-12-01T08:00:00.000Z"

    def incident(n: int, captured: str) -> str:
        cam = f"cam-{n}"
        seen.add(
            "detections", {"camera_id": cam, "seq": 7, "captured_at": captured, "detected_at": captured}, 1.0
        )
        violation = {"camera_id": cam, "zone_id": "z", "category": "lawn", "since": since, "state": "started"}
        seen.add("violations", {**violation, "seq": 7}, 1.0)
        iid = make_id("inc", cam, "z", "lawn", since)
        seen.add("alerts", {"incident_id": iid, "state": "open"}, 1.0)
        return iid

    inside, outside = "2026-12-01T08:00:10.000Z", "2026-12-01T08:01:10.000Z"
    answered = incident(1, inside)
    seen.add("loudspeaker", {"incident_id": answered}, 1.7648e9)
    incident(2, inside)  # no command: unanswered
    seen.add("broadcast-decisions", {"incident_id": incident(3, inside), "decision": "queued"}, 1.0)
    seen.add("broadcast-decisions", {"incident_id": incident(4, inside), "decision": "suppressed"}, 1.0)
    incident(5, outside)  # captured after the window: not this step's

    t0, t1 = 1_796_112_000.0, 1_796_112_030.0  # 2026-12-01 08:00:00 .. 08:00:30 UTC
    latencies, unanswered, left_out = steps.window_incidents(seen, t0, t1)
    assert (len(latencies), unanswered, left_out) == (1, 1, 2)
