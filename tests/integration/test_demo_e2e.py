"""End to end as a user runs it: `citywatch demo` with the real detector on the
packaged bus photo, the real worker, loudspeaker gateway and patrol app on the
embedded broker. It must tell both stories and stop everything it started; without
--once it keeps the command centre up after the stories until Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
import wave
from pathlib import Path

import pytest

from streams.commands.demo import store_url
from streams.store.database import open_engine, row_counts

from ..streams_support import CLOSED_LOOP

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow, pytest.mark.sysdeps("espeak-ng")]


def test_demo_tells_the_closed_loop_and_the_warning_story(tmp_path: Path) -> None:
    var = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "demo",
            "--once",
            "--duration",
            "240",
            "--var",
            str(var),
            "--web-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]
    # the closed loop, in order, for the bus that stays
    loop = [line for line in out.splitlines() if "cam-hp-02" in line and "INCIDENT" in line]
    loop_states = [state.upper() for state in CLOSED_LOOP]
    states = [w for line in loop for w in loop_states if f" {w}:" in line]
    assert states == loop_states, "\n".join(loop)
    assert "closed loop at cam-hp-02: verified; warning at cam-xh-01: warning" in out
    assert "LOUDSPEAKER spk-hp-02: «和平路38号公交站禁止停车，请立即驶离。» (auto)" in out
    # the gateway's acknowledgement reached the incident's history
    assert "warned: loudspeaker played" in out
    assert "DISPATCH    case " in out and "-> unit-hp-1 (street)" in out
    # the loudspeaker really spoke: WAV files of plausible length
    wavs = sorted((var / "speaker").rglob("*.wav"))
    assert len(wavs) == 2
    for path in wavs:
        with wave.open(str(path)) as w:
            assert 1.0 < w.getnframes() / w.getframerate() < 20.0
    # the detector kept evidence of the bus (beside its cameras' live pictures, live/)
    assert [p for p in (var / "evidence").rglob("*.jpg") if p.parent.name != "live"]
    assert {p.name for p in (var / "evidence" / "live").glob("*.jpg")}
    assert "stopped 5 processes and the embedded broker" in out
    # the case record kept both incidents with their histories, the case and the loudspeaker's work
    assert re.search(r"case record \(.*citywatch\.db\): [1-9]\d* rows", out), out[-2000:]
    engine = open_engine(store_url(var))
    try:
        counts = row_counts(engine)
    finally:
        engine.dispose()
    assert counts["incidents"] == 2 and counts["cases"] == 1, counts
    assert counts["incident_events"] >= 5 and counts["loudspeaker_acks"] >= 2, counts


def test_demo_keeps_the_command_centre_up_after_the_stories_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "demo", "--var", str(tmp_path / "demo"), "--web-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    still_running = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("still running: command centre: "):
                still_running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert still_running.wait(400), "".join(lines)[-4000:]
        out = "".join(lines)
        assert "summary" in out and "closed loop at cam-hp-02: verified" in out
        assert "stopped 5 processes" not in out  # nothing was stopped after the stories
        match = re.search(r"still running: command centre: (http://\S+)\s+operator token (\S+),", out)
        assert match, out[-2000:]
        board, token = match.group(1), match.group(2)
        request = urllib.request.Request(board, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as page:  # noqa: S310 - the demo's own board
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(120) == 0, "".join(lines)[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    reader.join(10)
    assert "stopped 5 processes and the embedded broker" in "".join(lines)
