"""`citywatch bench streams` runs end to end (small) and ends with its RESULT line."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {
    "events_per_s",
    "raw_consume_per_s",
    "ratio",
    "bare_faust_per_s",
    "worker_vs_bare",
    "p50_ms",
    "p99_ms",
    "raw_rtt_p99_ms",
}


def test_bench_streams_prints_a_result_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "bench", "streams", "--events", "2000", "--incidents", "20"],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), out.stdout
    values = dict(part.split("=", 1) for part in last.split()[1:])
    assert set(values) == KEYS
    for key, text in values.items():
        number = float(text)
        assert math.isfinite(number) and number > 0, (key, text)
