"""Every role starts as a newcomer or a service starts it: from an empty working
directory, with an absolute --config, creating the directories it writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streams.contract.timeutil import to_iso
from streams.dev.broker import free_port
from streams.dev.demo.scene import asset

from ..config_support import streams_site, write_config
from ..conftest import REPO, KafkaEnv
from ..streams_support import citywatch, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKENS = "roles-admin-token-0123456789=admin@hq"


def role_config(path: Path) -> Path:
    """The streams test district, its cameras showing the packaged bus photo; every
    written directory relative, so it lands under the working directory."""
    district = streams_site()
    for cam in district["cameras"]:
        cam["source"] = str(asset("bus.jpg"))
    district["evidence"] = {"dir": "var/evidence"}
    return write_config(path, district)


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def env_for(kafka: KafkaEnv) -> dict[str, str]:
    # the checkout on PYTHONPATH (the roles run as `python -m streams.cli` from elsewhere)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**kafka.env(), "PYTHONPATH": path, "CITYWATCH_TOKENS": TOKENS}


def spawn(cwd: Path, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_cleanly(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as a service manager stops it: it must exit 0."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise AssertionError("did not stop on SIGTERM:\n" + log.read_text()[-3000:]) from None
    assert code == 0, log.read_text()[-3000:]


def no_errors(text: str) -> None:
    assert "Traceback" not in text, text[-4000:]
    assert "FileNotFoundError" not in text, text[-4000:]


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_worker_starts_in_an_empty_directory(kafka: KafkaEnv, empty_dir: Path, tmp_path: Path) -> None:
    config = role_config(tmp_path / "district.yaml")
    log = tmp_path / "worker.log"
    port = free_port()
    worker = spawn(empty_dir, env_for(kafka), log, "worker", "--config", str(config), "--web-port", str(port))
    try:
        assert wait_for(lambda: answers(port) or worker.poll() is not None, 90), log.read_text()[-3000:]
        assert worker.poll() is None, log.read_text()[-3000:]
        assert (empty_dir / "var" / "faust").is_dir()
    finally:
        if worker.poll() is None:
            stop_cleanly(worker, log)
    no_errors(log.read_text())


def test_short_lived_roles_start_in_an_empty_directory(
    kafka: KafkaEnv, empty_dir: Path, tmp_path: Path
) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    env = env_for(kafka)
    records = tmp_path / "records.jsonl"
    reading = {
        "sensor_id": "s-1",
        "kind": "noise",
        "value": 1,
        "unit": "dB",
        "measured_at": to_iso(time.time()),
    }
    records.write_text(json.dumps({"topic": "sensor-readings", "key": "s-1", "value": reading}) + "\n")
    month = ["--from", "2026-11-01", "--to", "2026-12-01"]
    runs = {
        "check": ["check", "--config", config],
        "broadcast": ["broadcast", "--config", config, "--speaker", "spk-a", "--text", "test", "--no-wait"],
        "tail": ["tail", "alerts", "--from-beginning", "--timeout", "1"],
        "replay": ["replay", str(records), "--fast", "--prefix"],
        "speaker": ["speaker", "--config", config, "--duration", "3"],
        "patrol": ["patrol", "--config", config, "--unit", "unit-a", "--auto", "--duration", "3"],
        "store": ["store", "--config", config, "--duration", "3"],  # its default database: ./var/citywatch.db
        "db": ["db", "upgrade", "--config", config],
        "topics": ["topics", "plan", "--config", config],
        "restore": ["restore", "--config", config, "--dry-run"],
        "report": ["report", "--config", config, *month, "--format", "xlsx", "--out", "reports/month.xlsx"],
        "export": ["export", "cases", "--config", config, *month, "--out", "reports/cases.csv"],
    }
    for name, args in runs.items():
        result = citywatch(env, *args, cwd=empty_dir)
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{name}: {out[-3000:]}"
        no_errors(out)
    assert (empty_dir / "var" / "citywatch.db").is_file()
    assert (empty_dir / "reports" / "month.xlsx").stat().st_size > 0  # --out's folder is made
    assert (empty_dir / "reports" / "cases.csv").read_text(encoding="utf-8-sig").startswith("案件编号")


@pytest.mark.model
def test_detector_roles_start_in_an_empty_directory(kafka: KafkaEnv, empty_dir: Path, tmp_path: Path) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    env = env_for(kafka)
    for args in (
        ["edge", "--config", config, "--duration", "8"],
        ["capture", "--config", config, "--duration", "5"],
        ["detect", "--config", config, "--duration", "5"],
    ):
        result = citywatch(env, *args, timeout=180, cwd=empty_dir)
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{args[0]}: {out[-3000:]}"
        no_errors(out)


def test_broker_starts_in_an_empty_directory(empty_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    broker = spawn(empty_dir, dict(os.environ), log, "broker", "--port", str(free_port()))
    try:
        assert wait_for(lambda: "broker ready" in log.read_text() or broker.poll() is not None, 60)
        assert broker.poll() is None, log.read_text()[-3000:]
    finally:
        if broker.poll() is None:
            stop_cleanly(broker, log)
    no_errors(log.read_text())


@pytest.mark.model
def test_demo_starts_in_an_empty_directory(empty_dir: Path, tmp_path: Path) -> None:
    result = citywatch(
        dict(os.environ), "demo", "--once", "--duration", "20", "--web-port", "0", timeout=180, cwd=empty_dir
    )
    out = result.stdout + result.stderr
    no_errors(out)
    assert "started worker, detector, loudspeaker gateway, patrol officer and case record" in out, out[-3000:]
    assert "stopped 5 processes and the embedded broker" in out, out[-3000:]
    assert (empty_dir / "var" / "demo" / "logs").is_dir()
    assert (
        empty_dir / "var" / "demo" / "citywatch.db"
    ).is_file()  # the case record, in the working directory
    for name in ("worker", "speaker", "edge", "store"):
        no_errors((empty_dir / "var" / "demo" / "logs" / f"{name}.log").read_text())
