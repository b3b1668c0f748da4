"""Every role over real TLS: the embedded broker behind stunnel, which it advertises, so
clients come back through TLS; a wrong CA or an unreachable broker ends in one clear line."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import kafka_security
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics
from streams.dev.broker import free_port
from streams.kafka_io import ensure_topics

from ..conftest import REPO
from ..streams_support import citywatch, wait_for
from ..tls_support import TlsBroker, tls_broker
from .test_roles_start import TOKENS, no_errors, role_config, spawn, stop_cleanly

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.sysdeps("stunnel4", "openssl")]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with tls_broker(tmp_path_factory.mktemp("tls")) as b:
        yield b


@pytest.fixture
def env(tls: TlsBroker, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a role on the TLS broker, its topics (made over TLS) under a prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}.citywatch."
    for name, value in tls.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(kafka_security, "_installed", None)
    ensure_topics(tls.bootstrap, Topics(prefix).all(), partitions=4)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CITYWATCH_")}
    return {
        **base,
        **tls.env(),
        "CITYWATCH_TOPIC_PREFIX": prefix,
        "PYTHONPATH": path,
        "CITYWATCH_TOKENS": TOKENS,
    }


def board_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            return bool(json.load(r).get("board") == "ready")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def test_worker_and_operator_over_tls(env: dict[str, str], tmp_path: Path) -> None:
    """The Faust worker consumes and produces, and its web reads the board, through TLS."""
    config = str(role_config(tmp_path / "district.yaml"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    log = tmp_path / "worker.log"
    port = free_port()
    worker = spawn(cwd, env, log, "worker", "--config", config, "--web-port", str(port))
    try:
        assert wait_for(lambda: board_ready(port) or worker.poll() is not None, 120), log.read_text()[-3000:]
        assert worker.poll() is None, log.read_text()[-3000:]
        said = citywatch(
            env, "broadcast", "--config", config, "--speaker", "spk-a", "--text", "t", "--wait", "60"
        )
        out = said.stdout + said.stderr
        assert "request " in out and "no decision within" not in out, out[-3000:]
    finally:
        if worker.poll() is None:
            stop_cleanly(worker, log)
    no_errors(log.read_text())


def test_roles_over_tls(env: dict[str, str], tmp_path: Path) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    records = tmp_path / "records.jsonl"
    reading = {
        "sensor_id": "s-1",
        "kind": "noise",
        "value": 1,
        "unit": "dB",
        "measured_at": to_iso(time.time()),
    }
    records.write_text(json.dumps({"topic": "sensor-readings", "key": "s-1", "value": reading}) + "\n")
    runs = {
        "replay": ["replay", str(records), "--fast", "--prefix"],
        "tail": ["tail", "sensor-readings", "--from-beginning", "--max", "1", "--timeout", "30"],
        "capture": ["capture", "--config", config, "--duration", "5"],
        "frames": ["tail", "frames", "--from-beginning", "--max", "1", "--timeout", "30"],
        "speaker": ["speaker", "--config", config, "--duration", "3"],
        "patrol": ["patrol", "--config", config, "--unit", "unit-a", "--auto", "--duration", "3"],
        "store": ["store", "--config", config, "--duration", "3"],
    }
    for name, args in runs.items():
        result = citywatch(env, *args, timeout=180, cwd=cwd)
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{name}: {out[-3000:]}"
        no_errors(out)
        if name in ("tail", "frames"):  # what replay and capture wrote came back through TLS
            assert result.stdout.strip(), f"{name} read nothing: {out[-3000:]}"


@pytest.mark.model
def test_edge_over_tls(env: dict[str, str], tmp_path: Path) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    result = citywatch(env, "edge", "--config", config, "--duration", "8", timeout=180, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    no_errors(out)
    got = citywatch(env, "tail", "detections", "--from-beginning", "--max", "1", "--timeout", "30")
    assert got.stdout.strip(), (got.stdout + got.stderr)[-3000:]


def one_clear_line(result: object, role: str, *needles: str) -> None:
    out = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, out[-3000:]  # type: ignore[attr-defined]
    no_errors(out)
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"citywatch {role}: "), out[-3000:]
    for needle in needles:
        assert needle in last, last


def test_wrong_ca_names_the_setting(env: dict[str, str], tls: TlsBroker, tmp_path: Path) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    wrong = {**env, "CITYWATCH_KAFKA_SSL_CAFILE": str(tls.pki.other_ca)}
    expected = (f"TLS handshake with {tls.bootstrap} failed: certificate verify failed", "kafka.ssl_cafile")
    for role, args in {
        "worker": ["worker", "--config", config, "--no-web"],
        "capture": ["capture", "--config", config, "--duration", "5"],
        "speaker": ["speaker", "--config", config, "--duration", "3"],
        "store": ["store", "--config", config, "--duration", "3"],
        "tail": ["tail", "alerts", "--timeout", "1"],
    }.items():
        one_clear_line(citywatch(wrong, *args, timeout=60, cwd=tmp_path), role, *expected)


def test_plaintext_client_on_the_tls_port_names_the_setting(env: dict[str, str], tls: TlsBroker) -> None:
    plain = {**env, "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    result = citywatch(plain, "tail", "alerts", "--timeout", "1", timeout=60)
    one_clear_line(result, "tail", "CITYWATCH_KAFKA_SECURITY_PROTOCOL")


def test_unreachable_broker_names_the_address(env: dict[str, str], tmp_path: Path) -> None:
    config = str(role_config(tmp_path / "district.yaml"))
    gone = {**env, "CITYWATCH_KAFKA": f"127.0.0.1:{free_port()}"}
    for role, args in {
        "worker": ["worker", "--config", config, "--no-web"],
        "patrol": ["patrol", "--config", config, "--unit", "unit-a", "--auto", "--duration", "3"],
        "replay": ["replay", os.devnull, "--fast"],
    }.items():
        result = citywatch(gone, *args, timeout=60, cwd=tmp_path)
        one_clear_line(result, role, "cannot connect to Kafka at 127.0.0.1:", "CITYWATCH_KAFKA")
