"""`citywatch bench capacity` runs its whole pipeline for a small step and ends with its RESULT line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import MEDIA, REPO

pytestmark = [
    pytest.mark.integration,
    pytest.mark.model,
    pytest.mark.slow,
    pytest.mark.skipif(not (MEDIA / "street-shopfronts.mp4").is_file(), reason="needs ../shared/media"),
]

KEYS = {"cameras", "detect_fps", "p99_ms", "cpu_per_camera", "backend"}


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "--log-level", "WARNING", "bench", "capacity", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )


def test_bench_capacity_one_step_prints_its_table_result_and_curve(tmp_path: Path) -> None:
    plot = tmp_path / "img" / "capacity.svg"
    # limits no loaded machine can miss: the step passes, so the report names it as the capacity
    clips = ["--source", str(MEDIA / "street-shopfronts.mp4"), "--source", str(MEDIA / "parking-lot.mp4")]
    limits = ["--max-p99-ms", "60000", "--max-dropped", "1"]
    out = bench(*clips, "--steps", "1", "--step-s", "10", *limits, "--plot", str(plot))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["cameras"])
    assert lines[header].split()[:8] == [
        "cameras",
        "fps/cam",
        "dropped",
        "inferred",
        "incidents",
        "p50",
        "ms",
        "p99",
    ]
    row = lines[header + 1].split()
    assert row[0] == "1" and row[-1] == "pass", lines[header + 1]
    assert float(row[1]) > 0  # sampled frames a second
    assert lines[-1].startswith("RESULT "), out.stdout
    values = dict(part.split("=", 1) for part in lines[-1].split()[1:])
    assert set(values) == KEYS
    assert values["cameras"] == "1"
    assert values["detect_fps"] == "1"
    assert values["backend"] == "onnxruntime"
    for key in ("p99_ms", "cpu_per_camera"):
        number = float(values[key])
        assert math.isfinite(number) and number > 0, (key, values[key])
    svg = plot.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "<circle" in svg


def test_bench_capacity_names_a_missing_source() -> None:
    out = bench("--source", "/nonexistent/clip.mp4", "--steps", "1")
    assert out.returncode != 0
    assert "/nonexistent/clip.mp4" in out.stdout + out.stderr
