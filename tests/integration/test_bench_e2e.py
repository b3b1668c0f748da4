"""`citywatch bench e2e --cameras 4` runs end to end (few incidents) and reports the overhead
beyond inference in its RESULT line."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from ..conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

KEYS = {"incidents", "p50_ms", "p99_ms", "inference_ms", "overhead_p99_ms", "dispatch_p99_ms"}


def test_bench_e2e_with_four_cameras_reports_the_overhead_beyond_inference() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "--log-level",
            "WARNING",
            "bench",
            "e2e",
            "--cameras",
            "4",
            "--incidents",
            "6",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert "on 4 cycling cameras" in lines[0], lines[0]
    assert any(line.startswith("  beyond model inference") for line in lines), out.stdout
    assert lines[-1].startswith("RESULT "), out.stdout
    values = {k: float(v) for k, v in (part.split("=", 1) for part in lines[-1].split()[1:])}
    assert set(values) == KEYS
    assert values["incidents"] >= 6
    for key in KEYS:
        assert math.isfinite(values[key]) and values[key] > 0, (key, values[key])
    # the overhead is the total less the model's time of the same frames: never above the total
    assert values["overhead_p99_ms"] <= values["p99_ms"]
