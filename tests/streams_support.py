"""Scripted detection scenarios, the worker as a subprocess, and a collector of its outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, get_args

from kafka import KafkaConsumer, KafkaProducer

from streams.contract.records import IncidentState
from streams.dev.bench.streams_records import detection_record
from streams.kafka_io import assign_all
from streams.logic.lifecycle import alert_version

# every state of the closed loop, in order (docs/contract.md, alerts)
CLOSED_LOOP = [s for s in get_args(IncidentState) if s not in ("cleared", "reopened", "overdue")]


def detection(
    camera_id: str, seq: int, t: float, objects: Iterable[tuple[str, str | None]]
) -> dict[str, Any]:
    """A detection record at time ``t`` with (label, zone or None) objects."""
    boxes = [
        {
            "track_id": i + 1,
            "label": label,
            "score": 0.8,
            "box": [0.1, 0.6, 0.3, 0.9],
            "zones": [zone] if zone else [],
        }
        for i, (label, zone) in enumerate(objects)
    ]
    return detection_record(camera_id, seq, t, boxes)


def presence(
    camera_id: str, zone: str, label: str, start: float, seconds: float, *, seq0: int = 0, step: float = 0.5
) -> Iterator[dict[str, Any]]:
    """Frames every ``step`` s for ``seconds`` s with ``label`` in ``zone``."""
    n = round(seconds / step)
    for i in range(n):
        yield detection(camera_id, seq0 + i, start + i * step, [(label, zone), ("person", None)])


def absence(
    camera_id: str, start: float, seconds: float, *, seq0: int = 0, step: float = 0.5
) -> Iterator[dict[str, Any]]:
    n = round(seconds / step)
    for i in range(n):
        yield detection(camera_id, seq0 + i, start + i * step, [("person", None)])


def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, dict[str, Any] | bytes]]) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    for key, value in records:
        raw = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
        p.send(topic, key=key.encode(), value=raw)
    p.flush()
    p.close()


def citywatch(
    env: dict[str, str], *args: str, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``citywatch ARGS`` run to its end (no stdin), its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def start_worker(
    config: Path,
    env: dict[str, str],
    datadir: Path,
    log: Path,
    *,
    web_port: int | None = None,
    tokens: str | None = None,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """``citywatch worker`` as a subprocess (its own process group), without web unless ``web_port``;
    ``extra``: more options of the worker."""
    web = ["--web-port", str(web_port)] if web_port is not None else ["--no-web"]
    run_env = {**env, "CITYWATCH_TOKENS": tokens} if tokens is not None else env
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "--log-level",
                "INFO",
                "worker",
                "--config",
                str(config),
                *web,
                "--datadir",
                str(datadir),
                *extra,
            ],
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Collector:
    """Reads topics from the beginning in a background thread; ``values(topic)`` so far.

    Each value is the record's JSON (``{"_raw": bytes}`` when it is not JSON) with the
    record's key as ``_key`` and its timestamp (ms) as ``_ts``; ``headers(topic)``: the
    records' headers, in the same order.
    """

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self._headers: dict[str, list[dict[str, bytes]]] = {t: [] for t in topics}
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        assign_all(self._consumer, topics, from_beginning=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                for r in records:
                    try:
                        value = json.loads(r.value)
                    except (ValueError, TypeError):
                        value = {"_raw": r.value}
                    value["_key"] = r.key.decode() if r.key else None
                    value["_ts"] = r.timestamp
                    with self._lock:
                        self._seen[r.topic].append(value)
                        self._headers[r.topic].append(dict(r.headers or ()))

    def values(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._seen[topic])

    def headers(self, topic: str) -> list[dict[str, bytes]]:
        with self._lock:
            return list(self._headers[topic])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def alert_states(alerts: list[dict[str, Any]], incident_id: str) -> list[str]:
    """The sequence of states published for one incident (consecutive repeats kept once)."""
    out: list[str] = []
    for a in sorted((a for a in alerts if a["incident_id"] == incident_id), key=alert_version):
        if not out or out[-1] != a["state"]:
            out.append(a["state"])
    return out


class Feed:
    """One camera's detections with times that only move forward (as a real camera's do)."""

    def __init__(self, bootstrap: str, topic: str, camera_id: str, step: float = 0.5) -> None:
        self.bootstrap, self.topic, self.camera_id, self.step = bootstrap, topic, camera_id, step
        self.t = 0.0
        self.seq = 0

    def _start(self) -> float:
        return max(time.time(), self.t + self.step)

    def _send(self, records: list[dict[str, Any]]) -> None:
        produce(self.bootstrap, self.topic, [(self.camera_id, r) for r in records])
        self.t = from_iso_(records[-1]["captured_at"])
        self.seq += len(records)

    def present(self, zone: str, label: str, seconds: float) -> float:
        """Frames with ``label`` in ``zone``; returns the time of the first frame."""
        start = self._start()
        self._send(list(presence(self.camera_id, zone, label, start, seconds, seq0=self.seq, step=self.step)))
        return start

    def absent(self, seconds: float) -> float:
        start = self._start()
        self._send(list(absence(self.camera_id, start, seconds, seq0=self.seq, step=self.step)))
        return start


def from_iso_(text: str) -> float:
    from streams.contract.timeutil import from_iso

    return from_iso(text)
